package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/subpub/subpub/benchmarks/procstat"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/testkit"
)

// Run runs the suite as cfg says and returns its report, written to
// cfg.Out if it is set. An error means the suite could not run (a server
// would not start); what it found is in the report (Report.Pass).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	say := func(format string, args ...any) {
		fmt.Fprintf(progress, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
	}
	serverLog := cfg.ServerLog
	if serverLog == nil {
		serverLog = io.Discard
	}
	rep := &Report{Seed: cfg.Seed, Began: time.Now().UTC(), Config: summarize(cfg), Cores: runtime.NumCPU(), LoadBefore: procstat.LoadAverage()}
	say("seed %d", cfg.Seed)
	dir, err := os.MkdirTemp("", "subpub-chaos-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	t, err := startTiers(ctx, dir, serverLog, cfg.MaxUpstreamsPerClient)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	say("origin %s, edge1 %s (upstream over HTTP/3), edge2 %s (upstream over HTTP/2)", t.origin.tlsAddr, t.edge1.tlsAddr, t.edge2.tlsAddr)
	notes, err := newPoster()
	if err != nil {
		return nil, err
	}
	defer notes.c.Close()
	notes.origin = t.origin
	baseline, err := notes.baseline(ctx)
	if err != nil {
		return nil, err
	}
	pop, err := startPopulation(ctx, t, cfg.Subscribers)
	if err != nil {
		return nil, err
	}
	defer pop.stop()
	say("%d subscribers established; posting %d notes a second", len(pop.subs), cfg.Rate)

	pubCtx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	published := make(chan load.PublishStats, 1)
	go func() {
		p := load.Publisher{Rate: cfg.Rate, Publish: func(ctx context.Context) error {
			_, err := notes.post(ctx, "a note")
			return err
		}}
		now := time.Now()
		published <- p.Run(pubCtx, load.Window{StartMS: now.UnixMilli(), EndMS: now.Add(24 * time.Hour).UnixMilli()})
	}()

	rep.Faults = plan(cfg.Seed, cfg.KillsPerServer, cfg.MinWait, cfg.MaxWait, cfg.MaxDown)
	for i := range rep.Faults {
		f := &rep.Faults[i]
		load.SleepUntil(ctx, time.Now().Add(f.Wait))
		srv := t.byName(f.Server)
		f.KilledAt = time.Now()
		srv.kill()
		load.SleepUntil(ctx, time.Now().Add(f.Down))
		if err := srv.start(ctx); err != nil {
			f.Err = err.Error()
			return nil, fmt.Errorf("fault %d: %w", i+1, err)
		}
		f.Restarted = time.Now()
		say("fault %d/%d: kill -9 %s, started again after %v", i+1, len(rep.Faults), f.Server, f.Restarted.Sub(f.KilledAt).Round(time.Millisecond))
	}
	load.SleepUntil(ctx, time.Now().Add(cfg.Settle))

	say("attacks: revocation, query-string flood%s", map[bool]string{true: ", zero-window client"}[cfg.ZeroWindow])
	// The revocation, then the floods, so that the bound on the flooder's
	// upstream subscriptions is read without the revocation's; the
	// zero-window clients meanwhile.
	var attacks sync.WaitGroup
	attacks.Go(func() {
		rep.Revocation = revocation(ctx, t)
		for _, srv := range []*server{t.edge2, t.edge1, t.origin} {
			rep.Floods = append(rep.Floods, flood(ctx, t, srv, cfg.FloodRequests, cfg.MaxUpstreamsPerClient))
		}
	})
	if cfg.ZeroWindow {
		var mu sync.Mutex
		for _, srv := range []*server{t.edge2, t.origin} {
			attacks.Go(func() {
				r := zeroWindow(ctx, srv)
				mu.Lock()
				rep.ZeroWindow = append(rep.ZeroWindow, r)
				mu.Unlock()
			})
		}
	}
	attacks.Wait()

	stopPublishing()
	rep.Published = <-published
	expected, err := notes.expected(ctx, baseline)
	if err != nil {
		return nil, err
	}
	last := expected[len(expected)-1]
	say("%d events in the log; waiting for everyone to receive the last", len(expected))
	waitUntil(ctx, cfg.Settle+testkit.Timeout, func() bool {
		for _, s := range pop.subs {
			if !s.has(last) {
				return false
			}
		}
		return true
	})
	rep.check(expected, pop.subs)
	rep.Recovery = recoveries(rep.Faults, pop.subs, wayNames())
	rep.Seconds = time.Since(rep.Began).Seconds()
	rep.LoadAfter = procstat.LoadAverage()
	rep.judge()
	say("checked %d events: %d lost, %d duplicated, %d reordered, %d gaps; pass: %v",
		rep.Total.Expected, rep.Total.Lost, rep.Total.Duplicated, rep.Total.Reordered, rep.Total.Gaps, rep.Pass)
	if cfg.Out != "" {
		if err := rep.Write(cfg.Out); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// wayNames are the six ways' names, in the report's order.
func wayNames() []string {
	var names []string
	for _, w := range testkit.EveryWay {
		names = append(names, w.Name)
	}
	return names
}
