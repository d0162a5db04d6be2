package main

import (
	"context"
	"fmt"
	"io"

	"github.com/subpub/subpub/benchmarks/restart"
	"github.com/subpub/subpub/internal/cli"
)

const restartExamples = `  # 5,000 subscribers, the edge killed and started again, with shared and
  # separate catch-ups (about a minute): the committed report
  subpub bench restart --out benchmarks/results/restart

  # a smaller storm
  subpub bench restart --subscribers 500 --spread 5 --out /tmp/restart
`

// runRestart is `subpub bench restart`: the origin's load after an edge
// restart, package benchmarks/restart.
func runRestart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub bench restart", "[flags]", restartExamples, stdout, stderr)
	out := fs.String("out", "benchmarks/results/restart", "write report.md and report.json into this `directory`")
	subscribers := fs.Int("subscribers", restart.DefaultSubscribers, "subscribers following the stream through the edge")
	spread := fs.Int("spread", restart.DefaultSpread, "distinct positions the subscribers resume from (each lags the last event it received by 0 to spread-1)")
	rate := fs.Int("rate", restart.DefaultRate, "notes posted a second throughout")
	rounds := fs.Int("rounds", restart.DefaultRounds, "restarts of each edge, taking turns")
	settle := fs.Duration("settle", restart.DefaultSettle, "how long the window goes on once every subscriber is back")
	render := fs.Bool("render", false, "only write report.md again from --out's report.json")
	serverLog := serverLogFlag(fs)
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]int{"subscribers": *subscribers, "spread": *spread, "rate": *rate, "rounds": *rounds} {
		if v <= 0 {
			return cli.Usagef("--%s: %d is not positive", name, v)
		}
	}
	if *render {
		rep, err := restart.Load(*out)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, rep.Table())
		return rep.Write(*out)
	}
	logFile, closeLog, err := openServerLog(*serverLog)
	if err != nil {
		return err
	}
	defer closeLog()
	useSiblingSubpub()
	rep, err := restart.Run(ctx, restart.Config{
		Subscribers: *subscribers, Spread: *spread, Rate: *rate, Settle: *settle, Rounds: *rounds,
		Out: *out, ServerLog: logFile, Progress: stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Table())
	fmt.Fprintf(stdout, "report: %s/report.md\n", *out)
	return nil
}
