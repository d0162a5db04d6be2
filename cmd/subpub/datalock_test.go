package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// TestASecondOriginOnOneDataDirectoryIsRefused starts an origin in a child
// process, then another on its data directory, which must refuse with one
// line; an origin on another directory (the negative control) starts, and
// so does one on the first directory once its origin was killed with
// SIGKILL: the kernel released the lock.
func TestASecondOriginOnOneDataDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", dir)

	// Bounded: were it not refused, the second origin would serve until
	// the context ends, and exit 0.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	code, _, errOut := runCLI(ctx, "", "origin", "--listen", "127.0.0.1:0", "--data", dir)
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "another origin is serving data directory "+dir) {
		t.Fatalf("second origin on one directory: exit %d, %q; want exit 1 and one line saying why", code, errOut)
	}

	other, err := launch.Start(t.Context(), "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir())
	if err != nil {
		t.Fatalf("an origin on another directory: %v", err)
	}
	other.Stop()

	first.Kill()
	again, err := launch.Start(t.Context(), "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", dir)
	if err != nil {
		t.Fatalf("an origin after the first was killed: %v", err)
	}
	again.Stop()
}
