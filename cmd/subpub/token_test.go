package main

import (
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
)

// TestTokenCommands adds, lists and revokes tokens in a data directory, and
// on a PostgreSQL store.
func TestTokenCommands(t *testing.T) {
	for _, where := range []struct{ name, flag string }{{"data directory", "--data"}, {"PostgreSQL store", "--store"}} {
		t.Run(where.name, func(t *testing.T) {
			value := t.TempDir()
			if where.flag == "--store" {
				value = testkit.Postgres(t)
			}
			tokenCommands(t, where.flag, value)
		})
	}
}

func tokenCommands(t *testing.T, flag, data string) {
	code, secret, errOut := runCLI(t.Context(), "", "token", "add", flag, data, "--user", "alice", "--name", "phone", "--expires", "1h")
	secret = strings.TrimSpace(secret)
	if code != 0 || len(secret) < 20 || !strings.Contains(errOut, "for alice (expires: 20") {
		t.Fatalf("add: exit %d, %q, %q", code, secret, errOut)
	}
	runCLI(t.Context(), "", "token", "add", flag, data, "--user", "bob")
	code, list, _ := runCLI(t.Context(), "", "token", "list", flag, data)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || strings.Contains(list, secret) {
		t.Fatalf("list: exit %d:\n%s", code, list)
	}
	phone := strings.Fields(lines[1])
	if phone[1] != "alice" || phone[2] != "phone" {
		t.Fatalf("list: %q", lines[1])
	}
	if code, out, _ := runCLI(t.Context(), "", "token", "revoke", flag, data, phone[0]); code != 0 || out != "revoked "+phone[0]+" (alice, phone)\n" {
		t.Errorf("revoke: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t.Context(), "", "token", "revoke", flag, data, phone[0]); code != 1 || !strings.Contains(errOut, "no such token") {
		t.Errorf("revoke again: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI(t.Context(), "", "token", "revoke", flag, data, "--user", "bob"); code != 0 || !strings.Contains(out, "(bob)") {
		t.Errorf("revoke --user: exit %d, %q", code, out)
	}
	if code, list, _ := runCLI(t.Context(), "", "token", "list", flag, data); code != 0 || strings.Count(list, "\n") != 1 {
		t.Errorf("list after revoking all: exit %d:\n%s", code, list)
	}
}

func TestTokenCommandUsage(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"token"}, {"token", "nonsense"}, {"token", "add", "--data", data},
		{"token", "revoke", "--data", data}, {"token", "add", "--data", data, "--user", "al/ice"},
	} {
		if code, _, errOut := runCLI(t.Context(), "", args...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t.Context(), "", "token", "list", "--data", t.TempDir()); code != 1 || !strings.Contains(errOut, "no origin database") {
		t.Errorf("list in an empty directory: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t.Context(), "", "token", "list", "--store", "mysql://x"); code != 2 || !strings.Contains(errOut, "not a postgres:// URL") {
		t.Errorf("list --store mysql://: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t.Context(), "", "token", "add", "--help"); code != 0 || !strings.Contains(errOut, "examples:") {
		t.Errorf("token add --help: exit %d, %q", code, errOut)
	}
}
