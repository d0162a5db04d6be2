package conformance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// mainRound is what most checks of a server look at: subscriptions over
// every HTTP version the server offers and one by SSE, open while the
// server published smallEvents small events and one large one, and then
// left idle for two keepalive intervals.
type mainRound struct {
	// subs are the SUB subscriptions the server answered, one per HTTP
	// version, refused ones included.
	subs []*recording
	// notOffered says, per HTTP version, why no subscription could be made
	// over it (the server does not speak it).
	notOffered map[string]error
	sse        *recording
	// err says why the round could not be made (no subscription at all,
	// or publishing failed); the checks that need it fail with it.
	err error
	// published is how many events the round made the server publish, the
	// last one large.
	published int
	// publishing is when the round began to publish.
	publishing time.Time
}

// versionNames are the names of the HTTP versions, as the client calls
// them and as the report does.
var versionNames = map[string]string{client.HTTP11: wire.ProtoHTTP1, client.HTTP2: wire.ProtoHTTP2, client.HTTP3: wire.ProtoHTTP3, client.HTTPAuto: "auto"}

func (s *suiteRun) versions() []string {
	if len(s.cfg.Versions) > 0 {
		return s.cfg.Versions
	}
	if s.base.Scheme == "https" {
		return []string{client.HTTP11, client.HTTP2, client.HTTP3}
	}
	return []string{client.HTTP11, client.HTTP2}
}

// offered lists the versions the server answered subscriptions over.
func (m *mainRound) offered() []string {
	var out []string
	for _, r := range m.subs {
		out = append(out, versionNames[r.Version])
	}
	return out
}

// reference is the first SUB subscription that received every event of the
// round: the one whose ids the other checks start from.
func (m *mainRound) reference() (*recording, []client.Event, error) {
	if m.err != nil {
		return nil, nil, m.err
	}
	for _, r := range m.subs {
		if _, events, _, _ := r.snapshot(); len(events) >= m.published {
			return r, events, nil
		}
	}
	return nil, nil, fmt.Errorf("no SUB subscription received the %d events published", m.published)
}

// observe makes the main round.
func (s *suiteRun) observe(ctx context.Context) *mainRound {
	m := &mainRound{notOffered: map[string]error{}}
	timeout := s.cfg.timeout()
	// An event before the subscriptions, so that the stream has one for
	// their acknowledgements to name as where they start (first-106/3).
	if err := s.cfg.Publisher.Publish(ctx, 0, 0); err != nil {
		m.err = err
		return m
	}
	var candidates []*recording
	for _, v := range s.versions() {
		r, err := s.follow(ctx, v, client.ModeSUB, s.cfg.URL, "")
		if err != nil {
			m.err = err
			return m
		}
		candidates = append(candidates, r)
	}
	sse, err := s.follow(ctx, client.HTTPAuto, client.ModeSSE, s.cfg.URL, "")
	if err != nil {
		m.err = err
		return m
	}
	var wg sync.WaitGroup
	for _, r := range append(candidates, sse) {
		wg.Go(func() { r.waitUntil(ctx, timeout, isOpen) })
	}
	wg.Wait()
	for _, r := range candidates {
		_, _, err, opened := r.snapshot()
		switch {
		case opened || client.FailureOf(err) == client.FailureStatus || (err == nil && !r.ended()):
			m.subs = append(m.subs, r)
		default:
			m.notOffered[r.Version] = err
			r.stop()
		}
	}
	if _, _, _, opened := sse.snapshot(); opened {
		m.sse = sse
	} else {
		m.sse = sse // refused: the SSE checks say how
	}
	defer func() {
		for _, r := range append(m.subs, sse) {
			r.stop()
		}
	}()
	if len(m.subs) == 0 {
		m.err = fmt.Errorf("no SUB subscription could be made over any HTTP version: %v", m.notOffered)
		return m
	}

	m.publishing = time.Now()
	for seq := 1; seq <= smallEvents+1; seq++ {
		size := 0
		if seq > smallEvents {
			size = largePayload
		}
		if err := s.cfg.Publisher.Publish(ctx, seq, size); err != nil {
			m.err = err
			return m
		}
		m.published = seq
	}
	for _, r := range append(m.subs, sse) {
		wg.Go(func() { r.waitUntil(ctx, timeout, hasEvents(m.published)) })
	}
	wg.Wait()

	// Idle: two keepalive intervals and their tolerance, unless every
	// subscription has had two keepalives after its last event sooner.
	idle := 2 * (s.cfg.keepAlive() + s.cfg.keepAliveTolerance())
	for _, r := range m.subs {
		wg.Go(func() { r.waitUntil(ctx, idle, keepalivesAfterLastEvent(2)) })
	}
	wg.Wait()
	return m
}

// keepalivesAfterLastEvent is a condition: n 106 responses came after the
// last 105.
func keepalivesAfterLastEvent(n int) func(*recording) bool {
	return func(r *recording) bool {
		count := 0
		for i := len(r.responses) - 1; i >= 0 && r.responses[i].Status != wire.StatusPUB; i-- {
			if r.responses[i].Status == wire.StatusNoOperation {
				count++
			}
		}
		return count >= n
	}
}
