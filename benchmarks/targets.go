package benchmarks

import (
	"fmt"
	"math"
	"strings"
)

// TargetRow is one of the goals the edge is measured against, as a run
// measured it: a goal for the report, not a pass/fail test.
type TargetRow struct {
	Target   string
	Measured string
	Verdict  string // "met", "missed", or notMeasured
}

// edgeCPUPerDelivery is the edge's CPU time in µs per delivery of a point.
func edgeCPUPerDelivery(p PointResult) (float64, bool) {
	for _, s := range p.Servers {
		if s.Role == "edge" {
			return p.cpuPerDelivery(s)
		}
	}
	return 0, false
}

// pubBytesBeforeFanOut is what a PUB over HTTP/2 cost on the wire per
// subscriber before the connection fan-out (the sweep of that code): the
// fan-out must not make it dearer.
const pubBytesBeforeFanOut = 54

// notMeasured is the verdict on a target that a run's points do not reach.
const notMeasured = "not measured"

// targets evaluates the targets against a run's results.
func targets(res *Results) []TargetRow {
	var rows []TargetRow
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	unmeasured := func(target string) {
		rows = append(rows, TargetRow{Target: target, Measured: "–", Verdict: notMeasured})
	}

	const bigN = 5000
	if p, ok := res.point("edge-sse-h1", bigN, 100); ok {
		target := "h1 SSE via the edge, 5,000 × 100/s: all delivered at the requested rate, p99 ≤ 1.5 × bare-socket limit"
		measured := fmt.Sprintf("%.1f%% delivered, publish %.1f of %.0f/s, p99 %s", 100*p.Fraction, p.Publish.Achieved, p.Publish.Requested, ms(p.P99MS))
		ok := fullyDelivered(p) && p.Publish.Achieved >= 0.99*p.Publish.Requested
		if lim, found := res.point(limitSystem, bigN, 100); found && lim.Error == "" {
			ratio := p.P99MS / lim.P99MS
			measured += fmt.Sprintf(" = %.2f × limit's %s", ratio, ms(lim.P99MS))
			ok = ok && ratio <= 1.5
		}
		rows = append(rows, TargetRow{target, measured, verdict(ok)})
	} else {
		unmeasured("h1 SSE via the edge, 5,000 × 100/s")
	}
	if p, ok := res.point("edge-sse-h1", bigN, 10); ok {
		rows = append(rows, TargetRow{"h1 SSE via the edge, 5,000 × 10/s: p99 ≤ 50 ms",
			fmt.Sprintf("%.1f%% delivered, p99 %s", 100*p.Fraction, ms(p.P99MS)), verdict(fullyDelivered(p) && p.P99MS <= 50)})
	} else {
		unmeasured("h1 SSE via the edge, 5,000 × 10/s: p99 ≤ 50 ms")
	}
	for _, name := range []string{"edge-sub-h2", "edge-sse-h2", "edge-sub-h3", "edge-sse-h3"} {
		sys, _ := systemByName(name)
		if p, ok := res.point(name, bigN, 100); ok {
			target := sys.Label + ", 5,000 × 100/s multiplexed: all delivered at the requested rate, p99 ≤ 100 ms and ≤ SSE h1's"
			measured := fmt.Sprintf("%.1f%% delivered, publish %.1f of %.0f/s, p99 %s", 100*p.Fraction, p.Publish.Achieved, p.Publish.Requested, ms(p.P99MS))
			good := fullyDelivered(p) && p.Publish.Achieved >= 0.99*p.Publish.Requested && p.P99MS <= 100
			if base, ok := res.point("edge-sse-h1", bigN, 100); ok {
				measured += " against " + ms(base.P99MS)
				good = good && p.P99MS <= base.P99MS
			}
			rows = append(rows, TargetRow{target, measured, verdict(good)})
		} else {
			unmeasured(sys.Label + ", 5,000 × 100/s")
		}
		if p, ok := res.point(name, 50000, 10); ok {
			rows = append(rows, TargetRow{sys.Label + ", 50,000 × 10/s: all delivered",
				fmt.Sprintf("%.1f%% delivered, p99 %s", 100*p.Fraction, ms(p.P99MS)), verdict(fullyDelivered(p))})
		} else {
			unmeasured(sys.Label + ", 50,000 × 10/s")
		}
	}

	// HTTP/3 where a QUIC reader keeps up on this machine (about 8 µs per
	// delivery: 1,000 × 100/s), and at 50,000 subscribers at 1 event/s.
	for _, name := range []string{"edge-sub-h3", "edge-sse-h3"} {
		sys, _ := systemByName(name)
		target := sys.Label + ", 1,000 × 100/s (what a QUIC reader takes here): all delivered, p99 ≤ SSE h1's"
		p, ok := res.point(name, 1000, 100)
		base, hasBase := res.point("edge-sse-h1", 1000, 100)
		if ok && hasBase {
			rows = append(rows, TargetRow{target,
				fmt.Sprintf("%.1f%% delivered, p99 %s against %s", 100*p.Fraction, ms(p.P99MS), ms(base.P99MS)),
				verdict(fullyDelivered(p) && p.P99MS <= base.P99MS)})
		} else {
			unmeasured(target)
		}
		if p, ok := res.point(name, 50000, 1); ok {
			rows = append(rows, TargetRow{sys.Label + ", 50,000 × 1/s: all delivered",
				fmt.Sprintf("%.1f%% delivered, p99 %s", 100*p.Fraction, ms(p.P99MS)), verdict(fullyDelivered(p))})
		} else {
			unmeasured(sys.Label + ", 50,000 × 1/s: all delivered")
		}
	}
	// HTTP/3 under loss: what QUIC is for.
	if h3, ok := res.lossRun("edge-sub-h3", 0.02); ok {
		target := "edge SUB h3, 2% loss, 20 ms RTT: all delivered, p99 ≤ SUB h2's"
		measured := fmt.Sprintf("%.1f%% delivered, p99 %s", 100*h3.Fraction, ms(h3.P99MS))
		good := h3.Expected > 0 && h3.Delivered >= h3.Expected
		if h2, ok := res.lossRun("edge-sub-h2", 0.02); ok {
			measured += " against " + ms(h2.P99MS)
			good = good && h3.P99MS <= h2.P99MS
		}
		rows = append(rows, TargetRow{target, measured, verdict(good)})
	}

	// CPU per delivery at the edge, against SSE over HTTP/1.1 at the same
	// point: multiplexing is meant to make a subscriber cheaper, not dearer.
	for _, n := range []int{1000, bigN} {
		base, ok := res.point("edge-sse-h1", n, 100)
		baseCost, hasBase := edgeCPUPerDelivery(base)
		for _, goal := range []struct {
			system string
			ratio  float64
		}{{"edge-sub-h2", 0.3}, {"edge-sse-h2", 0.7}, {"edge-sub-h3", 1.0}, {"edge-sse-h3", 1.0}} {
			sys, _ := systemByName(goal.system)
			target := fmt.Sprintf("%s, %s × 100/s: edge CPU per delivery ≤ %.1f × SSE h1's", sys.Label, thousands(n), goal.ratio)
			p, found := res.point(goal.system, n, 100)
			cost, hasCost := edgeCPUPerDelivery(p)
			if !ok || !found || !hasBase || !hasCost {
				unmeasured(target)
				continue
			}
			rows = append(rows, TargetRow{target,
				fmt.Sprintf("%.1f µs against %.1f µs = %.2f × (%.1f%% delivered)", cost, baseCost, cost/baseCost, 100*p.Fraction),
				verdict(cost <= goal.ratio*baseCost && fullyDelivered(p))})
		}
	}

	maxSubs, edgePoints := 0, 0
	for _, p := range res.Points {
		if strings.HasPrefix(p.System, "edge-") && p.Error == "" {
			edgePoints++
			maxSubs = max(maxSubs, p.OriginSubscriptions)
		}
	}
	if edgePoints > 0 {
		rows = append(rows, TargetRow{"one upstream subscription at the origin per stream, whatever N",
			fmt.Sprintf("at most %d over %d edge points", maxSubs, edgePoints), verdict(maxSubs == 1)})
	}

	for _, name := range []string{"edge-sse-h1", "edge-sub-h2", "edge-sse-h2", "edge-sub-h3", "edge-sse-h3"} {
		m, ok := res.memory(name)
		if !ok {
			continue
		}
		rows = append(rows, TargetRow{m.Label + ": memory per idle subscriber ≤ 20 KiB", fmt.Sprintf("%.1f KiB", m.PerSubKiB), verdict(m.PerSubKiB <= 20)})
	}

	sub, okSub := res.wire("edge-sub-h2")
	sse, okSSE := res.wire("edge-sse-h2")
	if okSub && okSSE {
		rows = append(rows, TargetRow{"PUB over h2: no more bytes per event than SSE over h2",
			fmt.Sprintf("%.0f B vs %.0f B (%.2f ×)", sub.BytesPerEvent, sse.BytesPerEvent, sub.BytesPerEvent/sse.BytesPerEvent),
			verdict(sub.BytesPerEvent <= sse.BytesPerEvent)})
	}
	if okSub {
		rows = append(rows, TargetRow{fmt.Sprintf("PUB over h2: ≤ %d B per event per subscriber (before each connection's fan-out)", pubBytesBeforeFanOut),
			fmt.Sprintf("%.0f B", sub.BytesPerEvent), verdict(sub.BytesPerEvent <= pubBytesBeforeFanOut)})
	}
	return rows
}

// fullyDelivered allows for nothing lost: every expected delivery arrived.
func fullyDelivered(p PointResult) bool { return p.Expected > 0 && p.Delivered >= p.Expected }

func (r *Results) point(system string, n, rate int) (PointResult, bool) {
	for _, p := range r.Points {
		if p.System == system && p.N == n && p.Rate == rate && p.Error == "" {
			return p, true
		}
	}
	return PointResult{}, false
}

func (r *Results) lossRun(system string, drop float64) (LossRun, bool) {
	for _, l := range r.Loss.Runs {
		if l.System == system && math.Abs(l.Drop-drop) < 1e-9 && l.Error == "" {
			return l, true
		}
	}
	return LossRun{}, false
}

func (r *Results) memory(system string) (MemoryResult, bool) {
	for _, m := range r.Memory {
		if m.System == system && m.Error == "" {
			return m, true
		}
	}
	return MemoryResult{}, false
}

func (r *Results) wire(system string) (WireResult, bool) {
	for _, w := range r.Wire {
		if w.System == system && w.Error == "" {
			return w, true
		}
	}
	return WireResult{}, false
}

// ms formats milliseconds for a table.
func ms(v float64) string {
	switch {
	case v < 0 || math.IsNaN(v):
		return "–"
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}
