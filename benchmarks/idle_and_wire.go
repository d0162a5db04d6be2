package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/procstat"
	"github.com/subpub/subpub/internal/setting"
)

// wireRate is the publish rate of the bytes-per-event measurement: slow
// enough that every event is written on its own (no batching of several
// events per write), which is the worst case and the one a quiet stream
// sees.
const wireRate = 50

// idleAndWire measures, on fresh servers of sys, the memory an idle
// subscription costs and the bytes one event costs per subscriber on the
// wire. Both are differences between two states of the same servers, so
// that what does not depend on the subscribers (the upstream subscription,
// the publisher's traffic, the process's own memory) cancels out:
//
//  1. one subscriber; RSS; E events (loopback bytes B1);
//  2. M more idle subscribers; RSS again: memory = ΔRSS / M;
//  3. E events (loopback bytes B2): bytes per event = (B2 − B1) / (M·E).
func (r *runner) idleAndWire(ctx context.Context, sys System) (MemoryResult, WireResult) {
	idle := setting.Or(r.cfg.IdleSubscribers, DefaultIdleSubscribers)
	events := setting.Or(r.cfg.WireEvents, DefaultWireEvents)
	mem := MemoryResult{System: sys.Name, Label: sys.Label, Subscribers: idle}
	wire := WireResult{System: sys.Name, Label: sys.Label, Proto: sys.Proto, Format: sys.Format, Subscribers: idle, Events: events}
	fail := func(err error) (MemoryResult, WireResult) {
		mem.Error, wire.Error = err.Error(), err.Error()
		return mem, wire
	}
	d, err := deploy(ctx, r.env, sys, r.perConnection())
	if err != nil {
		return fail(err)
	}
	defer d.stop()
	all := load.Window{StartMS: 0, EndMS: math.MaxInt64}
	first, err := load.Subscribe(ctx, d.target, 1, setupTimeout(1))
	if err != nil {
		return fail(err)
	}
	defer first.Stop()
	first.SetWindow(all)
	publish, closePublish, err := d.publish.Open()
	if err != nil {
		return fail(err)
	}
	defer closePublish()
	serverPid := d.servers[len(d.servers)-1].pid // the edge, or the origin alone

	time.Sleep(time.Second)
	rss0 := procstat.Read(serverPid).RSSKB
	b1, err := measureEvents(ctx, publish, events, []*load.Subscribers{first}, 1)
	if err != nil {
		return fail(fmt.Errorf("one subscriber: %w", err))
	}

	more, err := load.Subscribe(ctx, d.target, idle, setupTimeout(idle))
	if err != nil {
		return fail(err)
	}
	defer more.Stop()
	more.SetWindow(all)
	time.Sleep(2 * time.Second)
	rss1 := procstat.Read(serverPid).RSSKB
	mem.BeforeMB, mem.AfterMB = float64(rss0)/1024, float64(rss1)/1024
	mem.PerSubKiB = float64(rss1-rss0) / float64(idle)

	readBefore := more.Bytes()
	b2, err := measureEvents(ctx, publish, events, []*load.Subscribers{first, more}, 1+idle)
	if err != nil {
		wire.Error = fmt.Sprintf("%d subscribers: %v", 1+idle, err)
		return mem, wire
	}
	wire.BytesPerEvent = float64(b2-b1) / float64(idle*events)
	if sys.Proto == "h1" && sys.Format == "sse" {
		wire.ReaderBytesPerEvent = float64(more.Bytes()-readBefore) / float64(idle*events)
	}
	return mem, wire
}

// measureEvents publishes count events at wireRate, waits until the
// subscribers (n in all) have them all, and returns what the loopback
// interface carried meanwhile.
func measureEvents(ctx context.Context, publish load.PublishFunc, count int, sets []*load.Subscribers, n int) (int64, error) {
	delivered := func() int64 {
		var d int64
		for _, s := range sets {
			d += s.Delivered()
		}
		return d
	}
	want := delivered() + int64(n*count)
	start := loopbackBytes()
	if start < 0 {
		return 0, errors.New("the loopback interface's counters are not readable")
	}
	tick := time.NewTicker(time.Second / wireRate)
	defer tick.Stop()
	for range count {
		if err := publish(ctx); err != nil {
			return 0, err
		}
		<-tick.C
	}
	deadline := time.Now().Add(30 * time.Second)
	for delivered() < want {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d deliveries", delivered()-(want-int64(n*count)), n*count)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the last acknowledgements
	return loopbackBytes() - start, nil
}
