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
	for _, want := range []string{"usage: subpub bench [flags]", "-quick", "-loss percentages", "default: the preset's, 0, 0.5 and 2", "examples:", "(about 30 minutes)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, unwanted := range []string{"-child", `(default "-")`} {
		if strings.Contains(help, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, help)
		}
	}
}
