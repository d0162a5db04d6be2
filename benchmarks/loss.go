package benchmarks

import (
	"context"
	"fmt"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/netem"
	"github.com/subpub/subpub/internal/setting"
)

// LossResults are the HTTP/2 versus HTTP/3 comparison over the lossy link.
type LossResults struct {
	// Skipped says why the comparison did not run, if it did not.
	Skipped     string    `json:"skipped,omitempty"`
	DelayMS     float64   `json:"one_way_delay_ms"`
	Subscribers int       `json:"subscribers"`
	Rate        int       `json:"rate"`
	Runs        []LossRun `json:"runs"`
}

// LossRun is one system at one drop probability.
type LossRun struct {
	System    string  `json:"system"`
	Label     string  `json:"label"`
	Drop      float64 `json:"drop"`
	Error     string  `json:"error,omitempty"`
	Expected  int64   `json:"expected"`
	Delivered int64   `json:"delivered"`
	Fraction  float64 `json:"fraction"`
	LatencyFigures
	Publish load.PublishStats `json:"publish"`
	// What the link carried towards the subscribers, and dropped both ways.
	PacketsDown int64 `json:"packets_down"`
	BytesDown   int64 `json:"bytes_down"`
	DroppedDown int64 `json:"dropped_down"`
	DroppedUp   int64 `json:"dropped_up"`
	Reconnects  int64 `json:"reconnects"`
	// LoadGenCPU is the subscribers' process's CPU time in the window.
	LoadGenCPU float64 `json:"load_generator_cpu_seconds"`
}

// lossSteps are the steps of the comparison: make the link, run each system
// at each drop probability, remove the link.
func (r *runner) lossSteps() []step {
	lc := r.cfg.Loss
	delay := setting.Or(lc.Delay, DefaultLossDelay)
	window := setting.Or(lc.Window, DefaultLossWindow)
	r.results.Loss = LossResults{
		DelayMS:     float64(delay) / float64(time.Millisecond),
		Subscribers: setting.Or(lc.Subscribers, DefaultLossSubscribers),
		Rate:        setting.Or(lc.Rate, DefaultLossRate),
	}
	var link *netem.Link
	steps := []step{{
		label:    "lossy link: set-up",
		expected: time.Second,
		run: func(ctx context.Context) {
			var err error
			if link, err = netem.New(delay); err != nil {
				r.results.Loss.Skipped = err.Error()
				r.cfg.logger().Warn("skipping HTTP/2 versus HTTP/3 under loss", "reason", err)
				return
			}
			r.cleanups = append(r.cleanups, func() { link.Close() })
		},
	}}
	for _, drop := range lc.Drops {
		for _, name := range lc.systems() {
			sys, ok := systemByName(name)
			if !ok {
				continue
			}
			steps = append(steps, step{
				label:    fmt.Sprintf("loss %.1f%%: %s", 100*drop, sys.Name),
				expected: r.cfg.Warmup + window + r.cfg.Drain + 5*time.Second,
				run: func(ctx context.Context) {
					if link == nil {
						return
					}
					run := r.lossRun(ctx, link, sys, drop, window)
					if run.Error != "" {
						r.cfg.logger().Warn("loss run failed", "system", sys.Name, "drop", drop, "err", run.Error)
					}
					r.results.Loss.Runs = append(r.results.Loss.Runs, run)
				},
			})
		}
	}
	return steps
}

// lossRun runs sys's servers in the server namespace and its subscribers,
// all on one connection, in the client namespace; the publisher runs beside
// the servers so that only the subscribers' side crosses the link.
func (r *runner) lossRun(ctx context.Context, link *netem.Link, sys System, drop float64, window time.Duration) LossRun {
	res := LossRun{System: sys.Name, Label: sys.Label, Drop: drop}
	n := r.results.Loss.Subscribers
	link.SetDrop(drop)
	env := *r.env
	env.netns, env.listenHost = link.ServerNS, link.ServerIP
	d, err := deploy(ctx, &env, sys, n)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer d.stop()
	subs, err := load.StartChild(ctx, env.childBinary, link.ClientNS, load.RoleSubscribers, load.SubscribersConfig{
		Target: d.target, N: n, TimeoutMS: setupTimeout(n).Milliseconds(),
	})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer subs.Stop()
	if _, err := subs.ExpectReady(setupTimeout(n) + 10*time.Second); err != nil {
		res.Error = err.Error()
		return res
	}
	w := load.WindowAt(time.Now(), r.cfg.Warmup, window)
	if err := subs.Send(load.SubscribersWindow{Window: w, DrainMS: r.cfg.Drain.Milliseconds()}); err != nil {
		res.Error = err.Error()
		return res
	}
	pub, err := load.StartChild(ctx, env.childBinary, link.ServerNS, load.RolePublisher, load.PublisherConfig{Origin: d.publish, Rate: r.results.Loss.Rate, Window: w})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer pub.Stop()
	if _, err := pub.ExpectReady(30 * time.Second); err != nil {
		res.Error = err.Error()
		return res
	}
	wait := r.cfg.Warmup + window + 30*time.Second
	if err := pub.Result(&res.Publish, wait); err != nil {
		res.Error = err.Error()
		return res
	}
	var got load.SubscribersResult
	if err := subs.Result(&got, r.cfg.Drain+30*time.Second); err != nil {
		res.Error = err.Error()
		return res
	}
	res.Expected = int64(n) * res.Publish.Published
	res.Delivered = got.Delivered
	if res.Expected > 0 {
		res.Fraction = float64(res.Delivered) / float64(res.Expected)
	}
	res.LatencyFigures = latencyFigures(got.Latency)
	down, up := link.ToClient(), link.ToServer()
	res.PacketsDown, res.BytesDown = down.Packets, down.Bytes
	res.DroppedDown, res.DroppedUp = down.Dropped, up.Dropped
	res.Reconnects = got.Failures
	res.LoadGenCPU = got.CPUSeconds
	return res
}
