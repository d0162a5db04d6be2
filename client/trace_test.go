package client_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
)

// TestTraceShowsEveryMessage checks that a Trace is told of the request
// and of every response, interim ones included, every way.
func TestTraceShowsEveryMessage(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	for i, way := range testkit.EveryWay {
		t.Run(way.Name, func(t *testing.T) {
			path := fmt.Sprintf("/public/trace%d", i)
			opts := way.Options
			opts.CAFile = o.CA.CAFile
			c := testkit.NewClient(t, opts)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var mu sync.Mutex
			var log []string
			var request *http.Request
			s := &client.Subscription{
				URL: o.URL().String() + path,
				OnOpen: func(client.Open) {
					go o.Publish(path, `"x"`)
				},
				OnEvent: func(client.Event) { cancel() },
				Trace: &client.Trace{
					Request: func(proto string, req *http.Request) {
						mu.Lock()
						defer mu.Unlock()
						request = req
						log = append(log, fmt.Sprintf("> %s %s", proto, req.Method))
					},
					Response: func(proto string, status int, h http.Header) {
						mu.Lock()
						defer mu.Unlock()
						log = append(log, fmt.Sprintf("< %s %d", proto, status))
					},
				},
			}
			c.Run(ctx, s)
			mu.Lock()
			defer mu.Unlock()
			proto := map[string]string{client.HTTP11: "h1", client.HTTP2: "h2", client.HTTP3: "h3"}[opts.HTTP]
			want := []string{"> " + proto + " SUB", "< " + proto + " 106", "< " + proto + " 105"}
			if opts.Mode == client.ModeSSE {
				want = []string{"> " + proto + " GET", "< " + proto + " 200"}
			}
			// Keepalives (106) may follow the first.
			got := slices.Compact(slices.Clone(log))
			if len(got) > len(want) {
				got = got[:len(want)]
			}
			if !slices.Equal(got, want) {
				t.Errorf("traced %q, want %q first", log, want)
			}
			if request == nil || request.Header.Get("User-Agent") != "subpub" {
				t.Errorf("request %v", request)
			}
		})
	}
}
