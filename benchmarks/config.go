package benchmarks

import (
	"io"
	"log/slog"
	"slices"
	"time"
)

// Defaults of a Config: the quick run's.
const (
	DefaultPerConnection    = 100
	DefaultWarmup           = 2 * time.Second
	DefaultWindow           = 6 * time.Second
	DefaultDrain            = 3 * time.Second
	DefaultMultiplexedAbove = 5000
	DefaultIdleSubscribers  = 1000
	DefaultWireEvents       = 50
	DefaultLossDelay        = 10 * time.Millisecond
	DefaultLossSubscribers  = 100
	DefaultLossRate         = 10
	DefaultLossWindow       = 8 * time.Second
)

// Config is a benchmark run. The zero value, with Out set, is a quick run of
// subpub's systems; Quick and Full are the presets of `make bench` and
// `make bench-full`.
type Config struct {
	// Out is the directory the results, the report and the plots are
	// written to. Required.
	Out string

	// Systems names the systems to run (see Systems); empty means every
	// system of the sweep, the peers only with Peers.
	Systems []string
	// Peers adds nginx+nchan and Varnish (install-peers.sh installs them).
	Peers bool

	// Profile records a CPU profile of the edge (or, without one, of the
	// origin) over each point's window, in Out/profiles: the servers then
	// serve Go's runtime profiles on their metrics address.
	Profile bool

	// Subscribers and Rates are the sweep: every N with every R (events
	// per second). Defaults: 100 and 1,000; 10 and 100.
	Subscribers []int
	Rates       []int
	// MultiplexedAbove restricts N above it to the systems whose
	// subscriptions share connections (HTTP/2, HTTP/3): one connection per
	// subscriber runs out of ports and file descriptors first. Default
	// DefaultMultiplexedAbove.
	MultiplexedAbove int
	// PerConnection is how many subscriptions share one HTTP/2 or HTTP/3
	// connection. Default DefaultPerConnection.
	PerConnection int
	// MultiplexedReader reads the edge's HTTP/2 and HTTP/3 subscriptions,
	// SUB and SSE: load.ReaderLean (the default), frames read straight off
	// connections of the load generator's own, or load.ReaderClient,
	// subpub's client, which costs the load generator several times more
	// per delivery. The lossy link's comparison always uses the client.
	MultiplexedReader string

	// Warmup, Window and Drain are the phases of a point: events of the
	// warm-up are not counted, those of the window are, and the drain is
	// how long their last deliveries are waited for. Defaults
	// DefaultWarmup, DefaultWindow, DefaultDrain.
	Warmup, Window, Drain time.Duration

	// IdleSubscribers is how many idle subscriptions measure the edge's
	// memory per subscriber, per protocol and encoding, and then the bytes
	// on the wire per event per subscriber (WireEvents events); negative
	// skips both. Defaults DefaultIdleSubscribers, DefaultWireEvents.
	IdleSubscribers, WireEvents int

	// Loss configures HTTP/2 versus HTTP/3 over a lossy link.
	Loss LossConfig

	// Binary is the subpub binary the servers run from. Default
	// $SUBPUB_BIN, else one built from this module.
	Binary string
	// ChildBinary is the program the load generator's child processes
	// run from, as `ChildBinary --child ROLE` (see load.StartChild).
	// Default: this program (os.Executable), which must then play them.
	ChildBinary string

	// Logger receives progress notes and warnings. Default: discarded.
	Logger *slog.Logger
	// Progress, if set, shows a progress bar (standard error).
	Progress io.Writer
	// ServerLog, if set, receives the servers' standard error.
	ServerLog io.Writer
}

// LossConfig configures the lossy-link comparison: subscriptions
// multiplexed on one connection, over a link with a one-way delay and a
// drop probability in each direction.
type LossConfig struct {
	// Drops are the drop probabilities to compare; empty skips the
	// comparison. The presets use 0, 0.005 and 0.02.
	Drops []float64
	// Delay is the one-way delay (each way). Default DefaultLossDelay
	// (a 20 ms round trip).
	Delay time.Duration
	// Subscribers share one connection; Rate is in events per second.
	// Defaults DefaultLossSubscribers, DefaultLossRate.
	Subscribers, Rate int
	// Window is each measurement's window. Default DefaultLossWindow.
	Window time.Duration
	// Systems compared. Default edge-sub-h2 and edge-sub-h3.
	Systems []string
}

// Quick is `make bench`: a few minutes.
func Quick(out string) Config {
	return Config{
		Out:         out,
		Subscribers: []int{100, 1000},
		Rates:       []int{10, 100},
		Loss:        LossConfig{Drops: []float64{0, 0.005, 0.02}},
	}
}

// Full is `make bench-full`: the whole sweep, about 30 minutes.
func Full(out string) Config {
	return Config{
		Out:             out,
		Subscribers:     []int{100, 1000, 5000, 50000},
		Rates:           []int{10, 100},
		Warmup:          5 * time.Second,
		Window:          15 * time.Second,
		Drain:           8 * time.Second,
		IdleSubscribers: 5000,
		Loss:            LossConfig{Drops: []float64{0, 0.005, 0.02}, Window: 20 * time.Second},
	}
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Config) subscribers() []int {
	if len(c.Subscribers) > 0 {
		return c.Subscribers
	}
	return []int{100, 1000}
}

func (c *Config) rates() []int {
	if len(c.Rates) > 0 {
		return c.Rates
	}
	return []int{10, 100}
}

func (l *LossConfig) systems() []string {
	if len(l.Systems) > 0 {
		return l.Systems
	}
	return []string{"edge-sub-h2", "edge-sub-h3"}
}

// systems are the systems of the sweep this config selects.
func (c *Config) systems() []System {
	var out []System
	for _, s := range Systems() {
		if len(c.Systems) > 0 {
			if slices.Contains(c.Systems, s.Name) || (c.Peers && s.Peer) {
				out = append(out, s)
			}
			continue
		}
		if s.Sweep && (!s.Peer || c.Peers) {
			out = append(out, s)
		}
	}
	return out
}
