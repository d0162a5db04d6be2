// Package relay holds shared upstream subscriptions: one subscription per
// stream to an upstream server (through client), whose events fill a ring
// (a stream.Topic) that any number of local subscribers read, each at its
// own pace; a registry that finds the subscription a new subscriber can
// share and closes it after its last one leaves; and the positioning of a
// subscriber that resumes with Last-Event-ID, from the ring or by catching
// up through a catch-up subscription, shared by those resuming from the
// same place and opened at a bounded rate. Events whose ref names another
// origin than their stream's are relayed as gaps. The edge serves its
// subscribers this way, and so does an origin relaying the event streams of remote
// objects; it imports neither.
package relay

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/ratelog"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Defaults of a Relay.
const (
	DefaultLinger         = 10 * time.Second
	DefaultMaxLag         = 4 << 20
	DefaultConnectTimeout = 10 * time.Second
)

// Relay is a set of shared upstream subscriptions and their configuration.
// Set its fields before the first subscription and do not change them
// after.
type Relay struct {
	// Client subscribes upstream; it should be in auto mode so that an
	// upstream speaking only SSE works too. Required.
	Client *client.Client

	// RingEvents and RingBytes bound each subscription's ring of recent
	// events. Zero means stream.DefaultRingEvents and
	// stream.DefaultRingBytes.
	RingEvents, RingBytes int

	// MaxLag bounds, in bytes, how much further behind the newest event a
	// subscriber may fall than it was when it joined before its stream is
	// ended so that it resumes from the ring. Default DefaultMaxLag.
	MaxLag int

	// Linger keeps an upstream subscription open this long after its last
	// subscriber leaves, for the next one. Default DefaultLinger; negative
	// means close at once.
	Linger time.Duration

	// ConnectTimeout bounds how long a subscriber waits for the upstream
	// to acknowledge a subscription (Await). Default DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// CatchUpRate bounds how many upstream catch-up subscriptions (for
	// Last-Event-IDs that no ring holds) the relay opens per second, for
	// all streams, in bursts of at most CatchUpBurst; past it, a
	// subscriber that would need a new one is refused with 503 and a
	// Retry-After. Subscribers that share one that is open are not
	// counted. Zero means DefaultCatchUpRate and DefaultCatchUpBurst,
	// negative no bound.
	CatchUpRate  float64
	CatchUpBurst int

	// SeparateCatchUps opens an upstream catch-up subscription for each
	// subscriber the shared ring cannot serve, instead of sharing one
	// among those resuming from the same position. It exists to measure
	// what sharing saves; a deployed relay leaves it unset.
	SeparateCatchUps bool

	// Route, if set, says where each attempt of a subscription to a URI
	// goes; by default, to the URI itself.
	Route func(uri string) Attempt

	// Observe, if set, is told of every event received, before it is
	// published; it runs on the upstream connection's reader and must not
	// block.
	Observe func(u *Upstream, f *wire.Frame)

	// Resolve, if set, fetches the payload of an event sent by reference
	// (a ref without data), which is published once it has it, in order;
	// without Resolve such events are published as they came.
	Resolve func(ctx context.Context, u *Upstream, ref string) ([]byte, error)

	// OnRemove, if set, is told when an upstream subscription leaves the
	// registry (it ended, or its last subscriber left), under the
	// registry's lock.
	OnRemove func(u *Upstream)

	// Metrics observes the upstream subscriptions. Default: discarded.
	Metrics Metrics

	// Logger receives upstream failures. Default slog.Default().
	Logger *slog.Logger

	initOnce  sync.Once
	ctx       context.Context // cancelled by Close: ends every upstream
	cancel    context.CancelFunc
	mu        sync.Mutex
	upstreams map[string]*Upstream // by key
	running   sync.WaitGroup       // upstream goroutines and the payload fetches they start
	eventLog  *slog.Logger         // logger at a bounded rate, for what publishers provoke
	catchUps  catchUpSources

	catchUpLimitOnce sync.Once
	catchUpLimit     *rate.Limiter // nil: no bound
}

// Attempt is where one attempt of a subscription goes, and what to tell of
// its outcome.
type Attempt struct {
	URL string
	// Opened, if set, is told that the upstream acknowledged the attempt.
	Opened func()
	// Failed, if set, is told of the attempt's failure, and says whether
	// the subscription should move on at once to the next attempt Route
	// gives (which serves the same log: it resumes from the last id)
	// rather than try the same place again after the client's backoff.
	Failed func(err error) (moveOn bool)
}

func (r *Relay) init() {
	r.initOnce.Do(func() {
		r.ctx, r.cancel = context.WithCancel(context.Background())
		r.upstreams = make(map[string]*Upstream)
		r.eventLog = ratelog.Logger(r.logger())
	})
}

func (r *Relay) route(uri string) Attempt {
	if r.Route == nil {
		return Attempt{URL: uri}
	}
	return r.Route(uri)
}

// maxLag is how far, in bytes, a subscriber may fall behind its stream.
func (r *Relay) maxLag() uint64 { return uint64(setting.Or(r.MaxLag, DefaultMaxLag)) }

func (r *Relay) metrics() Metrics { return cmp.Or(r.Metrics, Metrics(discardMetrics{})) }

func (r *Relay) logger() *slog.Logger { return cmp.Or(r.Logger, slog.Default()) }

// Await waits until the upstream has acknowledged u (nil) or refused it
// (its error), at most ConnectTimeout (then ErrTimeout).
func (r *Relay) Await(ctx context.Context, u *Upstream) error {
	timer := time.NewTimer(setting.Or(r.ConnectTimeout, DefaultConnectTimeout))
	defer timer.Stop()
	select {
	case <-u.ready:
		return u.err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return ErrTimeout
	}
}

// Close ends every upstream subscription and waits for them.
func (r *Relay) Close() error {
	r.init()
	r.cancel()
	r.running.Wait()
	return nil
}

// Len counts the upstream subscriptions in the registry now.
func (r *Relay) Len() int {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.upstreams)
}

// Go runs f counted with the upstream goroutines, so that Close waits for
// it too.
func (r *Relay) Go(f func()) {
	r.init()
	r.running.Go(f)
}

// ErrTimeout reports an upstream that did not acknowledge a new
// subscription within ConnectTimeout.
var ErrTimeout = errors.New("upstream did not acknowledge the subscription in time")

// Metrics receives what a Relay observes of its upstream subscriptions.
// Methods must be safe for concurrent use.
type Metrics interface {
	// UpstreamOpened and UpstreamClosed count upstream subscriptions by
	// kind.
	UpstreamOpened(kind Kind)
	UpstreamClosed(kind Kind)
	// UpstreamReconnect counts an upstream subscription lost and resumed
	// (at the same place, or elsewhere).
	UpstreamReconnect()
	// EventReceived counts an event from upstream, with its latency from
	// publication when it carries a publish time.
	EventReceived(latency time.Duration, known bool)
	// Replay counts a subscriber resuming with Last-Event-ID, served from
	// the ring (hit) or by catching up from upstream (miss).
	Replay(hit bool)
	// CatchUp counts a subscriber that the shared ring could not serve by
	// outcome: CatchUpOpened, CatchUpShared or CatchUpRefused.
	CatchUp(outcome string)
	// RefRefused counts an event whose ref names another origin than its
	// stream's: it is neither fetched nor relayed (a gap takes its place).
	RefRefused()
}

// Kind says what an upstream subscription is for; it is a metrics label.
type Kind string

const (
	// Shared is the one subscription per key that every subscriber with
	// that key reads.
	Shared Kind = "shared"
	// CatchUp serves the subscribers resuming from further back than the
	// shared ring holds, until they reach the ring.
	CatchUp Kind = "catchup"
)

// Outcomes of a subscriber's need to catch up upstream, for
// Metrics.CatchUp.
const (
	// CatchUpOpened: a new upstream catch-up subscription was opened for
	// it.
	CatchUpOpened = "opened"
	// CatchUpShared: it reads one that was open already, opened from the
	// same id or holding it.
	CatchUpShared = "shared"
	// CatchUpRefused: it would have needed a new one past the relay's
	// bound (CatchUpRate), and got 503.
	CatchUpRefused = "refused"
)

type discardMetrics struct{}

func (discardMetrics) UpstreamOpened(Kind)               {}
func (discardMetrics) UpstreamClosed(Kind)               {}
func (discardMetrics) UpstreamReconnect()                {}
func (discardMetrics) EventReceived(time.Duration, bool) {}
func (discardMetrics) Replay(bool)                       {}
func (discardMetrics) CatchUp(string)                    {}
func (discardMetrics) RefRefused()                       {}
