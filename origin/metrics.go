package origin

// Metrics receives what a Streamer observes. Implementations must be safe for
// concurrent use; the zero Streamer uses one that discards everything. The
// Prometheus exposition lives in the program, not here.
type Metrics interface {
	// SubscriptionOpened counts a subscription that started streaming.
	SubscriptionOpened(proto string, f Format)
	// SubscriptionClosed counts its end, with one of the Close* reasons.
	SubscriptionClosed(proto string, f Format, reason string)
	// Delivered counts events written to one subscriber and their bytes
	// (SSE: body bytes; PUB: status line and fields before compression).
	Delivered(proto string, f Format, events, bytes int)
	// Rejected counts a subscription refused before streaming, by status.
	Rejected(proto string, status int)
}

// Reasons a subscription ends.
const (
	CloseClientGone = "client_gone" // the client cancelled or disconnected
	CloseEnded      = "ended"       // the stream ended (resource deleted)
	CloseShutdown   = "shutdown"    // the server is shutting down
	CloseLagged     = "lagged"      // the subscriber fell behind the ring
	CloseStalled    = "stalled"     // a write blocked past StallTimeout
	CloseError      = "error"       // the feed failed
)

type discardMetrics struct{}

func (discardMetrics) SubscriptionOpened(string, Format)         {}
func (discardMetrics) SubscriptionClosed(string, Format, string) {}
func (discardMetrics) Delivered(string, Format, int, int)        {}
func (discardMetrics) Rejected(string, int)                      {}

// Proto names the HTTP version of r as metrics label it: h1, h2 or h3.
func Proto(protoMajor int) string {
	switch protoMajor {
	case 2:
		return "h2"
	case 3:
		return "h3"
	}
	return "h1"
}
