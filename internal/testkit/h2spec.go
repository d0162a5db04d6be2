package testkit

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// H2SpecCases is how many test cases h2spec v2.2.1 has.
const H2SpecCases = 145

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// H2Spec runs h2spec (github.com/summerwind/h2spec), the conformance suite
// for HTTP/2 servers, against the server at addr (over TLS if tls, else h2c
// with prior knowledge), logs its summary and returns how many cases ran
// and passed; out is its report, for a failure message. It skips the test
// when h2spec is not on PATH, or fails it where the interop tools are
// required (SUBPUB_REQUIRE_INTEROP=1).
func H2Spec(t testing.TB, name string, addr net.Addr, tls bool) (total, passed int, out []byte) {
	t.Helper()
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		const why = "h2spec is not on PATH (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible)"
		if os.Getenv("SUBPUB_REQUIRE_INTEROP") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
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
	out, _ = exec.CommandContext(ctx, bin, args...).CombinedOutput()
	m := h2specSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec %v: no summary in its output:\n%s", args, out)
	}
	t.Logf("h2spec against %s: %s", name, m[0])
	total, _ = strconv.Atoi(string(m[1]))
	passed, _ = strconv.Atoi(string(m[2]))
	return total, passed, out
}
