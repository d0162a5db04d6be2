package cli

import (
	"bytes"
	"errors"
	"flag"
	"runtime/debug"
	"strings"
	"testing"
)

func newTestFlags(stdout, stderr *bytes.Buffer) *flag.FlagSet {
	fs := NewFlagSet("subpub test", "[flags] URL", "  subpub test URL\n", stdout, stderr)
	var insecure bool
	fs.BoolVar(&insecure, "k", false, "skip verification")
	fs.BoolVar(&insecure, "insecure", false, "skip verification")
	fs.String("cacert", "", "trust this PEM `file`")
	fs.String("log-level", "info", "a level")
	fs.Int("count", 0, "this many")
	fs.String("child", "", "internal: a role")
	return fs
}

func TestHelpWritesFlagsInOneStyle(t *testing.T) {
	var stdout, stderr bytes.Buffer
	fs := newTestFlags(&stdout, &stderr)
	_, err := ParseInterspersed(fs, []string{"--help"})
	if code := ExitCode("subpub test", err, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	help := stderr.String()
	for _, want := range []string{
		"usage: subpub test [flags] URL",
		"\n  --cacert file\n",
		"\n  -k, --insecure\n    \tskip verification\n",
		"\n  --log-level string\n    \ta level (default \"info\")\n",
		"\n  --count int\n    \tthis many\n", // a zero default goes without saying
		"\n  --version\n",
		"examples:\n  subpub test URL\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, unwanted := range []string{"child", "\n  -cacert", "\n  --k", "\n  -insecure"} {
		if strings.Contains(help, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, help)
		}
	}
}

func TestBadArgumentsAreUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined: --nope"},
		{[]string{"--count", "x"}, `invalid value "x" for flag --count`},
		{[]string{"--cacert"}, "flag needs an argument: --cacert"},
		{[]string{"-k=maybe"}, "invalid boolean value \"maybe\" for -k"},
	} {
		var stdout, stderr bytes.Buffer
		_, err := ParseInterspersed(newTestFlags(&stdout, &stderr), tt.args)
		code := ExitCode("subpub test", err, &stderr)
		if code != 2 || !strings.HasPrefix(stderr.String(), "subpub test: "+tt.want) || !strings.HasSuffix(stderr.String(), "\nRun 'subpub test --help' for its flags and examples.\n") {
			t.Errorf("%q: exit %d, %q", tt.args, code, stderr.String())
		}
		if strings.Contains(stderr.String(), "usage:") {
			t.Errorf("%q: the whole usage was printed: %q", tt.args, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := ExitCode("subpub test", ParseFlagsOnly(newTestFlags(&stdout, &stderr), []string{"-k", "extra"}), &stderr); code != 2 || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("ParseFlagsOnly with an argument: exit %d, %q", code, stderr.String())
	}
	if err := ParseFlagsOnly(newTestFlags(&stdout, &stderr), []string{"-k"}); err != nil {
		t.Errorf("ParseFlagsOnly with flags only: %v", err)
	}
}

func TestFlagsMayFollowArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	fs := newTestFlags(&stdout, &stderr)
	got, err := ParseInterspersed(fs, []string{"a", "--count", "3", "b", "--", "--c"})
	if err != nil || strings.Join(got, " ") != "a b --c" || fs.Lookup("count").Value.String() != "3" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestVersionFlagPrintsOnStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	_, err := ParseInterspersed(newTestFlags(&stdout, &stderr), []string{"URL", "--version"})
	if code := ExitCode("subpub test", err, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "subpub ") || stderr.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestVersionLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{
			name: "a build from a clean clone",
			info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.time", Value: "2026-01-01T12:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			want: "subpub v0.0.0-20260101120000-0123456789ab (commit 0123456789ab, 2026-01-01T12:00:00Z) go1.26.0 linux/amd64",
		},
		{
			name: "a build with changes",
			info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"}}},
			want: "subpub v0.0.0-20260101120000-0123456789ab+dirty (commit 0123456789ab, modified) go1.26.0 linux/amd64",
		},
		{
			name: "a build without VCS information",
			info: debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			want: "subpub (devel) (commit unknown) go1.26.0 linux/amd64",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine("subpub", &tt.info, "linux/amd64"); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
		out  string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{ErrVersion, 0, ""},
		{ErrUsage, 2, ""},
		{errors.New("boom"), 1, "subpub test: boom\n"},
		{Exit(7, errors.New("could not connect")), 7, "subpub test: could not connect\n"},
	} {
		var stderr bytes.Buffer
		if code := ExitCode("subpub test", tt.err, &stderr); code != tt.code || stderr.String() != tt.out {
			t.Errorf("%v: exit %d, %q; want %d, %q", tt.err, code, stderr.String(), tt.code, tt.out)
		}
	}
}
