package edge

import (
	"time"

	"github.com/subpub/subpub/relay"
)

// Metrics receives what an Edge observes about its upstream side; what it
// writes downstream is observed by its Streamer's stream.Metrics. Methods
// must be safe for concurrent use.
type Metrics interface {
	// Upstream subscriptions: opened, closed, resumed; events received;
	// replays from the ring or by catching up; catch-ups by outcome;
	// refs refused.
	relay.Metrics
	// UpstreamHealth says whether the upstream with base URL upstream is
	// healthy (chosen for new requests and subscriptions) or was left out
	// after a failure. It is told of every upstream at the start, then of
	// each change.
	UpstreamHealth(upstream string, healthy bool)
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
type UpstreamKind = relay.Kind

const (
	// UpstreamShared is the one subscription per key that every
	// subscriber with that key reads.
	UpstreamShared = relay.Shared
	// UpstreamCatchUp serves the subscribers resuming from further back
	// than the shared ring holds, until they reach the ring.
	UpstreamCatchUp = relay.CatchUp
)

// Outcomes of a subscriber's need to catch up upstream, for
// Metrics.CatchUp (see relay.CatchUpOpened).
const (
	CatchUpOpened  = relay.CatchUpOpened
	CatchUpShared  = relay.CatchUpShared
	CatchUpRefused = relay.CatchUpRefused
)

type discardMetrics struct{}

func (discardMetrics) UpstreamOpened(UpstreamKind)       {}
func (discardMetrics) UpstreamClosed(UpstreamKind)       {}
func (discardMetrics) UpstreamReconnect()                {}
func (discardMetrics) UpstreamHealth(string, bool)       {}
func (discardMetrics) EventReceived(time.Duration, bool) {}
func (discardMetrics) Replay(bool)                       {}
func (discardMetrics) CatchUp(string)                    {}
func (discardMetrics) RefRefused()                       {}
func (discardMetrics) Cache(string)                      {}
func (discardMetrics) AuthorizationCheck(string)         {}
func (discardMetrics) RequestCanceled()                  {}
