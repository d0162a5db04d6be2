package testkit

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// H2SpecCases is how many test cases h2spec v2.2.1 has.
const H2SpecCases = 145

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// H2SpecResult is what a run of h2spec found.
type H2SpecResult struct {
	Total, Passed int
	// Failed names the cases that failed ("http2/5.1/8"), in h2spec's order.
	Failed []string
	// Out is h2spec's report, for a failure message.
	Out []byte
}

// H2Spec runs h2spec (github.com/summerwind/h2spec), the conformance suite
// for HTTP/2 servers, against the server at addr (over TLS if tls, else h2c
// with prior knowledge), logs its summary and returns what it found. It
// skips the test when h2spec is not on PATH, or fails it where the interop
// tools are required (SUBPUB_REQUIRE_INTEROP=1).
func H2Spec(t testing.TB, name string, addr net.Addr, tls bool) H2SpecResult {
	t.Helper()
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		ToolMissing(t, "h2spec is not on PATH (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible)")
	}
	_, port, _ := net.SplitHostPort(addr.String())
	// A case waits 5 s at most (2 by default): the race detector and a
	// shared machine slow the server down.
	args := []string{"-h", "127.0.0.1", "-p", port, "-o", "5"}
	if tls {
		args = append(args, "-t", "-k")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	m := h2specSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec %v: no summary in its output:\n%s", args, out)
	}
	t.Logf("h2spec against %s: %s", name, m[0])
	r := H2SpecResult{Failed: H2SpecFailures(out), Out: out}
	r.Total, _ = strconv.Atoi(string(m[1]))
	r.Passed, _ = strconv.Atoi(string(m[2]))
	return r
}

// h2specSection and h2specFailure are the lines of h2spec's failure list
// that name a section ("5.1. Stream States") and a failed case ("× 8:
// closed: ...").
var (
	h2specSection = regexp.MustCompile(`^\s*(\d+(?:\.\d+)*)\. \S`)
	h2specFailure = regexp.MustCompile(`^\s*× (\d+): `)
)

// h2specSpecs are the headings of h2spec's three specs, and the names
// h2spec gives them on its command line.
var h2specSpecs = map[string]string{
	"Generic tests for HTTP/2 server":                "generic",
	"Hypertext Transfer Protocol Version 2 (HTTP/2)": "http2",
	"HPACK: Header Compression for HTTP/2":           "hpack",
}

// H2SpecFailures reads the cases that failed from h2spec's report, each
// named as h2spec's command line names it ("http2/5.1/8",
// "http2/8.1.2.1/3"): the report's "Failures:" list gives each under the
// headings of its spec and sections.
func H2SpecFailures(out []byte) []string {
	_, list, found := strings.Cut(string(out), "\nFailures:")
	if !found {
		return nil
	}
	var failed []string
	spec, section := "", ""
	for _, line := range strings.Split(list, "\n") {
		if name, ok := h2specSpecs[strings.TrimSpace(line)]; ok {
			spec, section = name, ""
		} else if m := h2specFailure.FindStringSubmatch(line); m != nil {
			failed = append(failed, spec+"/"+section+"/"+m[1])
		} else if m := h2specSection.FindStringSubmatch(line); m != nil {
			section = m[1]
		}
	}
	return failed
}
