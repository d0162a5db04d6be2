package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subpub/subpub/conformance"
	"github.com/subpub/subpub/internal/launch"
)

func TestConformanceAgainstTheOrigin(t *testing.T) {
	p := startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--keepalive", "1s", "--user", "alice:alice-token")
	report := filepath.Join(t.TempDir(), "report.json")
	code, out, errOut := runCLI(t.Context(), "", "conformance", "--cacert", p.CAFile, "--keepalive", "1s", "--timeout", "5s",
		"--publish-outbox", p.URL("/users/alice/outbox"), "--token", "alice-token", "--json", report, p.URL("/users/alice/outbox"))
	if code != 0 || !strings.Contains(out, "✔ first-106/2 [MUST]") || !strings.Contains(out, ", 0 failed (0 MUST)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r conformance.Report
	if err := json.Unmarshal(b, &r); err != nil || r.Role != "origin" || len(r.Results) != len(conformance.ServerChecks()) || r.Summary.MustFailures != 0 {
		t.Errorf("report %+v: %v", r.Summary, err)
	}
}

func TestConformanceExitsNonZeroOnAMUSTFailure(t *testing.T) {
	// A stream that does not exist: every subscription check fails.
	p := startOrigin(t)
	code, out, errOut := runCLI(t.Context(), "", "conformance", "--timeout", "2s", "--keepalive", "1s",
		"--publish-cmd", "true", p.PlainURL("/users/nobody/outbox"))
	if code != 1 || !strings.Contains(errOut, "MUST requirement(s) failed") || !strings.Contains(out, "× sub-semantics/1") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestConformanceUsage: arguments the suite cannot run with exit 2 with
// a usage error that names what is wrong. --http is read before the URL is
// judged, however the version is spelt ("h3" is HTTP/3, which needs
// https).
func TestConformanceUsage(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"conformance"}, "conformance takes one URL"},
		{[]string{"conformance", "http://127.0.0.1:1/x", "http://127.0.0.1:1/y"}, `unexpected argument "http://127.0.0.1:1/y"`},
		{[]string{"conformance", "ftp://127.0.0.1:1/x"}, "is not an http or https URL"},
		{[]string{"conformance", "--http", "h3", "http://127.0.0.1:1/x"}, "--http 3 needs an https URL"},
		{[]string{"conformance", "http://127.0.0.1:1/x"}, "give one way to make the server publish"},
		{[]string{"conformance", "--publish-cmd", "true", "--publish-url", "http://127.0.0.1:1/p", "http://127.0.0.1:1/x"}, "give one way to make the server publish"},
		{[]string{"conformance", "--publish-outbox", "http://127.0.0.1:1/o", "http://127.0.0.1:1/x"}, "--publish-outbox needs --token"},
		{[]string{"conformance", "--intermediary", "--publish-cmd", "true", "http://127.0.0.1:1"}, "no --publish-* flag"},
	} {
		if code, _, errOut := runCLI(t.Context(), "", tt.args...); code != 2 || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%q: exit %d, %s; want 2 and %q", tt.args, code, errOut, tt.wantErr)
		}
	}
}
