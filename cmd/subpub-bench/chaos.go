package main

import (
	"cmp"
	"context"
	"fmt"
	"io"

	"github.com/subpub/subpub/benchmarks/chaos"
	"github.com/subpub/subpub/internal/cli"
)

const chaosExamples = `  # the fault suite (several minutes): what make chaos runs
  subpub bench chaos --out benchmarks/results/chaos

  # the same faults again, at the same moments
  subpub bench chaos --seed 1796217116184480175 --out /tmp/chaos

  # the short form the test suite runs (well under a minute)
  subpub bench chaos --short --out /tmp/chaos-short
`

// runChaos is `subpub bench chaos`: the fault suite of package chaos.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub bench chaos", "[flags]", chaosExamples, stdout, stderr)
	out := fs.String("out", "benchmarks/results/chaos", "write report.md and report.json into this `directory`")
	short := fs.Bool("short", false, "the short form: 60 subscribers, one kill of each server, no zero-window client")
	seed := fs.Uint64("seed", 0, "draw the faults from this `seed` (default: one from the clock, 1 with --short; the report gives it)")
	subscribers := fs.Int("subscribers", 0, "subscribers to follow the outbox (default: 1,000; 60 with --short)")
	rate := fs.Int("rate", 0, "notes posted a second (default 10)")
	kills := fs.Int("kills", 0, "kill -9 of each server (default: 10; 1 with --short)")
	serverLog := serverLogFlag(fs)
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]int{"subscribers": *subscribers, "rate": *rate, "kills": *kills} {
		if v < 0 {
			return cli.Usagef("--%s: %d is negative", name, v)
		}
	}
	cfg := chaos.Full(*out)
	if *short {
		cfg = chaos.Short()
		cfg.Out = *out
	}
	cfg.Seed = cmp.Or(*seed, cfg.Seed)
	cfg.Subscribers = cmp.Or(*subscribers, cfg.Subscribers)
	cfg.Rate = cmp.Or(*rate, cfg.Rate)
	cfg.KillsPerServer = cmp.Or(*kills, cfg.KillsPerServer)
	cfg.Progress = stderr
	logFile, closeLog, err := openServerLog(*serverLog)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg.ServerLog = logFile
	useSiblingSubpub()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s/report.md (%s)\n", *out, map[bool]string{true: "pass", false: "FAIL"}[rep.Pass])
	if !rep.Pass {
		return fmt.Errorf("the fault suite failed (seed %d): see %s/report.md", rep.Seed, *out)
	}
	return nil
}
