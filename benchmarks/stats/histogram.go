// Package stats keeps latency distributions: a fixed-size log-linear
// histogram that concurrent readers add to without a lock, and the Latency
// the results keep, with its percentiles and CDF.
package stats

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are kept in log-linear buckets of microseconds, as HDR
// histograms do: exact below 128 µs, then 64 buckets per power of two, so a
// value is known within 1.6%. The memory is fixed (about 18 KiB a
// histogram) whatever the number of deliveries, which matters at 50,000
// subscribers × thousands of events.
const (
	histSubBits    = 6
	histSubBuckets = 1 << histSubBits // per power of two
	histLinear     = 2 * histSubBuckets
	histMaxShift   = 40 - histSubBits // values up to 2^40 µs (12 days)
	histBuckets    = histLinear + histMaxShift*histSubBuckets
)

// Histogram counts latencies. It is safe for concurrent use: each
// subscriber's reader adds to it without a lock. The zero value is empty.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	maxUS  atomic.Int64
}

func histIndex(us int64) int {
	if us < 0 {
		us = 0
	}
	v := uint64(us)
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [64, 128)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return histLinear + (shift-1)*histSubBuckets + int(v>>shift) - histSubBuckets
}

// histUpper is the largest value bucket i holds.
func histUpper(i int) int64 {
	if i < histLinear {
		return int64(i)
	}
	shift := (i-histLinear)/histSubBuckets + 1
	sub := (i-histLinear)%histSubBuckets + histSubBuckets
	return int64(sub+1)<<shift - 1
}

// Add counts d.
func (h *Histogram) Add(d time.Duration) {
	us := d.Microseconds()
	h.counts[histIndex(us)].Add(1)
	for {
		m := h.maxUS.Load()
		if us <= m || h.maxUS.CompareAndSwap(m, us) {
			return
		}
	}
}

// Latency is a latency distribution as the results keep it: the non-empty
// buckets (upper bound in µs, count) and the exact maximum.
type Latency struct {
	Buckets [][2]int64 `json:"buckets"`
	MaxUS   int64      `json:"max_us"`
}

// Snapshot is the distribution so far.
func (h *Histogram) Snapshot() Latency {
	var l Latency
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			l.Buckets = append(l.Buckets, [2]int64{histUpper(i), int64(c)})
		}
	}
	l.MaxUS = h.maxUS.Load()
	return l
}

// Merge is l with other's counts added (both sorted by bound).
func (l Latency) Merge(other Latency) Latency {
	out := Latency{MaxUS: max(l.MaxUS, other.MaxUS)}
	i, j := 0, 0
	for i < len(l.Buckets) || j < len(other.Buckets) {
		switch {
		case j == len(other.Buckets) || (i < len(l.Buckets) && l.Buckets[i][0] < other.Buckets[j][0]):
			out.Buckets = append(out.Buckets, l.Buckets[i])
			i++
		case i == len(l.Buckets) || other.Buckets[j][0] < l.Buckets[i][0]:
			out.Buckets = append(out.Buckets, other.Buckets[j])
			j++
		default:
			out.Buckets = append(out.Buckets, [2]int64{l.Buckets[i][0], l.Buckets[i][1] + other.Buckets[j][1]})
			i++
			j++
		}
	}
	return out
}

// Count is the number of latencies recorded.
func (l Latency) Count() int64 {
	var n int64
	for _, b := range l.Buckets {
		n += b[1]
	}
	return n
}

// Quantile is the latency below which a fraction q of the deliveries fell
// (the upper bound of its bucket, capped by the maximum), in milliseconds;
// -1 when there is none (JSON has no NaN).
func (l Latency) Quantile(q float64) float64 {
	total := l.Count()
	if total == 0 {
		return -1
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen int64
	for _, b := range l.Buckets {
		seen += b[1]
		if seen >= rank {
			return float64(min(b[0], l.MaxUS)) / 1000
		}
	}
	return float64(l.MaxUS) / 1000
}

// MaxMS is the largest latency in milliseconds (-1 when none).
func (l Latency) MaxMS() float64 {
	if l.Count() == 0 {
		return -1
	}
	return float64(l.MaxUS) / 1000
}

// CDF is the distribution as (latency ms, fraction ≤ it) points.
func (l Latency) CDF() (xs, ys []float64) {
	total := float64(l.Count())
	var seen int64
	for _, b := range l.Buckets {
		seen += b[1]
		xs = append(xs, float64(min(b[0], l.MaxUS))/1000)
		ys = append(ys, float64(seen)/total)
	}
	return xs, ys
}
