package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/subpub/subpub/internal/cli"
)

// runBench runs subpub-bench, the benchmarks' own binary (it links what
// the servers do not need: the load generator and the plotting), found
// beside this one as make build puts it, with the same arguments, in place
// of this process.
func runBench(_ context.Context, args []string, _, _ io.Writer) error {
	bench, err := cli.Sibling("subpub-bench")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is not there: build it with `make build`", bench)
	}
	if err != nil {
		return err
	}
	return syscall.Exec(bench, append([]string{bench}, args...), os.Environ())
}
