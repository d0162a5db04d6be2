package edge

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// The upstream's refusal names the resource by the upstream's URL; the
// edge's client asked for another.
func TestARelayedRefusalNamesTheURLTheClientAskedFor(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	upstreamURL := o.URL().String() + "/nowhere"
	t.Run("a subscription", func(t *testing.T) {
		for _, target := range []string{e.url("/nowhere"), e.plainURL("/nowhere")} {
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, CAFile: e.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
			err := c.Run(t.Context(), &client.Subscription{URL: target, OnEvent: func(client.Event) {}})
			var se *wire.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusNotFound || se.Detail != "no such stream: "+target {
				t.Errorf("%s: got %v, want a 404 naming it", target, err)
			}
		}
	})
	for _, method := range []string{http.MethodGet, http.MethodPost} { // the cache, the passthrough
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), method, e.plainURL("/nowhere"), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var problem struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil || resp.StatusCode != 404 || problem.Status != 404 || problem.Detail != "no such stream: "+e.plainURL("/nowhere") {
				t.Errorf("%d %+v %v, want a 404 naming %s", resp.StatusCode, problem, err, e.plainURL("/nowhere"))
			}
		})
	}
	t.Run("negative control: the origin names its own URL", func(t *testing.T) {
		c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, CAFile: o.CA.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		err := c.Run(t.Context(), &client.Subscription{URL: upstreamURL, OnEvent: func(client.Event) {}})
		if err == nil || !strings.HasSuffix(err.Error(), "no such stream: "+upstreamURL) {
			t.Errorf("got %v", err)
		}
	})
}

func TestLocalDetail(t *testing.T) {
	e := &Edge{Upstream: mustParse("https://origin.example:8443/base")}
	r, _ := http.NewRequest(http.MethodGet, "http://edge.example/users/a/outbox", nil)
	r.Host = "edge.example"
	for _, tt := range []struct{ detail, want string }{
		{"https://origin.example:8443/base/users/a/outbox does not exist", "http://edge.example/users/a/outbox does not exist"},
		{"https://127.0.0.1:8443/base/users/a/outbox: gone.", "http://edge.example/users/a/outbox: gone."},
		{"see https://origin.example:8443/base/users/a/outbox.", "see http://edge.example/users/a/outbox."},
		{"(https://o/base/users/a/outbox)", "(http://edge.example/users/a/outbox)"},
		// Another resource, a longer path: left alone.
		{"https://origin.example:8443/base/users/a/outbox/page/2 does not exist", "https://origin.example:8443/base/users/a/outbox/page/2 does not exist"},
		{"https://origin.example:8443/base/users/a does not exist", "https://origin.example:8443/base/users/a does not exist"},
		{"no URL here", "no URL here"},
	} {
		if got := e.localDetail(r, tt.detail); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.detail, got, tt.want)
		}
	}
}
