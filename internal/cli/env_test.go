package cli

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestFlagsFromTheEnvironment: a flag the command line did not set takes its
// $SUBPUB_ variable's value; the command line wins; a bad value is a usage
// error naming the variable; internal flags have no variable.
func TestFlagsFromTheEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    int
		wantURL string
		wantErr string
	}{
		{"from the environment", map[string]string{"SUBPUB_MAX_PER_CLIENT": "7"}, nil, 7, "", ""},
		{"the command line wins", map[string]string{"SUBPUB_MAX_PER_CLIENT": "7"}, []string{"--max-per-client", "3"}, 3, "", ""},
		{"neither: the default", nil, nil, 1024, "", ""},
		{"a string with dashes in its name", map[string]string{"SUBPUB_UPSTREAM_URL": "https://o/"}, nil, 1024, "https://o/", ""},
		{"a bad value", map[string]string{"SUBPUB_MAX_PER_CLIENT": "many"}, nil, 0, "", "$SUBPUB_MAX_PER_CLIENT"},
		{"no variable for an internal flag", map[string]string{"SUBPUB_CHILD": "yes"}, nil, 1024, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := NewFlagSet("subpub test", "", "", io.Discard, io.Discard)
			n := fs.Int("max-per-client", 1024, "a bound")
			u := fs.String("upstream-url", "", "a URL")
			child := fs.String("child", "", internalUsage+" a role")
			_, err := ParseInterspersed(fs, tt.args)
			switch {
			case tt.wantErr != "":
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a usage error naming %s", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if *n != tt.want || *u != tt.wantURL || *child != "" {
				t.Errorf("max-per-client %d, upstream-url %q, child %q; want %d, %q and no child", *n, *u, *child, tt.want, tt.wantURL)
			}
		})
	}
}
