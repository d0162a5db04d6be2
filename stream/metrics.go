package stream

import "github.com/subpub/subpub/wire"

// Metrics receives what a Streamer observes. Implementations must be safe for
// concurrent use; the zero Streamer uses one that discards everything. The
// Prometheus exposition lives in the program, not here.
type Metrics interface {
	// SubscriptionOpened counts a subscription that started streaming.
	SubscriptionOpened(proto string, f wire.Format)
	// SubscriptionClosed counts its end, with one of the Close* reasons.
	SubscriptionClosed(proto string, f wire.Format, reason string)
	// Delivered counts events written to one subscriber and their bytes
	// (SSE: body bytes; PUB: status line and fields before compression).
	Delivered(proto string, f wire.Format, events, bytes int)
	// Rejected counts a subscription refused before streaming, by status.
	Rejected(proto string, status int)
	// FannedOut counts subscriptions that its connection's fan-out
	// started (delta 1) or stopped (-1) writing.
	FannedOut(proto string, f wire.Format, delta int)
}

// Reasons a subscription ends.
const (
	CloseClientGone = "client_gone" // the client cancelled or disconnected
	CloseEnded      = "ended"       // the stream ended (resource deleted)
	CloseShutdown   = "shutdown"    // the server is shutting down
	CloseLagged     = "lagged"      // the subscriber fell behind the ring
	CloseStalled    = "stalled"     // a write blocked past StallTimeout
	CloseError      = "error"       // the feed failed
	CloseLifetime   = "lifetime"    // the subscription reached MaxLifetime
	CloseBudget     = "budget"      // cut off: the bytes queued for slow peers passed the Budget
)

type discardMetrics struct{}

func (discardMetrics) SubscriptionOpened(string, wire.Format)         {}
func (discardMetrics) SubscriptionClosed(string, wire.Format, string) {}
func (discardMetrics) Delivered(string, wire.Format, int, int)        {}
func (discardMetrics) Rejected(string, int)                           {}
func (discardMetrics) FannedOut(string, wire.Format, int)             {}
