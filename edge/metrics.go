package edge

import "time"

// Metrics receives what an Edge observes about its upstream side; what it
// writes downstream is observed by its Streamer's stream.Metrics. Methods
// must be safe for concurrent use.
type Metrics interface {
	// UpstreamOpened and UpstreamClosed count upstream subscriptions by
	// kind.
	UpstreamOpened(kind UpstreamKind)
	UpstreamClosed(kind UpstreamKind)
	// UpstreamReconnect counts an upstream subscription lost and resumed.
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
	// Cache counts a GET by outcome: hit, miss, revalidated, uncacheable.
	Cache(outcome string)
	// AuthorizationCheck counts the upstream's answers when the edge asks
	// it again whether a private stream's credentials may read it:
	// allowed, refused (401 or 403: the stream ends) or failed (anything
	// else: the joining subscriber is refused).
	AuthorizationCheck(result string)
	// RequestCanceled counts a request its client cancelled (reset its
	// stream, closed its connection) before it was answered.
	RequestCanceled()
}

// UpstreamKind says what an upstream subscription is for; it is a metrics
// label.
type UpstreamKind string

const (
	// UpstreamShared is the one subscription per key that every
	// subscriber with that key reads.
	UpstreamShared UpstreamKind = "shared"
	// UpstreamCatchUp serves the subscribers resuming from further back
	// than the shared ring holds, until they reach the ring.
	UpstreamCatchUp UpstreamKind = "catchup"
)

type discardMetrics struct{}

func (discardMetrics) UpstreamOpened(UpstreamKind)       {}
func (discardMetrics) UpstreamClosed(UpstreamKind)       {}
func (discardMetrics) UpstreamReconnect()                {}
func (discardMetrics) EventReceived(time.Duration, bool) {}
func (discardMetrics) Replay(bool)                       {}
func (discardMetrics) CatchUp(string)                    {}
func (discardMetrics) RefRefused()                       {}
func (discardMetrics) Cache(string)                      {}
func (discardMetrics) AuthorizationCheck(string)         {}
func (discardMetrics) RequestCanceled()                  {}
