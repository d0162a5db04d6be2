package chaos

import (
	"math"
	"slices"
	"time"
)

// Recovery is the time from a fault to resumed delivery, for the
// subscribers of one way (protocol and format) whose events cross the
// killed server: from the SIGKILL to the first reception of an event
// published after it.
type Recovery struct {
	Server string `json:"server"` // the one killed; "all" for every fault
	Way    string `json:"way"`
	// Samples counts (fault, subscriber) pairs; NotResumed those in which
	// the subscriber received nothing published after the fault before
	// the run ended.
	Samples    int     `json:"samples"`
	NotResumed int     `json:"not_resumed"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
}

// recoveries measures every fault's recovery for every subscriber behind
// the killed server, by killed server and way, and over all faults by way;
// it notes each fault's own in it.
func recoveries(faults []Fault, subs []*subscriber, ways []string) []Recovery {
	samples := map[[2]string][]time.Duration{}
	missed := map[[2]string]int{}
	for i := range faults {
		f := &faults[i]
		if f.KilledAt.IsZero() {
			continue
		}
		var own []time.Duration
		for _, s := range subs {
			if !slices.Contains(path(s.server), f.Server) {
				continue
			}
			f.Affected++
			at, ok := s.firstPublishedSince(f.KilledAt)
			if ok {
				own = append(own, at.Sub(f.KilledAt))
			} else {
				f.NotResumed++
			}
			for _, key := range [][2]string{{f.Server, s.way.Name}, {"all", s.way.Name}} {
				if ok {
					samples[key] = append(samples[key], at.Sub(f.KilledAt))
				} else {
					missed[key]++
				}
			}
		}
		slices.Sort(own)
		f.ResumedP50MS, f.ResumedMaxMS = quantileMS(own, 0.5), quantileMS(own, 1)
	}
	var out []Recovery
	for _, server := range []string{Origin, Edge1, Edge2, "all"} {
		for _, way := range ways {
			key := [2]string{server, way}
			d := samples[key]
			if len(d) == 0 && missed[key] == 0 {
				continue
			}
			slices.Sort(d)
			out = append(out, Recovery{
				Server: server, Way: way, Samples: len(d) + missed[key], NotResumed: missed[key],
				P50MS: quantileMS(d, 0.50), P99MS: quantileMS(d, 0.99), MaxMS: quantileMS(d, 1),
			})
		}
	}
	return out
}

// quantileMS is the q-quantile of sorted durations, by nearest rank, in
// milliseconds (0 for none).
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}
