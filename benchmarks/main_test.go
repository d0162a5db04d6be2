package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/subpub/subpub/benchmarks/load"
)

// TestMain lets the test binary play the load generator's children: Run
// starts them as this program with --child ROLE (Config.ChildBinary's
// default), as it does subpub-bench.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "--child" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := load.RunChild(context.Background(), os.Args[2], os.Stdin, os.Stdout, logger); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
