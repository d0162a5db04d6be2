// Package cli is what subpub's commands share around their flags: flag sets
// whose usage shows a synopsis, the flags and examples; flags that may
// follow the arguments; --version; the logger --log-level chooses; exit
// statuses.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// internalUsage starts the usage of a flag that is for the programs
// themselves (a harness re-executing itself), not for people: NewFlagSet's
// usage does not list it.
const internalUsage = "internal:"

// versionFlag is the flag every flag set has.
const versionFlag = "version"

// ErrVersion reports that --version was given and the version printed: the
// command has nothing more to do.
var ErrVersion = errors.New("version printed")

// NewFlagSet returns a flag set for the command name (e.g. "subpub sub")
// whose usage prints a synopsis, the flags but the internal ones (those
// whose usage begins with "internal:") in the --flag style, and examples.
// It has a --version flag, which ParseInterspersed answers on stdout.
func NewFlagSet(name, synopsis, examples string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages are replaced by ParseInterspersed's.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n\nflags:\n", name, synopsis)
		printFlags(fs, stderr)
		if examples != "" {
			fmt.Fprintf(stderr, "\nexamples:\n%s", examples)
		}
	}
	fs.Var(&versionValue{stdout: stdout}, versionFlag, "print the version and exit")
	return fs
}

// versionValue is the --version flag: a boolean that knows where to print.
type versionValue struct {
	set    bool
	stdout io.Writer
}

func (v *versionValue) String() string { return fmt.Sprint(v != nil && v.set) }

func (v *versionValue) Set(s string) (err error) {
	v.set, err = strconv.ParseBool(s)
	return err
}

func (v *versionValue) IsBoolFlag() bool { return true }

// FlagName is how help and messages write a flag: -k for a one-letter
// name, --name otherwise.
func FlagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags lists fs's flags but the internal ones, one entry per flag,
// aliases (flags sharing one value, such as -k and --insecure) together.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	type entry struct {
		names []string
		flag  *flag.Flag
	}
	var entries []*entry
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, internalUsage) {
			return
		}
		for _, e := range entries {
			if sameValue(e.flag.Value, f.Value) {
				e.names = append(e.names, f.Name)
				return
			}
		}
		entries = append(entries, &entry{names: []string{f.Name}, flag: f})
	})
	for _, e := range entries {
		// One-letter names first: "-k, --insecure".
		slices.SortStableFunc(e.names, func(a, b string) int { return min(len(a), 2) - min(len(b), 2) })
		names := make([]string, len(e.names))
		for i, n := range e.names {
			names[i] = FlagName(n)
		}
		typ, usage := flag.UnquoteUsage(e.flag)
		line := "  " + strings.Join(names, ", ")
		if typ != "" {
			line += " " + typ
		}
		if def := shownDefault(e.flag); def != "" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	}
}

// sameValue reports whether two flags set the same variable.
func sameValue(a, b flag.Value) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// shownDefault is the default as help shows it, or "" for a zero value
// (false, 0, an empty string), which goes without saying.
func shownDefault(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return ""
	}
	if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// ParseInterspersed parses flags that may come before or after positional
// arguments ("subpub sub URL --count 3"), as users expect of a CLI. It
// returns flag.ErrHelp after printing the usage for -h or --help,
// ErrVersion after printing the version for --version, and a usage error
// for a flag that is not defined or whose value is bad.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			// The flag package stopped at "--": the rest are arguments.
			positional = append(positional, rest...)
			break
		}
		if len(rest) > 0 {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
		args = rest
	}
	if err := fromEnvironment(fs); err != nil {
		return nil, err
	}
	if f := fs.Lookup(versionFlag); f != nil {
		if v, ok := f.Value.(*versionValue); ok && v.set {
			program, _, _ := strings.Cut(fs.Name(), " ")
			fmt.Fprintln(v.stdout, Version(program))
			return nil, ErrVersion
		}
	}
	return positional, nil
}

// parse is fs.Parse, with the flag package's errors as usage errors in the
// --flag style.
func parse(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, for -h only
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	}
	return &UsageError{msg: flagStyle.ReplaceAllStringFunc(err.Error(), func(s string) string {
		m := flagStyle.FindStringSubmatch(s)
		return m[1] + FlagName(m[2])
	})}
}

// flagStyle finds the flag names in the flag package's messages, which
// write them with one dash: "flag provided but not defined: -x".
var flagStyle = regexp.MustCompile(`(defined: |for flag |for |argument: )-([A-Za-z0-9][A-Za-z0-9_-]*)`)

// UsageError reports bad arguments: ExitCode prints it with a pointer to
// --help and exits 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

// ParseFlagsOnly parses the flags of a command that takes no positional
// argument, as ParseInterspersed does, and answers a usage error if it was
// given one.
func ParseFlagsOnly(fs *flag.FlagSet, args []string) error {
	positional, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return Usagef("unexpected argument %q: this command takes flags only", positional[0])
	}
	return nil
}

// EnvPrefix begins the name of the environment variable that gives a flag
// a value: --max-per-client is $SUBPUB_MAX_PER_CLIENT.
const EnvPrefix = "SUBPUB_"

// EnvName is the environment variable of the flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// fromEnvironment sets every flag the command line did not set whose
// environment variable is set (see EnvName): a server's settings, and its
// secrets, need not be on the command line, which every user of the machine
// can read. A bad value is a usage error naming the variable.
func fromEnvironment(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || f.Name == versionFlag || strings.HasPrefix(f.Usage, internalUsage) {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = Usagef("$%s: %v", EnvName(f.Name), e)
			}
		}
	})
	return err
}
