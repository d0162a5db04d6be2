package restart

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/procstat"
	"github.com/subpub/subpub/internal/launch"
)

// Config is one run.
type Config struct {
	// Subscribers follow the stream through the edge. Default 5,000.
	Subscribers int
	// Spread is how many distinct positions the subscribers resume from
	// (see the package comment). Default 20.
	Spread int
	// Rate is the notes posted a second throughout. Default 5.
	Rate int
	// Settle is how long the run goes on measuring once every subscriber
	// is back and has an event of its new stream. Default 3 s.
	Settle time.Duration
	// Rounds is how many times each mode runs, in turn (shared, separate,
	// shared...): which subscriber comes back first, and so which id the
	// shared subscription starts from, is chance. Default 3.
	Rounds int
	// Out receives report.md and report.json; empty: nowhere.
	Out string
	// ServerLog receives the servers' standard error (their logs) besides
	// the origin's access log, which the run reads; nil: discarded.
	ServerLog io.Writer
	// Progress receives a line per step; nil: discarded.
	Progress io.Writer
}

// Defaults of a Config.
const (
	DefaultSubscribers = 5000
	DefaultSpread      = 20
	DefaultRate        = 5
	DefaultSettle      = 3 * time.Second
	DefaultRounds      = 3
	// stormTimeout bounds how long the subscribers may take to come back.
	stormTimeout = 2 * time.Minute
)

// The origin's one actor, whose outbox everyone follows.
const (
	user       = "alice"
	userToken  = "restart-token"
	outboxPath = "/users/" + user + "/outbox"
	loopback   = "127.0.0.1"
)

// Modes are the edge's configurations compared, in the order they run.
var Modes = []Mode{
	{Name: "shared", Flags: nil},
	{Name: "separate", Flags: []string{"--separate-catchups", "--catchup-rate", "-1"}},
}

// Mode is an edge configuration: its name in the report and its flags.
type Mode struct {
	Name  string
	Flags []string
}

func (c *Config) defaults() {
	c.Subscribers = max(c.Subscribers, 0)
	if c.Subscribers == 0 {
		c.Subscribers = DefaultSubscribers
	}
	if c.Spread <= 0 {
		c.Spread = DefaultSpread
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	if c.Rounds <= 0 {
		c.Rounds = DefaultRounds
	}
	if c.ServerLog == nil {
		c.ServerLog = io.Discard
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Run starts the origin, then for each mode an edge and the subscribers,
// restarts the edge and measures the storm.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	dir, err := os.MkdirTemp("", "subpub-restart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	access := &accessCounter{}
	origin, err := launch.Start(ctx, "origin", launch.Options{Stderr: io.MultiWriter(cfg.ServerLog, access)},
		"--listen", loopback+":0", "--listen-plain", loopback+":0", "--metrics", loopback+":0",
		"--data", filepath.Join(dir, "origin"), "--user", user+":"+userToken,
		"--max-per-client", "-1", "--access-log", "--log-level", "info")
	if err != nil {
		return nil, err
	}
	defer origin.Stop()
	publish, closePublish, err := load.PublishTarget{Kind: load.PublishOrigin, URL: origin.PlainURL(outboxPath), Token: userToken, Body: note}.Open()
	if err != nil {
		return nil, err
	}
	defer closePublish()
	// Enough events that the first subscribers' ids already differ.
	for range cfg.Spread {
		if err := publish(ctx); err != nil {
			return nil, fmt.Errorf("publishing: %w", err)
		}
	}
	stopPublishing := publishSteadily(ctx, publish, cfg.Rate)
	defer stopPublishing()

	report := &Report{Subscribers: cfg.Subscribers, Spread: cfg.Spread, Rate: cfg.Rate, Settle: cfg.Settle.String(), Rounds: cfg.Rounds, Machine: machine()}
	for round := range cfg.Rounds {
		for _, mode := range Modes {
			fmt.Fprintf(cfg.Progress, "restart: round %d, %s: %d subscribers through a new edge\n", round+1, mode.Name, cfg.Subscribers)
			phase, err := runPhase(ctx, cfg, dir, origin, access, mode)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round+1, mode.Name, err)
			}
			phase.Round = round + 1
			fmt.Fprintf(cfg.Progress, "restart: round %d, %s: origin served %d subscriptions, %d requests; all back in %.1f s\n",
				round+1, mode.Name, phase.OriginSubscriptions, phase.OriginRequests, phase.BackSeconds)
			report.Phases = append(report.Phases, phase)
		}
	}
	if cfg.Out != "" {
		if err := report.Write(cfg.Out); err != nil {
			return nil, err
		}
	}
	return report, nil
}

// note is the body posted: a public Note.
var note = []byte(`{"@context":"https://www.w3.org/ns/activitystreams","type":"Create","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"type":"Note","content":"An edge restarts."}}`)

// publishSteadily posts rate notes a second until stopped.
func publishSteadily(ctx context.Context, publish load.PublishFunc, rate int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				publish(ctx)
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// runPhase is one mode: an edge, the subscribers, the kill, the restart and
// the storm.
func runPhase(ctx context.Context, cfg Config, dir string, origin *launch.Process, access *accessCounter, mode Mode) (Phase, error) {
	p := Phase{Mode: mode.Name, EdgeFlags: strings.Join(mode.Flags, " ")}
	edgeArgs := func(listen, plain, metrics string) []string {
		return append([]string{"--listen", listen, "--listen-plain", plain, "--metrics", metrics,
			"--data", filepath.Join(dir, "edge"),
			"--upstream", "https://" + origin.TLSAddr, "--upstream-cacert", origin.CAFile,
			"--max-per-client", "-1", "--max-upstreams-per-client", "-1", "--log-level", "warn"}, mode.Flags...)
	}
	edge, err := launch.Start(ctx, "edge", launch.Options{Stderr: cfg.ServerLog}, edgeArgs(loopback+":0", loopback+":0", loopback+":0")...)
	if err != nil {
		return p, err
	}
	defer func() { edge.Stop() }()

	rctx, stopReaders := context.WithCancel(ctx)
	var readersDone sync.WaitGroup
	defer func() { stopReaders(); readersDone.Wait() }()
	readers := make([]*reader, cfg.Subscribers)
	for i := range readers {
		r := &reader{addr: edge.PlainAddr, path: outboxPath, lag: i % cfg.Spread}
		readers[i] = r
		readersDone.Go(func() { r.run(rctx) })
	}
	// Every subscriber has received more events than its lag, so that the
	// ids they resume from differ.
	if err := waitUntil(ctx, "every subscriber has received events", func() bool {
		return countReaders(readers, func(r *reader) bool { return r.connects.Load() == 1 && r.received.Load() > int64(r.lag) }) == len(readers)
	}); err != nil {
		return p, err
	}
	for _, r := range readers {
		r.skipped.Store(0)
		r.repeated.Store(0)
		r.gaps.Store(0)
	}

	before, err := originReading(origin, access)
	if err != nil {
		return p, err
	}
	selfBefore := procstat.SelfCPU()
	p.LoadBefore = procstat.LoadAverage()
	killed := time.Now()
	edge.Kill()
	edge, err = launch.Start(ctx, "edge", launch.Options{Stderr: cfg.ServerLog}, edgeArgs(edge.TLSAddr, edge.PlainAddr, edge.MetricsAddr)...)
	if err != nil {
		return p, fmt.Errorf("starting the edge again: %w", err)
	}
	p.RestartSeconds = time.Since(killed).Seconds()
	back := func(r *reader) bool { return r.connects.Load() >= 2 && r.onStream.Load() > 0 }
	if err := waitUntil(ctx, "every subscriber is back", func() bool { return countReaders(readers, back) == len(readers) }); err != nil {
		if ctx.Err() != nil {
			return p, err
		}
		// Measured all the same: that not all came back is the result.
		p.Incomplete = true
	}
	p.BackSeconds = time.Since(killed).Seconds()
	select {
	case <-ctx.Done():
		return p, ctx.Err()
	case <-time.After(cfg.Settle):
	}
	p.WindowSeconds = time.Since(killed).Seconds()
	after, err := originReading(origin, access)
	if err != nil {
		return p, err
	}
	p.CPU = map[string]float64{
		cpuOrigin: (after.cpu - before.cpu).Seconds(),
		cpuEdge:   procstat.Read(edge.Cmd.Process.Pid).CPU.Seconds(),
		cpuLoad:   (procstat.SelfCPU() - selfBefore).Seconds(),
	}
	p.LoadAfter = procstat.LoadAverage()
	p.Back = countReaders(readers, back)
	p.OriginSubscriptions = int64(after.subscriptions - before.subscriptions)
	p.OriginRefused = int64(after.refused - before.refused)
	if catchUps, err := edge.Metrics("subpub_edge_catchups_total"); err == nil {
		p.EdgeCatchUps = map[string]int64{}
		for labels, v := range catchUps {
			p.EdgeCatchUps[strings.TrimSuffix(strings.TrimPrefix(labels, `outcome="`), `"`)] = int64(v)
		}
	}
	for _, r := range readers {
		p.Skipped += r.skipped.Load()
		p.Repeated += r.repeated.Load()
		p.Gaps += r.gaps.Load()
		for status, n := range r.refusals() {
			if p.Refused == nil {
				p.Refused = map[string]int64{}
			}
			p.Refused[strconv.Itoa(status)] += n
		}
		p.Reconnects += r.connects.Load() - 1
	}
	// The origin logs a request when it ends: end them all (the
	// subscriptions of the edge), then count what it logged since the
	// kill, less the subscriptions of the edge that was killed.
	stopReaders()
	readersDone.Wait()
	edge.Stop()
	if err := waitUntil(ctx, "the origin has ended the edge's subscriptions", func() bool {
		r, err := originReading(origin, access)
		return err == nil && r.active == 0
	}); err != nil {
		return p, err
	}
	p.OriginRequests = access.requests() - before.requests - int64(before.active)
	p.OriginUnanswered = access.unanswered.Load() - before.unanswered
	return p, nil
}

// originReading is what the origin has done so far.
type originSnapshot struct {
	cpu                            time.Duration
	subscriptions, refused, active float64
	requests, unanswered           int64
}

func originReading(origin *launch.Process, access *accessCounter) (originSnapshot, error) {
	r := originSnapshot{cpu: procstat.Read(origin.Cmd.Process.Pid).CPU, requests: access.requests(), unanswered: access.unanswered.Load()}
	closed, err := origin.Sum("subpub_origin_subscriptions_closed_total")
	if err != nil {
		return r, err
	}
	if r.active, err = origin.Sum("subpub_origin_subscriptions_active"); err != nil {
		return r, err
	}
	if r.refused, err = origin.Sum("subpub_origin_subscriptions_rejected_total"); err != nil {
		return r, err
	}
	r.subscriptions = closed + r.active
	return r, nil
}

func countReaders(readers []*reader, ok func(*reader) bool) int {
	n := 0
	for _, r := range readers {
		if ok(r) {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds, at most stormTimeout.
func waitUntil(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(stormTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v: %s", stormTimeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// accessCounter counts the origin's access log lines for requests that are
// not publications (the run's own POSTs): what the edge asks of it.
type accessCounter struct {
	mu      sync.Mutex
	partial []byte
	n       atomic.Int64
	// unanswered counts those the origin never answered (status 0: the
	// edge gave up waiting, or the connection was closed first).
	unanswered atomic.Int64
}

func (a *accessCounter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.partial = append(a.partial, p...)
	for {
		i := bytes.IndexByte(a.partial, '\n')
		if i < 0 {
			break
		}
		line := a.partial[:i]
		if bytes.Contains(line, []byte("msg=access")) && !bytes.Contains(line, []byte("method=POST")) {
			a.n.Add(1)
			if bytes.Contains(line, []byte(" status=0 ")) {
				a.unanswered.Add(1)
			}
		}
		a.partial = a.partial[i+1:]
	}
	return len(p), nil
}

func (a *accessCounter) requests() int64 { return a.n.Load() }

// machine describes where the run ran.
func machine() string {
	return fmt.Sprintf("%d cores, %s, %s", runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339))
}
