package edge

import "time"

// Metrics receives what an Edge observes about its upstream side; what it
// writes downstream is observed by its Streamer's origin.Metrics. Methods
// must be safe for concurrent use.
type Metrics interface {
	// UpstreamOpened and UpstreamClosed count upstream subscriptions by
	// kind: "shared" (one per key) or "catchup" (one per subscriber
	// catching up from further back than the ring).
	UpstreamOpened(kind string)
	UpstreamClosed(kind string)
	// UpstreamReconnect counts an upstream subscription lost and resumed.
	UpstreamReconnect()
	// EventReceived counts an event from upstream, with its latency from
	// publication when it carries a publish time.
	EventReceived(latency time.Duration, known bool)
	// Replay counts a subscriber resuming with Last-Event-ID, served from
	// the ring (hit) or by catching up from upstream (miss).
	Replay(hit bool)
	// Cache counts a GET by outcome: hit, miss, revalidated, uncacheable.
	Cache(outcome string)
}

type discardMetrics struct{}

func (discardMetrics) UpstreamOpened(string)             {}
func (discardMetrics) UpstreamClosed(string)             {}
func (discardMetrics) UpstreamReconnect()                {}
func (discardMetrics) EventReceived(time.Duration, bool) {}
func (discardMetrics) Replay(bool)                       {}
func (discardMetrics) Cache(string)                      {}
