package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/subpub/subpub/client"
)

// startClients runs count subscriptions through one client.Client, so that
// over HTTP/2 and HTTP/3 they share its connection. The first subscription
// is established alone, so that the others find its connection rather than
// each dialling one.
func (s *Subscribers) startClients(ctx context.Context, count int, rec *recorder) error {
	c, err := newBenchClient(s.target)
	if err != nil {
		return err
	}
	s.done.Go(func() {
		<-ctx.Done()
		c.Close()
	})
	run := func() {
		s.done.Go(func() { runClientSubscription(ctx, c, s.target.URL, rec) })
	}
	run()
	if err := waitOpened(ctx, rec, rec.opened.Load()+1, 30*time.Second); err != nil {
		return nil // the caller's overall wait reports it
	}
	for range count - 1 {
		run()
	}
	waitOpened(ctx, rec, int64(count), 30*time.Second)
	return nil
}

func runClientSubscription(ctx context.Context, c *client.Client, url string, rec *recorder) {
	c.Run(ctx, &client.Subscription{
		URL:     url,
		OnOpen:  func(client.Open) { rec.opened.Add(1) },
		OnRetry: func(error, time.Duration) { rec.failures.Add(1) },
		OnEvent: func(e client.Event) {
			if !e.Time.IsZero() {
				rec.record(e.Time.UnixMilli(), e.Received)
			}
		},
	})
}

// newBenchClient is a client for t: its mode and HTTP version, trusting its
// CA, and naming ServerName in TLS when the address is not one the
// certificate names (the lossy link's).
func newBenchClient(t Target) (*client.Client, error) {
	opts := client.Options{
		HTTP:      t.HTTP,
		Reconnect: client.Reconnect{InitialDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second},
	}
	switch t.Mode {
	case "sub":
		opts.Mode = client.ModeSUB
	case "sse":
		opts.Mode = client.ModeSSE
	default:
		return nil, fmt.Errorf("benchmarks: unknown mode %q", t.Mode)
	}
	if t.CAFile != "" {
		pool, err := t.rootCAs()
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool, ServerName: t.ServerName}
	}
	return client.New(opts)
}
