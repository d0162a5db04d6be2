package stream_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
)

// TestASubscriptionAsOldAsMaxLifetimeEndsAndResumes: a subscription that
// reaches its lifetime ends with a final telling the client to come back
// (SUB: 503 with Retry-After; SSE: a retry), and the client resumes from its
// last event: events published throughout arrive once each, in order. Over
// HTTP/2 (where the connection's fan-out serves the subscription) and
// HTTP/1.1; without a lifetime nothing ends (negative control).
func TestASubscriptionAsOldAsMaxLifetimeEndsAndResumes(t *testing.T) {
	for _, tt := range []struct {
		name     string
		mode     client.Mode
		http     string
		lifetime time.Duration
		ends     bool
	}{
		{"SUB over HTTP/2", client.ModeSUB, client.HTTP2, 300 * time.Millisecond, true},
		{"SSE over HTTP/1.1", client.ModeSSE, client.HTTP11, 300 * time.Millisecond, true},
		{"no lifetime", client.ModeSUB, client.HTTP2, -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := startTestOrigin(t, func(s *stream.Streamer) { s.MaxLifetime = tt.lifetime })
			c := testkit.NewClient(t, client.Options{Mode: tt.mode, HTTP: tt.http, CAFile: o.CA.CAFile,
				Reconnect: client.Reconnect{InitialDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond}})
			f := testkit.Follow(t, c, o.url(false), "", nil)
			f.WaitOpen(t)
			first := o.Log.Last() + 1
			const events = 40
			for range events {
				o.publish(1)
				time.Sleep(25 * time.Millisecond) // the events span about three lifetimes
			}
			ids := f.WaitCount(t, events)
			for i, id := range ids[:events] {
				if id != strconv.FormatUint(first+uint64(i), 10) {
					t.Fatalf("event %d has id %s, want %d", i, id, first+uint64(i))
				}
			}
			if ended := o.closes.Count("", stream.CloseLifetime) > 0; ended != tt.ends {
				t.Errorf("a subscription ended for its lifetime: %v, want %v (%s)", ended, tt.ends, o.closes)
			}
		})
	}
}
