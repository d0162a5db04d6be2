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

// ExitError is an error with the exit status it calls for.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns err with the exit status code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ExitCode is the exit status of a command that returned err, after it
// printed "name: err" on stderr: 0 for none (or a request for help or for
// the version), 2 for bad arguments (a UsageError, followed by a pointer to
// --help), an ExitError's code, otherwise 1.
func ExitCode(name string, err error, stderr io.Writer) int {
	var usage *UsageError
	var exit *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, ErrVersion):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for its flags and examples.\n", name, err, name)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.As(err, &exit) {
		return exit.Code
	}
	return 1
}

// Logger is the text logger on stderr at level, the value of a
// --log-level flag: debug, info, warn or error.
func Logger(level string, stderr io.Writer) (*slog.Logger, error) {
	return LoggerIn("text", level, stderr)
}

// LoggerIn is Logger in a format: "text" (slog's key=value lines) or
// "json" (one JSON object a line, for a log collector).
func LoggerIn(format, level string, stderr io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, Usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, Usagef("--log-format %q: want text or json", format)
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
