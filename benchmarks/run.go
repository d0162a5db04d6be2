package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/setting"
)

// runner carries a run's configuration and state from step to step.
type runner struct {
	cfg      Config
	env      *environment
	progress *progress
	results  *Results
	// cleanups undo what steps set up for later steps (the lossy link),
	// whether or not the run gets to the steps that would.
	cleanups []func()
}

func (r *runner) perConnection() int { return setting.Or(r.cfg.PerConnection, DefaultPerConnection) }

func (r *runner) muxReader() string { return setting.Or(r.cfg.MultiplexedReader, load.ReaderLean) }

// step is one part of a run, with its expected duration for the progress
// bar.
type step struct {
	label    string
	expected time.Duration
	run      func(ctx context.Context)
}

// Run runs the benchmarks cfg describes and writes results.json, report.md
// and the plots into cfg.Out. Each system runs in turn at each point, so
// that what the machine is doing meanwhile affects them alike; the figures
// worth quoting are ratios within one run.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.Out == "" {
		return nil, errors.New("benchmarks: Config.Out is required")
	}
	cfg.Warmup = setting.Or(cfg.Warmup, DefaultWarmup)
	cfg.Window = setting.Or(cfg.Window, DefaultWindow)
	cfg.Drain = setting.Or(cfg.Drain, DefaultDrain)
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "subpub-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	// Peers that drop privileges (varnishd) read their files from here.
	if err := os.Chmod(scratch, 0o755); err != nil {
		return nil, err
	}
	stderr := cfg.ServerLog
	if stderr == nil {
		stderr = io.Discard
	}
	// Run private copies of the programs: they may be rebuilt while a long
	// run goes on, and every server (every child) of the run should be the
	// same program.
	binary, err := privateCopy(cfg.Binary, launch.Binary, scratch)
	if err != nil {
		return nil, err
	}
	childBinary, err := privateCopy(cfg.ChildBinary, os.Executable, scratch)
	if err != nil {
		return nil, err
	}
	// internal/launch takes the binary to run from the environment.
	if prev, had := os.LookupEnv("SUBPUB_BIN"); had {
		defer os.Setenv("SUBPUB_BIN", prev)
	} else {
		defer os.Unsetenv("SUBPUB_BIN")
	}
	os.Setenv("SUBPUB_BIN", binary)
	systems := cfg.systems()
	if len(systems) == 0 {
		return nil, errors.New("benchmarks: no system selected")
	}
	if m := cfg.MultiplexedReader; m != "" && m != load.ReaderLean && m != load.ReaderClient {
		return nil, fmt.Errorf("benchmarks: unknown multiplexed reader %q (%s or %s)", m, load.ReaderLean, load.ReaderClient)
	}
	log := cfg.logger()
	r := &runner{cfg: cfg, env: &environment{binary: binary, childBinary: childBinary, dir: scratch, stderr: stderr}}
	r.env.muxReader = r.muxReader()
	r.env.profile = cfg.Profile
	defer func() {
		for _, undo := range r.cleanups {
			undo()
		}
	}()
	r.results = &Results{Machine: describeMachine(), Config: r.summary(systems)}
	if cfg.Peers {
		if err := peersAvailable(); err != nil {
			return nil, fmt.Errorf("benchmarks: --peers: %w", err)
		}
		r.results.Machine.Peers = peerVersions()
	}
	began := time.Now()

	sample, err := probeEvent(ctx, r.env)
	if err != nil {
		return nil, fmt.Errorf("benchmarks: measuring the workload's event: %w", err)
	}
	r.env.sample = sample
	r.results.Sample = sample
	log.Info("workload event", "type", sample.Type, "data_bytes", sample.DataBytes, "sse_bytes", sample.SSEBytes, "pub_bytes", sample.PUBBytes)

	steps := r.plan(systems)
	var total time.Duration
	for _, s := range steps {
		total += s.expected
	}
	r.progress = newProgress(cfg.Progress, total)
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		r.progress.begin(s.label)
		s.run(ctx)
		r.progress.finish(s.expected)
		r.results.Elapsed = time.Since(began).Seconds()
		if err := r.results.save(cfg.Out); err != nil {
			return nil, err
		}
	}
	r.progress.close()
	if ctx.Err() != nil {
		return r.results, ctx.Err()
	}
	if err := writeReport(cfg.Out, r.results); err != nil {
		return r.results, err
	}
	if err := writePlots(cfg.Out, r.results); err != nil {
		return r.results, fmt.Errorf("benchmarks: plots: %w", err)
	}
	return r.results, nil
}

// plan lists the steps: the sweep, N by N and R by R with every system in
// turn, then memory and bytes per event, then the lossy link.
func (r *runner) plan(systems []System) []step {
	var steps []step
	limit := setting.Or(r.cfg.MultiplexedAbove, DefaultMultiplexedAbove)
	for _, n := range r.cfg.subscribers() {
		for _, rate := range r.cfg.rates() {
			for _, sys := range systems {
				if n > limit && !sys.multiplexed() {
					continue
				}
				expected := r.cfg.Warmup + r.cfg.Window + 3*time.Second + setupTimeout(n)/10
				steps = append(steps, step{
					label:    fmt.Sprintf("%s N=%d R=%d", sys.Name, n, rate),
					expected: expected,
					run: func(ctx context.Context) {
						res := r.point(ctx, sys, n, rate)
						if res.Error != "" {
							r.cfg.logger().Warn("point failed", "system", sys.Name, "n", n, "rate", rate, "err", res.Error)
						}
						r.results.Points = append(r.results.Points, res)
					},
				})
			}
		}
	}
	if r.cfg.IdleSubscribers >= 0 {
		for _, sys := range Systems() {
			if sys.Server != serverEdge && sys.Name != baselineSystem {
				continue
			}
			steps = append(steps, step{
				label:    "memory, bytes: " + sys.Name,
				expected: 10*time.Second + setupTimeout(setting.Or(r.cfg.IdleSubscribers, DefaultIdleSubscribers))/10,
				run: func(ctx context.Context) {
					mem, wire := r.idleAndWire(ctx, sys)
					r.results.Memory = append(r.results.Memory, mem)
					r.results.Wire = append(r.results.Wire, wire)
				},
			})
		}
	}
	if len(r.cfg.Loss.Drops) > 0 {
		steps = append(steps, r.lossSteps()...)
	}
	return steps
}

// privateCopy copies the program at path, or if path is empty the one def
// names, into dir and returns the copy's path.
func privateCopy(path string, def func() (string, error), dir string) (string, error) {
	if path == "" {
		var err error
		if path, err = def(); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	return dst, os.WriteFile(dst, b, 0o755)
}

func (r *runner) summary(systems []System) ConfigSummary {
	s := ConfigSummary{
		Subscribers:       r.cfg.subscribers(),
		Rates:             r.cfg.rates(),
		PerConnection:     r.perConnection(),
		MultiplexedReader: r.muxReader(),
		WarmupSeconds:     r.cfg.Warmup.Seconds(),
		WindowSeconds:     r.cfg.Window.Seconds(),
		DrainSeconds:      r.cfg.Drain.Seconds(),
		IdleSubscribers:   setting.Or(r.cfg.IdleSubscribers, DefaultIdleSubscribers),
		WireEvents:        setting.Or(r.cfg.WireEvents, DefaultWireEvents),
	}
	for _, sys := range systems {
		s.Systems = append(s.Systems, sys.Name)
	}
	return s
}
