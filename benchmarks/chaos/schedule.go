package chaos

import (
	"math/rand/v2"
	"time"
)

// Fault is one kill -9 of a server and its start again on the same address
// with the same data.
type Fault struct {
	Server string `json:"server"`
	// Wait is how long after the previous fault's server was started
	// again (or after the faults began) this one kills; Down how long the
	// server stays down. Both are drawn from the seed.
	Wait time.Duration `json:"wait_ns"`
	Down time.Duration `json:"down_ns"`
	// KilledAt is when the SIGKILL was sent, Restarted when the new
	// process reported that it listens.
	KilledAt  time.Time `json:"killed_at"`
	Restarted time.Time `json:"restarted_at"`
	// Affected counts the subscribers whose events cross the server;
	// ResumedP50MS and ResumedMaxMS their times from the SIGKILL to the
	// first event published after it; NotResumed those that received
	// none (see Recovery).
	Affected     int     `json:"affected"`
	ResumedP50MS float64 `json:"resumed_p50_ms"`
	ResumedMaxMS float64 `json:"resumed_max_ms"`
	NotResumed   int     `json:"not_resumed"`
	// Err says why the server could not be started again.
	Err string `json:"error,omitempty"`
}

// plan draws the faults from seed: kills of each server, in a random order,
// each after a wait drawn in [minWait, maxWait) and down for a time drawn in
// [0, maxDown). One fault at a time: a fault's recovery is its own, not
// mixed with the next one's.
func plan(seed uint64, kills int, minWait, maxWait, maxDown time.Duration) []Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var faults []Fault
	for range kills {
		for _, s := range []string{Origin, Edge1, Edge2} {
			faults = append(faults, Fault{Server: s})
		}
	}
	rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	for i := range faults {
		faults[i].Wait = minWait + time.Duration(rng.Int64N(int64(maxWait-minWait)+1))
		if maxDown > 0 {
			faults[i].Down = time.Duration(rng.Int64N(int64(maxDown)))
		}
	}
	return faults
}
