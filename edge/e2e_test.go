package edge_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestThousandSubscribersThroughOneEdgeCostTheOriginOneSubscription runs a
// real origin and a real edge as processes, subscribes 1,000 clients
// through the edge on every protocol and format, and reads the origin's own
// metrics: it serves exactly one subscription. Every subscriber receives
// every event, in order.
func TestThousandSubscribersThroughOneEdgeCostTheOriginOneSubscription(t *testing.T) {
	const perKind, events = 167, 20 // 6 kinds: 1,002 subscribers
	subscribers := perKind
	if testing.Short() {
		subscribers = 20
	}
	o, err := launch.Start(t.Context(), "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--metrics", "127.0.0.1:0",
		"--user", "alice:alice-token", "--max-per-client", "-1")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	e, err := launch.Start(t.Context(), "edge", launch.Options{},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--metrics", "127.0.0.1:0", "--max-per-client", "-1",
		"--upstream", o.URL(""), "--upstream-cacert", o.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	kinds := []client.Options{
		{Mode: client.ModeSUB, HTTP: client.HTTP11}, {Mode: client.ModeSUB, HTTP: client.HTTP2}, {Mode: client.ModeSUB, HTTP: client.HTTP3},
		{Mode: client.ModeSSE, HTTP: client.HTTP11}, {Mode: client.ModeSSE, HTTP: client.HTTP2}, {Mode: client.ModeSSE, HTTP: client.HTTP3},
	}
	var (
		mu       sync.Mutex
		received = map[int][]string{}
		opened   = make(chan struct{}, subscribers*len(kinds))
		all      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	for _, opts := range kinds {
		opts.CAFile = e.CAFile
		c, err := client.New(opts) // HTTP/2 and HTTP/3 subscribers share one connection
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range subscribers {
			id := n
			n++
			all.Add(1)
			go func() {
				defer all.Done()
				c.Run(ctx, &client.Subscription{
					URL:    e.URL("/users/alice/outbox"),
					OnOpen: func(client.Open) { opened <- struct{}{} },
					OnEvent: func(ev client.Event) {
						mu.Lock()
						received[id] = append(received[id], ev.ID)
						mu.Unlock()
					},
				})
			}()
		}
	}
	for range n {
		select {
		case <-opened:
		case <-time.After(60 * time.Second):
			t.Fatal("subscribers did not all open")
		}
	}
	if active, err := o.Sum("subpub_origin_subscriptions_active"); err != nil || active != 1 {
		t.Fatalf("the origin serves %v subscriptions (%v) for %d subscribers at the edge, want 1", active, err, n)
	}
	// An attempt a loaded client gave up on (and retried) is counted by
	// the edge until it notices that client gone: the count settles.
	testkit.WaitUntil(t, fmt.Sprintf("the edge serves exactly the %d subscriptions", n), func() bool {
		active, _ := e.Sum("subpub_edge_subscriptions_active")
		return int(active) == n
	})

	pub := testkit.NewClient(t, client.Options{CAFile: o.CAFile})
	for i := range events {
		note := fmt.Sprintf(`{"type":"Note","content":"n%d","to":["https://www.w3.org/ns/activitystreams#Public"]}`, i)
		if _, err := pub.Publish(t.Context(), o.URL("/users/alice/outbox"), "alice-token", []byte(note)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		complete := 0
		for _, ids := range received {
			if len(ids) >= events {
				complete++
			}
		}
		mu.Unlock()
		if complete == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscribers have all %d events", complete, n, events)
		}
		time.Sleep(20 * time.Millisecond) // polling many subscribers' counts
	}
	mu.Lock()
	defer mu.Unlock()
	want := received[0]
	for id, ids := range received {
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("subscriber %d got %v, subscriber 0 got %v", id, ids, want)
		}
	}
	for i := 1; i < len(want); i++ {
		a, _ := strconv.Atoi(want[i-1])
		b, _ := strconv.Atoi(want[i])
		if b <= a {
			t.Fatalf("events out of order: %v", want)
		}
	}
	cancel()
	all.Wait()
}
