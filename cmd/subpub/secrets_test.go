package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/launch"
)

// TestSecretsFromFilesAndTheEnvironment: an origin's users come from
// --users-file and a publisher's token from --token-file or $SUBPUB_TOKEN,
// none of them on a command line; a token not in the file is refused
// (negative control).
func TestSecretsFromFilesAndTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("# the origin's users\nalice:alice-file-token\n\nbob:bob-file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--users-file", users)
	outbox := o.URL("/users/bob/outbox")
	token := filepath.Join(dir, "token")
	note := `{"type":"Note","content":"hi","to":["https://www.w3.org/ns/activitystreams#Public"]}`
	for _, tt := range []struct {
		name   string
		secret string
		args   []string
		env    string
		want   int
	}{
		{"--token-file", "bob-file-token\n", []string{"--token-file", token}, "", 0},
		{"$SUBPUB_TOKEN", "", nil, "bob-file-token", 0},
		{"a token not in the users file", "bob-token\n", []string{"--token-file", token}, "", 22},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(token, []byte(tt.secret), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.env != "" {
				t.Setenv("SUBPUB_TOKEN", tt.env)
			}
			args := append([]string{"pub", "--cacert", o.CAFile}, tt.args...)
			code, out, errOut := runCLIWithStdin(t, note, append(args, outbox)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d: %s %s", code, tt.want, out, errOut)
			}
			if tt.want == 0 && !strings.Contains(out, "/users/bob/") {
				t.Errorf("pub printed %q, want the activity's id", out)
			}
		})
	}
}
