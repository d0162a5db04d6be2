// Command subpub-survey puts each HTTP proxy Debian ships in front of a
// subpub origin and reports what reaches subscribers through it (package
// survey); `make survey` installs the proxies and runs it.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/survey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode("subpub-survey", run(ctx, os.Args[1:]), os.Stderr))
}

func run(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("subpub-survey", "[flags]", "  subpub-survey --out draft/survey.md --json draft/survey.json\n", os.Stdout, os.Stderr)
	out := fs.String("out", "draft/survey.md", "write the Markdown report to this `file`")
	jsonOut := fs.String("json", "", "also write the results as JSON to this `file`")
	only := fs.String("proxies", "", "comma-separated `names` of the proxies to survey (default: all)")
	requireAll := fs.Bool("require-all", false, "fail when a proxy is not installed or does not start (the report is written all the same)")
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	proxies, err := survey.Select(*only)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	dir, err := os.MkdirTemp("", "subpub-survey-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	report, err := survey.Run(ctx, dir, proxies, os.Stderr)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(report.Markdown()), 0o644); err != nil {
		return err
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	if *requireAll {
		for _, r := range report.Results {
			if r.Missing || r.Error != "" {
				return fmt.Errorf("%s (%s) was not surveyed: %s", r.Proxy, r.Config, cmp.Or(r.Error, "not installed"))
			}
		}
	}
	return nil
}
