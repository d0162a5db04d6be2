// Package cli is what subpub's commands share around their flags: flag sets
// whose usage shows a synopsis, the flags and examples; flags that may
// follow the arguments; the logger --log-level chooses; exit statuses.
package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// internalUsage starts the usage of a flag that is for the programs
// themselves (a harness re-executing itself), not for people: NewFlagSet's
// usage does not list it.
const internalUsage = "internal:"

// NewFlagSet returns a flag set for the command name (e.g. "subpub sub")
// whose usage prints a synopsis, the flags but the internal ones (those
// whose usage begins with "internal:"), and examples.
func NewFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n\nflags:\n", name, synopsis)
		printFlags(fs, stderr)
		if examples != "" {
			fmt.Fprintf(stderr, "\nexamples:\n%s", examples)
		}
	}
	return fs
}

// printFlags prints fs's flags as flag.PrintDefaults does, leaving out the
// internal ones.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, internalUsage) {
			return
		}
		shown.Var(f.Value, f.Name, f.Usage)
		// The default as declared, not the value parsed so far.
		shown.Lookup(f.Name).DefValue = f.DefValue
	})
	shown.PrintDefaults()
}

// ParseInterspersed parses flags that may come before or after positional
// arguments ("subpub sub URL --count 3"), as users expect of a CLI.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "-" || args[0] == "--" || args[0][0] != '-' {
			if args[0] == "--" {
				return append(positional, args[1:]...), nil
			}
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
}
