package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/launch"
)

// TestHealthAndReadiness: on the metrics address, /healthz answers while the
// process serves, and /readyz while it can serve: for the edge, while its
// upstream answers. Killing the origin makes the edge not ready, with the
// reason; it is ready again once an origin is back on the same address.
func TestHealthAndReadiness(t *testing.T) {
	data := t.TempDir()
	originArgs := []string{"--listen", "127.0.0.1:0", "--data", data, "--metrics", "127.0.0.1:0"}
	o := startProcess(t, "origin", launch.Options{}, originArgs...)
	e := startEdge(t, o, launch.Options{}, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--metrics", "127.0.0.1:0")
	get := func(p *launch.Process, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + p.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []*launch.Process{o, e} {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := get(p, path); code != http.StatusOK {
				t.Errorf("%s %s: %d %q", p.Role, path, code, body)
			}
		}
	}
	addr := o.TLSAddr
	o.Kill()
	code, body := get(e, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "upstream") {
		t.Errorf("edge /readyz with its origin killed: %d %q, want 503 naming the upstream", code, body)
	}
	if code, _ := get(e, "/healthz"); code != http.StatusOK {
		t.Errorf("edge /healthz with its origin killed: %d, want 200: the edge itself is fine", code)
	}
	originArgs[1] = addr
	o = startProcess(t, "origin", launch.Options{}, originArgs...)
	if code, body := get(e, "/readyz"); code != http.StatusOK {
		t.Errorf("edge /readyz with its origin back: %d %q", code, body)
	}
}
