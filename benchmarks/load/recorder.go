package load

import (
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/benchmarks/stats"
)

// recorder receives the deliveries of a group of subscribers (those of one
// connection, or a hundred HTTP/1.1 connections): a latency histogram and
// counters, updated without locks from the readers. The window is set once
// the subscribers are connected, before any event of it can be published.
type recorder struct {
	window    atomic.Pointer[Window]
	hist      stats.Histogram
	delivered atomic.Int64 // events of the window received
	outside   atomic.Int64 // events outside it (warm-up, drain)
	opened    atomic.Int64 // subscriptions established (counting re-establishments)
	failures  atomic.Int64 // attempts that ended in an error
	bytes     atomic.Int64 // bytes read from the socket, where the reader can count them
}

// record notes an event published at tMS (milliseconds since the epoch)
// and received at recv.
func (r *recorder) record(tMS int64, recv time.Time) {
	w := r.window.Load()
	if w == nil || !w.contains(tMS) {
		r.outside.Add(1)
		return
	}
	r.delivered.Add(1)
	r.hist.Add(recv.Sub(time.UnixMilli(tMS)))
}

// recorders are the groups of one point.
type recorders []*recorder

func newRecorders(n int) recorders {
	rs := make(recorders, n)
	for i := range rs {
		rs[i] = new(recorder)
	}
	return rs
}

func (rs recorders) setWindow(w Window) {
	for _, r := range rs {
		r.window.Store(&w)
	}
}

func (rs recorders) sum(field func(*recorder) *atomic.Int64) int64 {
	var n int64
	for _, r := range rs {
		n += field(r).Load()
	}
	return n
}

func (rs recorders) delivered() int64 {
	return rs.sum(func(r *recorder) *atomic.Int64 { return &r.delivered })
}

func (rs recorders) opened() int64 {
	return rs.sum(func(r *recorder) *atomic.Int64 { return &r.opened })
}

func (rs recorders) failures() int64 {
	return rs.sum(func(r *recorder) *atomic.Int64 { return &r.failures })
}

func (rs recorders) bytes() int64 {
	return rs.sum(func(r *recorder) *atomic.Int64 { return &r.bytes })
}

func (rs recorders) latency() stats.Latency {
	var l stats.Latency
	for _, r := range rs {
		l = l.Merge(r.hist.Snapshot())
	}
	return l
}
