package benchmarks

import (
	"context"
	"math"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/procstat"
)

// point runs one system at N subscribers and R events per second: deploy
// fresh servers, connect the subscribers, publish through a warm-up and the
// window, wait for the window's last deliveries, and read what every process
// used.
func (r *runner) point(ctx context.Context, sys System, n, rate int) PointResult {
	res := PointResult{System: sys.Name, Label: sys.Label, N: n, Rate: rate, OriginConnections: -1, OriginSubscriptions: -1}
	began := time.Now()
	d, err := deploy(ctx, r.env, sys, r.perConnection())
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer d.stop()
	subs, err := load.Subscribe(ctx, d.target, n, setupTimeout(n))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer subs.Stop()
	res.SetupSeconds = time.Since(began).Seconds()

	// Count what the origin serves before the publisher connects.
	time.Sleep(300 * time.Millisecond)
	if d.origin != nil {
		res.OriginConnections = establishedTo(d.upstreamPorts...)
		if v, err := d.origin.Sum("subpub_origin_subscriptions_active"); err == nil {
			res.OriginSubscriptions = int(math.Round(v))
		}
	}

	publish, closePublish, err := d.publish.Open()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer closePublish()
	w := load.WindowAt(time.Now(), r.cfg.Warmup, r.cfg.Window)
	subs.SetWindow(w)
	pub := &load.Publisher{Rate: rate, Publish: publish}
	published := make(chan load.PublishStats, 1)
	go func() { published <- pub.Run(ctx, w) }()

	load.SleepUntil(ctx, time.UnixMilli(w.StartMS))
	profiled := r.profile(ctx, d, sys, n, rate, w.Duration())
	before := r.usage(d)
	load.SleepUntil(ctx, time.UnixMilli(w.EndMS))
	after := r.usage(d)
	if err := <-profiled; err != nil {
		r.cfg.logger().Warn("profiling", "system", sys.Name, "err", err)
	}
	res.Publish = <-published
	res.WindowSeconds = w.Duration().Seconds()
	if count, ok, err := load.CountPublished(ctx, d.publish, w); err != nil {
		r.cfg.logger().Warn("counting the window's events; using the publisher's count", "system", sys.Name, "err", err)
	} else if ok {
		res.Publish.Published = count
		res.Publish.Achieved = float64(count) / res.WindowSeconds
	}
	res.Expected = int64(n) * res.Publish.Published
	drainUntil := time.Now().Add(r.cfg.Drain)
	for subs.Delivered() < res.Expected && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	res.Delivered = subs.Delivered()
	if res.Expected > 0 {
		res.Fraction = float64(res.Delivered) / float64(res.Expected)
	}
	res.DeliveriesPerSec = float64(res.Delivered) / res.WindowSeconds
	res.LatencyFigures = latencyFigures(subs.Latency())
	res.Reconnects = subs.Failures()
	res.ReadBytes = subs.Bytes()

	window := w.Duration()
	for i, s := range d.servers {
		peak := procstat.Read(s.pid).PeakKB
		res.Servers = append(res.Servers, usageBetween(s.Role, before.servers[i], after.servers[i], window, peak))
	}
	res.LoadGen = usageBetween("load generator", before.self, after.self, window, 0)
	if d.bareCtrl != "" {
		if st, err := load.FetchBareStats(ctx, d.bareCtrl, w); err == nil {
			res.Bare = &st
		}
	}
	return res
}

// setupTimeout bounds how long n subscribers may take to connect.
func setupTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(n)*2*time.Millisecond
}

// usageSnapshot is the CPU time of every process of a deployment and of the
// bench process at one instant.
type usageSnapshot struct {
	servers []time.Duration
	self    time.Duration
}

func (r *runner) usage(d *deployment) usageSnapshot {
	s := usageSnapshot{self: procstat.SelfCPU()}
	for _, srv := range d.servers {
		s.servers = append(s.servers, procstat.Read(srv.pid).CPU)
	}
	return s
}

func usageBetween(role string, before, after, window time.Duration, peakKB int64) Usage {
	cpu := after - before
	return Usage{
		Role:       role,
		CPUSeconds: cpu.Seconds(),
		CPUPercent: 100 * cpu.Seconds() / window.Seconds(),
		PeakRSSMB:  float64(peakKB) / 1024,
	}
}
