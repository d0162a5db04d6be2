package client_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// BenchmarkConsume measures how many events per second one subscriber can
// take in, per mode and HTTP version: a burst of b.N events of about 300
// bytes (the size of an ActivityPub Add{Create{Note}}), published into an
// in-process origin's log at once, and timed until the last one arrives.
// The origin shares the machine, so the figure is a lower bound of the
// client's own speed.
//
//	go test -run '^$' -bench Consume -benchtime 50000x ./client/
func BenchmarkConsume(b *testing.B) {
	o := testkit.NewOrigin(b, nil)
	payload := []byte(`{"@context":"https://www.w3.org/ns/activitystreams","type":"Add","object":{"type":"Create","object":{"type":"Note","content":"` +
		strings.Repeat("x", 120) + `"}},"target":"https://origin.example/users/alice/outbox"}`)

	for _, way := range testkit.EveryWay {
		b.Run(strings.ReplaceAll(way.Name, " ", "_"), func(b *testing.B) {
			opts := way.Options
			opts.CAFile = o.CA.CAFile
			c := testkit.NewClient(b, opts)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var received atomic.Int64
			all := make(chan struct{})
			opened := make(chan struct{}, 1)
			want := int64(b.N)
			go c.Run(ctx, &client.Subscription{
				URL:    o.StreamURL("/public/"+way.Name, false),
				OnOpen: func(client.Open) { opened <- struct{}{} },
				OnEvent: func(client.Event) {
					if received.Add(1) == want {
						close(all)
					}
				},
			})
			<-opened
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				o.PublishEvent("/public/"+way.Name, wire.Event{Type: "Add", Data: payload})
			}
			<-all
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
