package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// ErrUsage reports bad arguments; the message has already been printed.
var ErrUsage = errors.New("usage")

// ExitCode is the exit status of a command that returned err: 0 for none
// (or a request for help), 2 for bad arguments, otherwise 1, after printing
// "name: err" on stderr.
func ExitCode(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Logger is the text logger on stderr at level, the value of a
// --log-level flag: debug, info, warn or error.
func Logger(level string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}

// Sibling is the path of the executable name in the directory of the
// running one, as bin/subpub and bin/subpub-bench are built side by side;
// the error says if there is none.
func Sibling(name string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(exe), name)
	if _, err := os.Stat(path); err != nil {
		return path, err
	}
	return path, nil
}
