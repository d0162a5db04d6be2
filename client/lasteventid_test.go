package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// scriptedSSE serves one scripted event stream per request, in order, then
// 204 (the stream is over, so Run returns), and records the Last-Event-ID
// of every request ("-" for none).
type scriptedSSE struct {
	streams []string

	mu       sync.Mutex
	requests int
	sent     []string
}

func (s *scriptedSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.requests
	s.requests++
	if v := r.Header.Values("Last-Event-ID"); v != nil {
		s.sent = append(s.sent, v[0])
	} else {
		s.sent = append(s.sent, "-")
	}
	s.mu.Unlock()
	if n >= len(s.streams) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", wire.ContentTypeSSE)
	w.Write([]byte(s.streams[n]))
}

// TestSSEResumesFromTheStreamsLastEventID checks that an SSE subscription
// follows the WHATWG last-event-ID buffer: each event carries it, and a
// reconnection sends it.
func TestSSEResumesFromTheStreamsLastEventID(t *testing.T) {
	tests := []struct {
		name    string
		resume  string   // Subscription.LastEventID to start with
		streams []string // one per connection
		carried []string // Event.LastEventID of each event
		own     []string // Event.ID of each event
		sent    []string // Last-Event-ID of each request, "-" for none
	}{
		{
			name:    "an event without an id after one with an id carries it, and resumes from it",
			streams: []string{"id: 5\ndata: a\n\ndata: b\n\n"},
			carried: []string{"5", "5"},
			own:     []string{"5", ""},
			sent:    []string{"-", "5"},
		},
		{
			name:    "an id-only block sets where to resume, and what the next event carries",
			streams: []string{"id: 7\n\n", "data: a\n\n"},
			carried: []string{"7"},
			own:     []string{""},
			sent:    []string{"-", "7", "7"},
		},
		{
			name:    "an id containing NUL is ignored",
			streams: []string{"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"},
			carried: []string{"1", "1"},
			own:     []string{"1", ""},
			sent:    []string{"-", "1"},
		},
		{
			name:    "an empty id field clears it: the reconnection sends none",
			resume:  "0",
			streams: []string{"id: 1\ndata: a\n\nid\ndata: b\n\n"},
			carried: []string{"1", ""},
			own:     []string{"1", ""},
			sent:    []string{"0", "-"},
		},
		{
			name:    "the id of an event cut off by the end of the stream is not resumed from",
			streams: []string{"id: 1\ndata: a\n\nid: 2\ndata: cut"},
			carried: []string{"1"},
			own:     []string{"1"},
			sent:    []string{"-", "1"},
		},
		{
			name:    "a resumed stream's events without ids carry the id resumed after",
			resume:  "41",
			streams: []string{"data: a\n\n", "id: 42\ndata: b\n\n"},
			carried: []string{"41", "42"},
			own:     []string{"", "42"},
			sent:    []string{"41", "41", "42"},
		},
		{
			name:    "negative control: ids that every event has",
			streams: []string{"id: 1\ndata: a\n\nid: 2\ndata: b\n\n"},
			carried: []string{"1", "2"},
			own:     []string{"1", "2"},
			sent:    []string{"-", "2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &scriptedSSE{streams: tt.streams}
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11,
				Reconnect: client.Reconnect{InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
			var carried, own []string
			s := &client.Subscription{URL: ts.URL + "/stream", LastEventID: tt.resume, OnEvent: func(e client.Event) {
				carried = append(carried, e.LastEventID)
				own = append(own, e.ID)
			}}
			if err := c.Run(t.Context(), s); !errors.Is(err, wire.ErrStreamEnded) {
				t.Fatalf("Run = %v, want the end of the stream", err)
			}
			if !slices.Equal(carried, tt.carried) || !slices.Equal(own, tt.own) {
				t.Errorf("events carried %q with own ids %q; want %q, %q", carried, own, tt.carried, tt.own)
			}
			if !slices.Equal(srv.sent, tt.sent) {
				t.Errorf("requests sent Last-Event-ID %q, want %q", srv.sent, tt.sent)
			}
		})
	}
}
