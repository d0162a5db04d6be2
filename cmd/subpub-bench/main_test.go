package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/cli"
)

// runCommand runs subpub bench with args and returns its exit status and
// what it wrote on stderr, where command is how its messages name it.
func runCommand(t *testing.T, command string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), args, &stdout, &stderr)
	return cli.ExitCode(command, err, &stderr), stderr.String()
}

// wantHelp runs args, which ask for command's help, and returns the help
// once it has checked that it exits 0 and holds each of want.
func wantHelp(t *testing.T, command string, args []string, want ...string) string {
	t.Helper()
	code, help := runCommand(t, command, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, help)
	}
	for _, w := range want {
		if !strings.Contains(help, w) {
			t.Errorf("help lacks %q:\n%s", w, help)
		}
	}
	return help
}

// wantUsageErrors checks that each of the command lines exits 2.
func wantUsageErrors(t *testing.T, command string, commandLines ...[]string) {
	t.Helper()
	for _, args := range commandLines {
		if code, stderr := runCommand(t, command, args...); code != 2 {
			t.Errorf("%q: exit %d, %q", args, code, stderr)
		}
	}
}

func TestHelpListsThePublicFlagsAndExamples(t *testing.T) {
	help := wantHelp(t, "subpub bench", []string{"--help"},
		"usage: subpub bench [flags]", "\n  --quick\n", "\n  --loss percentages\n", "default: the preset's, 0, 0.5 and 2", "examples:", "(about 28 minutes)", "(about 7 minutes)")
	for _, unwanted := range []string{"child", `(default "-")`, "\n  -quick", "about 30 minutes", "an hour"} {
		if strings.Contains(help, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, help)
		}
	}
}

func TestBadArgumentsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nope"}, {"--quick", "--full"}, {"--rates", "x"}, {"--loss", "101"}} {
		if code, stderr := runCommand(t, "subpub bench", args...); code != 2 || !strings.Contains(stderr, "Run 'subpub bench --help'") {
			t.Errorf("%q: exit %d, %q", args, code, stderr)
		}
	}
}

func TestChaosHelpAndUsageErrors(t *testing.T) {
	wantHelp(t, "subpub bench chaos", []string{"chaos", "--help"},
		"usage: subpub bench chaos [flags]", "\n  --seed seed\n", "\n  --short\n", "make chaos")
	wantUsageErrors(t, "subpub bench chaos",
		[]string{"chaos", "extra"}, []string{"chaos", "--nope"}, []string{"chaos", "--kills", "-1"}, []string{"chaos", "--seed", "x"})
}

func TestRestartHelpAndUsageErrors(t *testing.T) {
	wantHelp(t, "subpub bench restart", []string{"restart", "--help"},
		"usage: subpub bench restart [flags]", "\n  --subscribers int\n", "\n  --spread int\n", "\n  --render\n", "benchmarks/results/restart")
	wantUsageErrors(t, "subpub bench restart",
		[]string{"restart", "extra"}, []string{"restart", "--nope"}, []string{"restart", "--subscribers", "0"}, []string{"restart", "--rounds", "-1"})
}
