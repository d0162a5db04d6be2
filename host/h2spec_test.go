package host_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/host"
)

// h2specCases is how many test cases h2spec v2.2.1 has. host.Server, on
// which the origin and the edge run, passes all of them over TLS, and all
// but one over its cleartext port: that port serves HTTP/1.1 too, so what
// does not start with the HTTP/2 preface is read as HTTP/1.1 and answered
// 400, where h2spec's case 3.5/2 wants the connection closed. With
// net/http's HTTP/2 server it passed 141 over TLS (an oversized HEADERS
// frame, two SETTINGS_INITIAL_WINDOW_SIZE cases, a connection-specific
// field and TE other than trailers were answered wrongly).
const (
	h2specCases         = 145
	h2specFailuresPlain = 1
)

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// TestH2SpecAgainstTheServer runs h2spec (github.com/summerwind/h2spec), a
// conformance suite for HTTP/2 servers, against a Server over TLS and h2c,
// and prints its counts. Its handler reads each request to the end before
// answering: h2spec's stream-state cases send frames after the request's
// first HEADERS and read the first frame that comes back, so a handler that
// answers at once (as the origin's 404 does) makes them fail or pass by the
// race between its response and the cases' frames.
func TestH2SpecAgainstTheServer(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		const why = "h2spec is not on PATH (go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible)"
		if os.Getenv("SUBPUB_REQUIRE_INTEROP") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := &host.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "a response long enough for h2spec's flow-control cases\n")
		}),
		Addr: "127.0.0.1:0", PlainAddr: "127.0.0.1:0", TLSConfig: ca.TLSConfig(),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		name        string
		addr        net.Addr
		tls         bool
		maxFailures int
	}{
		{"TLS", srv.TLSAddr(), true, 0},
		{"h2c", srv.PlainListenAddr(), false, h2specFailuresPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, port, _ := net.SplitHostPort(tc.addr.String())
			// A case waits 5 s at most (2 by default): the race detector
			// and a shared machine slow the server down.
			args := []string{"-h", "127.0.0.1", "-p", port, "-o", "5"}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			m := h2specSummary.FindSubmatch(out)
			if m == nil {
				t.Fatalf("h2spec %v: no summary in its output:\n%s", args, out)
			}
			t.Logf("h2spec over %s: %s", tc.name, m[0])
			total, _ := strconv.Atoi(string(m[1]))
			passed, _ := strconv.Atoi(string(m[2]))
			if total != h2specCases || passed < total-tc.maxFailures {
				t.Errorf("h2spec passed %d of %d, want at least %d of %d:\n%s", passed, total, h2specCases-tc.maxFailures, h2specCases, out)
			}
		})
	}
}
