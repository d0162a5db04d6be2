package chaos

import (
	"io"
	"time"
)

// Config is one run of the suite.
type Config struct {
	// Out is where report.md and report.json are written ("": nowhere).
	Out string
	// Seed draws the faults (0: one from the clock); the report gives it,
	// and the same seed gives the same faults.
	Seed uint64
	// Subscribers follow the outbox, placed as placements says.
	Subscribers int
	// Rate is how many notes are posted a second.
	Rate int
	// KillsPerServer is how many times each server is killed; each kill
	// waits between MinWait and MaxWait after the previous restart, and
	// the server stays down for up to MaxDown.
	KillsPerServer   int
	MinWait, MaxWait time.Duration
	MaxDown          time.Duration
	// Settle is how long the last fault's recovery is given before the
	// attacks, and bounds the wait for the last event to reach everyone.
	Settle time.Duration
	// FloodRequests is how many distinct query strings flood each server;
	// MaxUpstreamsPerClient is the edges' --max-upstreams-per-client.
	FloodRequests         int
	MaxUpstreamsPerClient int
	// ZeroWindow runs the zero-window client, which waits for the
	// servers' 30 s stall bound.
	ZeroWindow bool
	// Progress, if set, is told of each step as it happens; ServerLog
	// receives the servers' standard error.
	Progress  io.Writer
	ServerLog io.Writer
}

// Full is `make chaos`: 1,000 subscribers, 10 notes a second, ten kills of
// each server (a few minutes).
func Full(out string) Config {
	return Config{
		Out: out, Subscribers: 1000, Rate: 10,
		KillsPerServer: 10, MinWait: 4 * time.Second, MaxWait: 8 * time.Second, MaxDown: time.Second,
		Settle: 10 * time.Second, FloodRequests: 2000, MaxUpstreamsPerClient: 100, ZeroWindow: true,
	}
}

// Short is the form the test suite runs: every part but the zero-window
// client (stream's tests end such a stream in-process, with a short stall
// bound), at a small scale, in well under a minute, and with a fixed seed
// so that the test suite draws the same faults every time.
func Short() Config {
	return Config{
		Seed: 1, Subscribers: 60, Rate: 10,
		KillsPerServer: 1, MinWait: time.Second, MaxWait: 2 * time.Second, MaxDown: 500 * time.Millisecond,
		Settle: 5 * time.Second, FloodRequests: 200, MaxUpstreamsPerClient: 100,
	}
}
