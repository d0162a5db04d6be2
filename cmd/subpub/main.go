// Command subpub is publish/subscribe as an HTTP feature: an ActivityPub
// origin that serves SUB and Server-Sent Events, a client to subscribe and
// publish, and the tools around them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/subpub/subpub/internal/cli"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"origin":  {"run an ActivityPub origin serving SUB and SSE over HTTP/1.1, HTTP/2 and HTTP/3", runOrigin},
		"edge":    {"run an edge: collapse identical subscriptions, fan out, replay, cache", runEdge},
		"sub":     {"subscribe to a stream and print its events", runSub},
		"pub":     {"publish an activity to an outbox", runPub},
		"token":   {"add, revoke and list the origin's bearer tokens (while it runs, too)", runToken},
		"demo":    {"run an origin with demo users, publish, and show subscribers receiving", runDemo},
		"bench":   {"compare SUB/PUB through the edge with direct SSE, the bare-socket limit and peers", runBench},
		"version": {"print the version: module, commit, Go", runVersion},

		"conformance": {"test a SUB/PUB server or proxy against the draft, check by check", runConformance},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) > 0 && (args[0] == "-version" || args[0] == "--version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "subpub: unknown command %q\nRun 'subpub --help' for the commands.\n", args[0])
		return 2
	}
	return cli.ExitCode("subpub "+args[0], cmd.run(ctx, args[1:], stdout, stderr), stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: subpub <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'subpub <command> --help' for a command's flags and examples,")
	fmt.Fprintln(w, "'subpub --version' for the version.")
}

// runVersion prints the version line every command's --version prints.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub version", "", "", stdout, stderr)
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, cli.Version("subpub"))
	return nil
}
