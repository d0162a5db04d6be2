package stream_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// On HTTP/1.1 the acknowledging 106 carries Enable-SUB, named in its
// Connection, exactly when the request negotiated so; a request that sent
// the field without naming it in Connection (as an intermediary that does
// not implement SUB but forwards unknown fields sends it) gets no mark, nor
// does one without it. Keepalives never carry it.
func TestTheHTTP11AcknowledgementEchoesOnlyANegotiatingRequest(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	for _, tc := range []struct {
		name   string
		fields string
		marked bool
	}{
		{"negotiated", "Enable-SUB: ?1\r\nConnection: Enable-SUB\r\n", true},
		{"negotiated among other options", "Enable-SUB: ?1\r\nConnection: keep-alive, enable-sub\r\n", true},
		{"field without Connection", "Enable-SUB: ?1\r\n", false},
		{"Connection without the field", "Connection: Enable-SUB\r\n", false},
		{"false", "Enable-SUB: ?0\r\nConnection: Enable-SUB\r\n", false},
		{"not asked", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.DialRaw(t, o.PlainAddr())
			c.Send(t, "SUB /public/echo HTTP/1.1\r\nHost: test\r\n"+tc.fields+"\r\n")
			status, fields := c.ResponseHead(t)
			if !strings.HasPrefix(status, "HTTP/1.1 106 ") {
				t.Fatalf("got %q, want the 106", status)
			}
			h := header(fields)
			if got := wire.HopEnablesSUB(h); got != tc.marked {
				t.Errorf("106 %v: marked %v, want %v", fields, got, tc.marked)
			}
			if !tc.marked && (h.Get(wire.FieldEnableSUB) != "" || h.Get("Connection") != "") {
				t.Errorf("an unmarked 106 carries %v", fields)
			}
		})
	}
}

// header parses "Name: value" lines.
func header(lines []string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		h.Add(name, strings.TrimSpace(value))
	}
	return h
}

// On every version the acknowledgement is the 106 that carries Enable-SUB
// (the client negotiates on HTTP/1.1 itself), and a keepalive is a 106
// without it.
func TestTheAcknowledgementIsTheOnly106MarkedOnEveryVersion(t *testing.T) {
	o := testkit.NewOrigin(t, func(s *stream.Streamer) { s.KeepAlive = 20 * time.Millisecond })
	for _, w := range testkit.EveryWay[:3] { // SUB over each version
		t.Run(w.Name, func(t *testing.T) {
			var statuses []string
			var mu sync.Mutex
			opts := w.Options
			opts.CAFile = o.CA.CAFile
			c := testkit.NewClient(t, opts)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- c.Run(ctx, &client.Subscription{
					URL:     o.StreamURL("/public/marks", false),
					OnEvent: func(client.Event) {},
					Trace: &client.Trace{Response: func(_ string, status int, h http.Header) {
						mu.Lock()
						defer mu.Unlock()
						mark := "-"
						if wire.EnablesSUB(h) {
							mark = "marked"
						}
						statuses = append(statuses, strconv.Itoa(status)+" "+mark)
						if len(statuses) == 3 {
							cancel()
						}
					}},
				})
			}()
			<-done
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"106 marked", "106 -", "106 -"}; !slices.Equal(statuses, want) {
				t.Errorf("got %v, want %v", statuses, want)
			}
		})
	}
}
