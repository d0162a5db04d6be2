package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/dunglas/httpsfv"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// Sizes of the intermediary checks.
const (
	// relayedEvents is how many events interim-handling/1 publishes: more
	// than the five or ten interim responses after which some proxies stop.
	relayedEvents = 20
	// collapsedSubscribers is how many identical subscriptions
	// collapsing-key/1 makes.
	collapsedSubscribers = 5
	// slowEventSize and slowEvents make the bytes published while a
	// subscriber does not read: more than socket buffers hold, so that an
	// intermediary writing to every subscriber in turn blocks on it. They
	// are published slowChunk at a time, each once the other subscriber
	// has the previous one, so that it never lags by more than a chunk
	// (1 MiB) itself.
	slowEventSize = 32 << 10
	slowEvents    = 384
	slowChunk     = 32
	// slowReadBuffer is the slow subscriber's socket receive buffer.
	slowReadBuffer = 4 << 10
)

// publish publishes n small events on path upstream and returns their ids.
func (m *intermediaryRun) publish(path string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, m.up.Publish(path, []byte(payload(i+1, 0))).ID)
	}
	return out
}

// openThrough subscribes through the intermediary and waits for the
// acknowledgement.
func (s *suiteRun) openThrough(ctx context.Context, path, lastID string, header http.Header) (*recording, error) {
	r, err := s.followWith(ctx, client.HTTPAuto, client.ModeSUB, s.proxied(path), lastID, header)
	if err != nil {
		return nil, err
	}
	r.waitUntil(ctx, s.cfg.timeout(), isOpen)
	if responses, _, err, opened := r.snapshot(); !opened {
		r.stop()
		return nil, fmt.Errorf("SUB %s: not acknowledged within %s: %s (%s)", s.proxied(path), s.cfg.timeout(), describe(responses), errString(err))
	}
	return r, nil
}

func checkInterimRelayed(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("public", "relay")
	r, err := s.openThrough(ctx, path, "", nil)
	if err != nil {
		return fail("%v", err)
	}
	published := m.publish(path, relayedEvents)
	m.relayed = &relayedStream{published: published, sub: r}
	got, err := r.receivedIDs(ctx, s.cfg.timeout(), relayedEvents)
	switch {
	case len(got) < relayedEvents:
		return fail("%d of %d 105s relayed (%s)", len(got), relayedEvents, errString(err))
	case !slices.Equal(got[:relayedEvents], published):
		return fail("relayed %q, published %q", got, published)
	}
	return pass("the 106 and %d 105s relayed in order", relayedEvents)
}

// lossyEvents is how many events detecting-loss/1 publishes; the second is
// lost on the way to the intermediary, once.
const lossyEvents = 3

// checkUpstreamLossResumed makes the upstream lose one event on the
// intermediary's subscription (as a proxy between them that drops a 105
// would), once: an intermediary that checks prev resubscribes and relays
// it; one that does not relays the broken chain to every subscriber.
func checkUpstreamLossResumed(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("public", "lossy")
	r, err := s.openThrough(ctx, path, "", nil)
	if err != nil {
		return fail("%v", err)
	}
	defer r.stop()
	published := m.publish(path, 1)
	m.up.loseOnce(path)
	published = append(published, m.publish(path, lossyEvents-1)...)
	got, err := r.receivedIDs(ctx, s.cfg.timeout(), lossyEvents)
	switch {
	case len(got) < lossyEvents:
		return fail("%q of %q relayed when the upstream lost %q on the intermediary's subscription (%s)", got, published, published[1], errString(err))
	case !slices.Equal(got[:lossyEvents], published):
		return fail("relayed %q, published %q (the upstream lost %q once)", got, published, published[1])
	}
	return pass("%q lost once upstream, and relayed all the same: %q", published[1], got)
}

func checkEventUnchanged(_ context.Context, s *suiteRun) Result {
	rs := s.mid.relayed
	if rs == nil {
		return skip("interim-handling/1 relayed nothing")
	}
	_, events, _, _ := rs.sub.snapshot()
	if len(events) == 0 {
		return fail("no event was relayed (interim-handling/1)")
	}
	for i, e := range events {
		if i >= len(rs.published) {
			break
		}
		want := s.mid.up.event(rs.published[i])
		dict, err := httpsfv.UnmarshalDictionary(e.Fields.Values(wire.FieldEvent))
		if err != nil {
			return fail("event %q: Event %q: %v", e.ID, e.Fields.Values(wire.FieldEvent), err)
		}
		ext, ok := dict.Get("x-conformance")
		switch {
		case e.ID != want.ID || e.Prev != want.Prev || e.Type != want.Type || !e.Time.Equal(want.Time):
			return fail("event %q: relayed id %q prev %q type %q t %v, published id %q prev %q type %q t %v", want.ID, e.ID, e.Prev, e.Type, e.Time, want.ID, want.Prev, want.Type, want.Time)
		case string(e.Data) != string(want.Data):
			return fail("event %q: Event-Data changed: %.60q, published %.60q", e.ID, e.Data, want.Data)
		case !ok || itemValue(ext) != true:
			return fail("event %q: Event %q lacks the member %s the upstream sent", e.ID, e.Fields.Values(wire.FieldEvent), extensionMember)
		}
	}
	return pass("%d events relayed unchanged, with the unknown member %s", len(events), extensionMember)
}

func checkCollapsed(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("public", "collapse")
	var subs []*recording
	defer func() {
		for _, r := range subs {
			r.stop()
		}
	}()
	for range collapsedSubscribers {
		r, err := s.openThrough(ctx, path, "", nil)
		if err != nil {
			return fail("%v", err)
		}
		subs = append(subs, r)
	}
	published := m.publish(path, 1)
	for _, r := range subs {
		if !r.waitUntil(ctx, s.cfg.timeout(), hasEvents(1)) {
			return fail("a subscriber did not receive the event %q", published[0])
		}
	}
	if n := m.up.Subscriptions(path); n != 1 {
		return fail("%d identical subscriptions made %d upstream", collapsedSubscribers, n)
	}
	return pass("%d identical subscriptions, one upstream", collapsedSubscribers)
}

// bearer is an Authorization field with a bearer token.
func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func checkPrivateNotShared(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("private", "inbox")
	users := []string{m.run + "-alice", m.run + "-bob"}
	var subs []*recording
	defer func() {
		for _, r := range subs {
			r.stop()
		}
	}()
	for _, user := range users {
		r, err := s.openThrough(ctx, path, "", bearer(user))
		if err != nil {
			return fail("%s: %v", user, err)
		}
		subs = append(subs, r)
	}
	// Two events each, interleaved, each naming its user.
	for round := range 2 {
		for _, user := range users {
			m.up.PublishPrivate(path, user, []byte(fmt.Sprintf("for %s, %d", user, round)))
		}
	}
	for i, r := range subs {
		r.waitUntil(ctx, s.cfg.timeout(), hasEvents(2))
		_, events, err, _ := r.snapshot()
		for _, e := range events {
			if !strings.HasPrefix(string(e.Data), "for "+users[i]+",") {
				return fail("%s received %q, an event of another user's private stream", users[i], e.Data)
			}
		}
		if len(events) < 2 {
			return fail("%s received %d of its 2 events (%s)", users[i], len(events), errString(err))
		}
	}
	return pass("two users of one private URL each received only their own events (%d upstream subscriptions)", m.up.Subscriptions(path))
}

func checkAckFieldsRelayed(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	for _, c := range []struct {
		path, sharing string
		header        http.Header
	}{
		{m.path("public", "fields"), wire.SharingShared, nil},
		{m.path("private", "fields"), wire.SharingPerCredential, bearer(m.run + "-carol")},
	} {
		r, err := s.openThrough(ctx, c.path, "", c.header)
		if err != nil {
			return fail("%v", err)
		}
		r.stop()
		responses, _, _, _ := r.snapshot()
		a, _ := ack(responses)
		if got := sharing(a.Header); got != c.sharing {
			return fail("%s: the first 106 has Subscription-Sharing %q, the upstream's said %s", c.path, a.Header.Get(wire.FieldSubscriptionSharing), c.sharing)
		}
		if !slices.ContainsFunc(a.Header.Values("Vary"), func(v string) bool { return strings.Contains(strings.ToLower(v), "authorization") }) {
			return fail("%s: the first 106 has Vary %q, the upstream's said Authorization", c.path, a.Header.Values("Vary"))
		}
	}
	return pass("shared and per-credential streams: Subscription-Sharing and Vary relayed")
}

// exactly checks that got begins with want, each once, and holds nothing
// else.
func exactly(got, want []string) string {
	switch {
	case len(got) < len(want):
		return fmt.Sprintf("received %d of %d events: %q, want %q", len(got), len(want), got, want)
	case !slices.Equal(got, want):
		return fmt.Sprintf("received %q, want %q", got, want)
	}
	return ""
}

// checkReplay resumes from an event the intermediary relayed moments ago,
// while another subscriber keeps the stream open, then publishes more.
func checkReplay(ctx context.Context, s *suiteRun) Result {
	from, want, got, err := s.resumeBeside(ctx, s.mid.path("public", "replay"), nil, 5, 1)
	if err != nil {
		return fail("%v", err)
	}
	if problem := exactly(got, want); problem != "" {
		return fail("resuming from %q: %s", from, problem)
	}
	return pass("resuming from %q: %q", from, want)
}

// checkCatchUp publishes before the intermediary follows the stream, so
// that the events before its first subscription are not retained there,
// and resumes from one of them.
func checkCatchUp(ctx context.Context, s *suiteRun) Result {
	path := s.mid.path("public", "catchup")
	before := s.mid.publish(path, 10)
	from, want, got, err := s.resumeBeside(ctx, path, before, 3, 2)
	if err != nil {
		return fail("%v", err)
	}
	if problem := exactly(got, want); problem != "" {
		return fail("resuming from %q, which the intermediary never relayed: %s", from, problem)
	}
	return pass("resuming from %q: %d events, each once", from, len(want))
}

// sharedCatchUpResumers is how many subscribers checkCatchUpShared resumes
// at once from one position.
const sharedCatchUpResumers = 5

// checkCatchUpShared publishes before the intermediary follows the stream,
// keeps it followed, then resumes several subscribers at once from one of
// the events it never relayed: each must receive every later event once,
// and the upstream must have served one subscription for all of them.
func checkCatchUpShared(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("public", "catchups")
	before := m.publish(path, 10)
	a, err := s.openThrough(ctx, path, "", nil)
	if err != nil {
		return fail("%v", err)
	}
	defer a.stop()
	live := m.publish(path, 2)
	if !a.waitUntil(ctx, s.cfg.timeout(), hasEvents(len(live))) {
		return fail("the first subscriber did not receive the %d events", len(live))
	}
	opened := m.up.Subscriptions(path)
	from := before[2]
	resumers := make([]*recording, sharedCatchUpResumers)
	var errs [sharedCatchUpResumers]error
	var wg sync.WaitGroup
	for i := range resumers {
		wg.Go(func() { resumers[i], errs[i] = s.openThrough(ctx, path, from, nil) })
	}
	wg.Wait()
	for i, r := range resumers {
		if errs[i] != nil {
			return fail("resuming from %q: %v", from, errs[i])
		}
		defer r.stop()
	}
	want := slices.Concat(before[3:], live, m.publish(path, 2))
	for i, r := range resumers {
		got, _ := r.receivedIDs(ctx, s.cfg.timeout(), len(want))
		if problem := exactly(got, want); problem != "" {
			return fail("resumer %d of %d from %q: %s", i+1, len(resumers), from, problem)
		}
	}
	if n := m.up.Subscriptions(path) - opened; n > 1 {
		return fail("%d subscribers resuming from %q cost the upstream %d subscriptions", len(resumers), from, n)
	}
	return pass("%d subscribers resuming from %q cost the upstream one subscription", len(resumers), from)
}

// resumeBeside is how the ring checks resume: one subscriber keeps path
// followed, so that the intermediary holds the stream, and receives live
// events published once it is open. A second subscriber then resumes after
// the event numbered at among before (published earlier) and the live ones,
// and two more are published. It returns the id resumed from, the ids the
// second should receive (every later event, each once), and those it did.
func (s *suiteRun) resumeBeside(ctx context.Context, path string, before []string, live, at int) (from string, want, got []string, err error) {
	a, err := s.openThrough(ctx, path, "", nil)
	if err != nil {
		return "", nil, nil, err
	}
	defer a.stop()
	published := slices.Concat(before, s.mid.publish(path, live))
	if !a.waitUntil(ctx, s.cfg.timeout(), hasEvents(live)) {
		return "", nil, nil, fmt.Errorf("the first subscriber did not receive the %d events", live)
	}
	from = published[at]
	b, err := s.openThrough(ctx, path, from, nil)
	if err != nil {
		return "", nil, nil, fmt.Errorf("resuming from %q: %v", from, err)
	}
	defer b.stop()
	want = slices.Concat(published[at+1:], s.mid.publish(path, 2))
	got, _ = b.receivedIDs(ctx, s.cfg.timeout(), len(want))
	return from, want, got, nil
}

// checkSlowSubscriber opens a subscription that reads its acknowledgement
// and then nothing, publishes more than socket buffers hold, and expects
// another subscriber to receive all of it.
func checkSlowSubscriber(ctx context.Context, s *suiteRun) Result {
	m := s.mid
	path := m.path("public", "slow")
	fast, err := s.openThrough(ctx, path, "", nil)
	if err != nil {
		return fail("%v", err)
	}
	defer fast.stop()
	slow, err := s.stalledSubscriber(ctx, path)
	if err != nil {
		return fail("the slow subscriber: %v", err)
	}
	defer slow.Close()
	big := strings.Repeat("s", slowEventSize)
	for i := range slowEvents {
		m.up.Publish(path, []byte(fmt.Sprintf("%d %s", i, big)))
		if (i+1)%slowChunk != 0 {
			continue
		}
		if !fast.waitUntil(ctx, s.cfg.timeout(), hasEvents(i+1)) {
			_, events, err, _ := fast.snapshot()
			return fail("while a subscriber did not read, another received %d of the %d events of %d KiB published, within %s (%s)", len(events), i+1, slowEventSize>>10, s.cfg.timeout(), errString(err))
		}
	}
	return pass("while a subscriber did not read, another received all %d events (%d MiB)", slowEvents, slowEvents*slowEventSize>>20)
}

// stalledSubscriber subscribes over HTTP/1.1 on a connection with a small
// receive buffer, reads the first 106, and leaves the rest unread.
func (s *suiteRun) stalledSubscriber(ctx context.Context, path string) (net.Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	conn, err := s.dial(dialCtx)
	if err != nil {
		return nil, err
	}
	if tcp, ok := underlyingTCP(conn); ok {
		tcp.SetReadBuffer(slowReadBuffer)
	}
	if _, err := io.WriteString(conn, s.rawRequest(wire.MethodSUB, path, "HTTP/1.1", nil)); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, slowReadBuffer), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != wire.StatusNoOperation {
		conn.Close()
		return nil, fmt.Errorf("answered %d, not 106", resp.StatusCode)
	}
	return conn, nil
}

// underlyingTCP is the TCP connection under conn.
func underlyingTCP(conn net.Conn) (*net.TCPConn, bool) {
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = tc.NetConn()
	}
	tcp, ok := conn.(*net.TCPConn)
	return tcp, ok
}
