package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestNoCredentialInTheLogs runs an origin and an edge at debug level and
// uses a token every way a client can, over HTTP/1.1, HTTP/2 and HTTP/3,
// directly and through the edge: in ?access_token= (on the proxy endpoint,
// for subscriptions and plain GETs, and refused) and in Authorization. No
// line either server logs holds the token.
func TestNoCredentialInTheLogs(t *testing.T) {
	data := t.TempDir()
	var originLog, edgeLog testkit.LogBuffer
	o := startProcess(t, "origin", launch.Options{Stderr: &originLog},
		"--listen", "127.0.0.1:0", "--data", data, "--log-level", "debug", "--user", "alice:alice-token")
	e := startEdge(t, o, launch.Options{Stderr: &edgeLog}, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "debug")
	code, out, errOut := runCLI(t.Context(), "", "token", "add", "--data", data, "--user", "alice")
	secret := strings.TrimSpace(out)
	if code != 0 || secret == "" {
		t.Fatalf("token add: exit %d, %s", code, errOut)
	}
	wrong := secret[:len(secret)-1] + "0"
	if wrong == secret {
		wrong = secret[:len(secret)-1] + "1"
	}

	for _, server := range []*launch.Process{o, e} {
		for _, version := range []string{client.HTTP11, client.HTTP2, client.HTTP3} {
			inbox := o.BaseURL + "/users/alice/inbox"
			proxy := server.URL("/proxy/events?id=" + url.QueryEscape(inbox) + "&access_token=" + secret)
			for _, mode := range []client.Mode{client.ModeSSE, client.ModeSUB} {
				c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: version, CAFile: server.CAFile})
				f := testkit.Follow(t, c, proxy, "", nil)
				f.WaitOpen(t)
				f.Cancel()
				f.WaitDone(t)
				f = testkit.Follow(t, c, server.URL("/users/alice/inbox"), "", http.Header{"Authorization": {"Bearer " + secret}})
				f.WaitOpen(t)
				f.Cancel()
				f.WaitDone(t)
			}
			c := testkit.NewClient(t, client.Options{HTTP: version, CAFile: server.CAFile})
			for _, target := range []string{
				server.URL("/users/alice/inbox?access_token=" + secret),
				server.URL("/users/alice/inbox?access_token=" + wrong),
				server.URL("/events/999999?access_token=" + secret),
			} {
				req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
	}
	o.Stop()
	e.Stop()
	for name, log := range map[string]string{"origin": originLog.String(), "edge": edgeLog.String()} {
		for _, token := range []string{secret, wrong} {
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, token) {
					t.Errorf("the %s logged a token: %s", name, line)
				}
			}
		}
	}
	// The lines that used to hold it are there, masked: the origin's own
	// and quic-go's for HTTP/3.
	if log := originLog.String(); !strings.Contains(log, "msg=\"handling request\"") || !strings.Contains(log, "access_token=********") {
		t.Errorf("the origin's log has no request line with a masked token:\n%s", log)
	}
}
