package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/cli"
)

func TestHelpListsThePublicFlagsAndExamples(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), []string{"--help"}, &stdout, &stderr)
	if code := cli.ExitCode("subpub bench", err, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	help := stderr.String()
	for _, want := range []string{"usage: subpub bench [flags]", "\n  --quick\n", "\n  --loss percentages\n", "default: the preset's, 0, 0.5 and 2", "examples:", "(about 28 minutes)", "(about 7 minutes)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, unwanted := range []string{"child", `(default "-")`, "\n  -quick", "about 30 minutes", "an hour"} {
		if strings.Contains(help, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, help)
		}
	}
}

func TestBadArgumentsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"--nope"}, {"--quick", "--full"}, {"--rates", "x"}, {"--loss", "101"}} {
		var stdout, stderr bytes.Buffer
		err := runBench(t.Context(), args, &stdout, &stderr)
		if code := cli.ExitCode("subpub bench", err, &stderr); code != 2 || !strings.Contains(stderr.String(), "Run 'subpub bench --help'") {
			t.Errorf("%q: exit %d, %q", args, code, stderr.String())
		}
	}
}

func TestChaosHelpAndUsageErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), []string{"chaos", "--help"}, &stdout, &stderr)
	if code := cli.ExitCode("subpub bench chaos", err, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"usage: subpub bench chaos [flags]", "\n  --seed seed\n", "\n  --short\n", "make chaos"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
	for _, args := range [][]string{{"chaos", "extra"}, {"chaos", "--nope"}, {"chaos", "--kills", "-1"}, {"chaos", "--seed", "x"}} {
		var stdout, stderr bytes.Buffer
		err := runBench(t.Context(), args, &stdout, &stderr)
		if code := cli.ExitCode("subpub bench chaos", err, &stderr); code != 2 {
			t.Errorf("%q: exit %d, %q", args, code, stderr.String())
		}
	}
}

func TestRestartHelpAndUsageErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runBench(t.Context(), []string{"restart", "--help"}, &stdout, &stderr)
	if code := cli.ExitCode("subpub bench restart", err, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"usage: subpub bench restart [flags]", "\n  --subscribers int\n", "\n  --spread int\n", "\n  --render\n", "benchmarks/results/restart"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
	for _, args := range [][]string{{"restart", "extra"}, {"restart", "--nope"}, {"restart", "--subscribers", "0"}, {"restart", "--rounds", "-1"}} {
		var stdout, stderr bytes.Buffer
		err := runBench(t.Context(), args, &stdout, &stderr)
		if code := cli.ExitCode("subpub bench restart", err, &stderr); code != 2 {
			t.Errorf("%q: exit %d, %q", args, code, stderr.String())
		}
	}
}
