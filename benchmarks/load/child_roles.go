package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/subpub/subpub/benchmarks/procstat"
	"github.com/subpub/subpub/benchmarks/stats"
)

// SubscribersConfig is what a subscribers child is told first.
type SubscribersConfig struct {
	Target    Target `json:"target"`
	N         int    `json:"n"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// SubscribersWindow is what it is told once the parent has fixed the window.
type SubscribersWindow struct {
	Window  Window `json:"window"`
	DrainMS int64  `json:"drain_ms"`
}

// SubscribersResult is what it answers after the window and the drain.
type SubscribersResult struct {
	Latency    stats.Latency `json:"latency"`
	Delivered  int64         `json:"delivered"`
	Opened     int64         `json:"opened"`
	Failures   int64         `json:"failures"`
	Bytes      int64         `json:"bytes"`
	CPUSeconds float64       `json:"cpu_seconds"`
}

func runSubscribersChild(ctx context.Context, dec *json.Decoder, out io.Writer) error {
	cfg, err := readConfig[SubscribersConfig](dec)
	if err != nil {
		return err
	}
	subs, err := Subscribe(ctx, cfg.Target, cfg.N, time.Duration(cfg.TimeoutMS)*time.Millisecond)
	if err != nil {
		return err
	}
	defer subs.Stop()
	fmt.Fprintln(out, "ready")
	var w SubscribersWindow
	decoded := make(chan error, 1)
	go func() { decoded <- dec.Decode(&w) }()
	select {
	case err := <-decoded:
		if err != nil {
			return errChildUsage
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	subs.recs.setWindow(w.Window)
	cpu0 := procstat.SelfCPU()
	SleepUntil(ctx, time.UnixMilli(w.Window.EndMS))
	cpu := procstat.SelfCPU() - cpu0
	SleepUntil(ctx, time.UnixMilli(w.Window.EndMS+w.DrainMS))
	return answer(ctx, dec, out, SubscribersResult{
		Latency:    subs.recs.latency(),
		Delivered:  subs.recs.delivered(),
		Opened:     subs.recs.opened(),
		Failures:   subs.recs.failures(),
		Bytes:      subs.recs.bytes(),
		CPUSeconds: cpu.Seconds(),
	})
}

// PublisherConfig configures a publisher child: it publishes to an origin's
// outbox from now until the end of the window.
type PublisherConfig struct {
	Origin PublishTarget `json:"origin"`
	Rate   int           `json:"rate"`
	Window Window        `json:"window"`
}

func runPublisherChild(ctx context.Context, dec *json.Decoder, out io.Writer) error {
	cfg, err := readConfig[PublisherConfig](dec)
	if err != nil {
		return err
	}
	publish, closePublish, err := cfg.Origin.Open()
	if err != nil {
		return err
	}
	defer closePublish()
	fmt.Fprintln(out, "ready")
	p := &Publisher{Rate: cfg.Rate, Publish: publish}
	stats := p.Run(ctx, cfg.Window)
	if count, ok, err := CountPublished(ctx, cfg.Origin, cfg.Window); err == nil && ok {
		stats.Published = count
		stats.Achieved = float64(count) / cfg.Window.Duration().Seconds()
	}
	return answer(ctx, dec, out, stats)
}
