// Command subpub-bench compares SUB/PUB through the edge with direct SSE,
// the bare-socket limit and peers: the command line of package benchmarks;
// `subpub-bench chaos` is the fault suite's, package benchmarks/chaos.
// It is a binary of its own so that the servers' binary, subpub, does not
// link the load generator and the plotting; `subpub bench` runs it. It
// runs the servers from the subpub binary beside it, and plays the load
// generator's child roles itself (--child).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/subpub/subpub/benchmarks"
	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/cli"
)

const benchExamples = `  # a quick side-by-side comparison (about 7 minutes): what make bench runs
  subpub bench --quick --out benchmarks/results/quick

  # the full sweep (about 28 minutes), whose report is committed
  subpub bench --full --out benchmarks/results/latest

  # with nginx+nchan and Varnish (installed by benchmarks/install-peers.sh)
  subpub bench --quick --peers --out benchmarks/results/peers

  # one system, chosen points
  subpub bench --systems edge-sub-h2,bare-sse-h1 --subscribers 1000 --rates 100 --loss '' --idle -1 --out /tmp/b

  # the fault suite (subpub bench chaos --help)
  subpub bench chaos --out benchmarks/results/chaos

  # the origin's load after an edge restart (subpub bench restart --help)
  subpub bench restart --out benchmarks/results/restart
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := runBench(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(cli.ExitCode("subpub bench", err, os.Stderr))
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "chaos" {
		return runChaos(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "restart" {
		return runRestart(ctx, args[1:], stdout, stderr)
	}
	fs := cli.NewFlagSet("subpub bench", "[flags]", benchExamples, stdout, stderr)
	quick := fs.Bool("quick", false, "the quick preset (the default; about 7 minutes): N = 100 and 1,000, R = 10 and 100, 6 s windows")
	full := fs.Bool("full", false, "the full sweep (about 28 minutes): N up to 50,000 (HTTP/2, HTTP/3), 15 s windows, 5,000 idle subscribers")
	out := fs.String("out", "benchmarks/results/quick", "write results.json, report.md and the plots into this `directory`")
	peers := fs.Bool("peers", false, "compare with nginx+nchan and Varnish too (benchmarks/install-peers.sh installs them)")
	profile := fs.Bool("profile", false, "record a CPU profile of the edge (or the origin) over each point's window, in --out's profiles/ (read with go tool pprof)")
	systems := fs.String("systems", "", "comma-separated `names` of the systems to run (default: all of the sweep): "+systemNames())
	subscribers := fs.String("subscribers", "", "comma-separated subscriber `counts` N (overrides the preset)")
	rates := fs.String("rates", "", "comma-separated publish `rates` R in events/s (overrides the preset)")
	warmup := fs.Duration("warmup", 0, "warm-up before each window (default: the preset's)")
	window := fs.Duration("window", 0, "measured window of each point (default: the preset's)")
	drain := fs.Duration("drain", 0, "how long to wait for a window's last deliveries (default: the preset's)")
	perConn := fs.Int("per-connection", 0, "subscriptions per HTTP/2 or HTTP/3 connection (default 100)")
	h1Max := fs.Int("h1-max", 0, "the largest N at which HTTP/1.1 systems run, one connection per subscriber (default 5000)")
	idle := fs.Int("idle", 0, "idle subscribers for memory and bytes per event (-1: skip; default: the preset's)")
	loss := fs.String("loss", "", "comma-separated drop `percentages` for HTTP/2 versus HTTP/3 over the lossy link (default: the preset's, 0, 0.5 and 2; '' skips the comparison)")
	lossWindow := fs.Duration("loss-window", 0, "measured window of each lossy-link run (default: the preset's)")
	lossSystems := fs.String("loss-systems", "", "comma-separated `names` of the systems compared over the lossy link (default: edge-sub-h2,edge-sub-h3; edge-sse-h2,edge-sse-h3 compares the transports with the same bytes)")
	serverLog := serverLogFlag(fs)
	noProgress := fs.Bool("no-progress", false, "do not show the progress bar")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	render := fs.Bool("render", false, "only write the report and the plots again from --out's results.json")
	child := fs.String("child", "", "internal: play a benchmark child `role` (bare-sender, subscribers, publisher)")
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	logger, err := cli.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	if *child != "" {
		return load.RunChild(ctx, *child, os.Stdin, stdout, logger)
	}
	if *render {
		return benchmarks.Render(*out)
	}
	if *quick && *full {
		return cli.Usagef("--quick and --full exclude each other")
	}
	cfg := benchmarks.Quick(*out)
	if *full {
		cfg = benchmarks.Full(*out)
	}
	cfg.Peers = *peers
	cfg.Profile = *profile
	cfg.Logger = logger
	if !*noProgress {
		cfg.Progress = stderr
	}
	if *systems != "" {
		cfg.Systems = strings.Split(*systems, ",")
	}
	if cfg.Subscribers, err = intList(*subscribers, cfg.Subscribers); err != nil {
		return cli.Usagef("--subscribers: %v", err)
	}
	if cfg.Rates, err = intList(*rates, cfg.Rates); err != nil {
		return cli.Usagef("--rates: %v", err)
	}
	cfg.Warmup = cmp.Or(*warmup, cfg.Warmup)
	cfg.Window = cmp.Or(*window, cfg.Window)
	cfg.Drain = cmp.Or(*drain, cfg.Drain)
	cfg.Loss.Window = cmp.Or(*lossWindow, cfg.Loss.Window)
	if *lossSystems != "" {
		cfg.Loss.Systems = strings.Split(*lossSystems, ",")
	}
	cfg.PerConnection = cmp.Or(*perConn, cfg.PerConnection)
	cfg.MultiplexedAbove = cmp.Or(*h1Max, cfg.MultiplexedAbove)
	if *idle != 0 {
		cfg.IdleSubscribers = *idle
	}
	if isSet(fs, "loss") {
		if cfg.Loss.Drops, err = percentList(*loss); err != nil {
			return cli.Usagef("--loss: %v", err)
		}
	}
	logFile, closeLog, err := openServerLog(*serverLog)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.ServerLog = logFile
	// The servers are the subpub binary beside this one, where make build
	// puts it; without one, Run finds or builds one (see Config.Binary).
	// The children are this very binary (Config.ChildBinary's default).
	if subpub, err := cli.Sibling("subpub"); err == nil {
		cfg.Binary = subpub
	}
	res, err := benchmarks.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s/report.md (%d points in %v)\n", *out, len(res.Points), time.Duration(res.Elapsed*float64(time.Second)).Round(time.Second))
	return nil
}

// serverLogFlag is --server-log, which the benchmarks and the fault suite
// share.
// useSiblingSubpub has the servers (and `subpub token`) run from the
// subpub binary beside this one, where make build puts it; internal/launch
// takes it from the environment, and builds one without it.
func useSiblingSubpub() {
	if _, set := os.LookupEnv("SUBPUB_BIN"); !set {
		if subpub, err := cli.Sibling("subpub"); err == nil {
			os.Setenv("SUBPUB_BIN", subpub)
		}
	}
}

func serverLogFlag(fs *flag.FlagSet) *string {
	return fs.String("server-log", "", "append the servers' standard error to this `file`")
}

// openServerLog opens --server-log's file for appending, and returns it
// (nil if path is empty) and what closes it.
func openServerLog(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func systemNames() string {
	var names []string
	for _, s := range benchmarks.Systems() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// intList parses "100,1000"; empty keeps def.
func intList(s string, def []int) ([]int, error) {
	if s == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// percentList parses "0,0.5,2" (percent) into probabilities; empty is none.
func percentList(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || v >= 100 {
			return nil, fmt.Errorf("%q is not a percentage", f)
		}
		out = append(out, v/100)
	}
	return out, nil
}
