package main

import (
	"strings"
	"testing"
)

// TestTokenCommands adds, lists and revokes tokens in a data directory.
func TestTokenCommands(t *testing.T) {
	data := t.TempDir()
	code, secret, errOut := runCLI(t.Context(), "", "token", "add", "--data", data, "--user", "alice", "--name", "phone", "--expires", "1h")
	secret = strings.TrimSpace(secret)
	if code != 0 || len(secret) < 20 || !strings.Contains(errOut, "for alice (expires: 20") {
		t.Fatalf("add: exit %d, %q, %q", code, secret, errOut)
	}
	runCLI(t.Context(), "", "token", "add", "--data", data, "--user", "bob")
	code, list, _ := runCLI(t.Context(), "", "token", "list", "--data", data)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || strings.Contains(list, secret) {
		t.Fatalf("list: exit %d:\n%s", code, list)
	}
	phone := strings.Fields(lines[1])
	if phone[1] != "alice" || phone[2] != "phone" {
		t.Fatalf("list: %q", lines[1])
	}
	if code, out, _ := runCLI(t.Context(), "", "token", "revoke", "--data", data, phone[0]); code != 0 || out != "revoked "+phone[0]+" (alice, phone)\n" {
		t.Errorf("revoke: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t.Context(), "", "token", "revoke", "--data", data, phone[0]); code != 1 || !strings.Contains(errOut, "no such token") {
		t.Errorf("revoke again: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI(t.Context(), "", "token", "revoke", "--data", data, "--user", "bob"); code != 0 || !strings.Contains(out, "(bob)") {
		t.Errorf("revoke --user: exit %d, %q", code, out)
	}
	if code, list, _ := runCLI(t.Context(), "", "token", "list", "--data", data); code != 0 || strings.Count(list, "\n") != 1 {
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
	if code, _, errOut := runCLI(t.Context(), "", "token", "add", "--help"); code != 0 || !strings.Contains(errOut, "examples:") {
		t.Errorf("token add --help: exit %d, %q", code, errOut)
	}
}
