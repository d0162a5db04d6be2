package main

import (
	"testing"

	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/launch"
)

// TestMaxQueuedTotalReachesTheBudget: --max-queued-total is the limit the
// origin's and the edge's budgets report, its default when not given (the
// control: a flag that did nothing would read the default in both rows).
func TestMaxQueuedTotalReachesTheBudget(t *testing.T) {
	args := func(extra ...string) []string {
		return append([]string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0"}, extra...)
	}
	for _, c := range []struct {
		name  string
		flags []string
		want  float64
	}{
		{"the default", nil, budget.DefaultLimit},
		{"given", []string{"--max-queued-total", "12345678"}, 12345678},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := startProcess(t, "origin", launch.Options{}, args(c.flags...)...)
			e := startEdge(t, o, launch.Options{}, args(c.flags...)...)
			for _, p := range []struct {
				p      *launch.Process
				metric string
			}{{o, "subpub_origin_queued_bytes_limit"}, {e, "subpub_edge_queued_bytes_limit"}} {
				got, err := p.p.Sum(p.metric)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("%s = %v, want %v", p.metric, got, c.want)
				}
			}
		})
	}
}
