package activitypub

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/wire"
)

// TestRestart checks that closing and reopening the store keeps everything
// and that sequence numbers continue.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	e.follow("bob", "alice")
	_, public := e.postNote("alice", "before", publicCollection)
	_, private := e.postNote("alice", "private", actorURL("bob"))
	e.post("bob", doc{"type": "Like", "object": public})
	e.post("alice", doc{"type": "Update", "object": doc{"id": actorURL("alice"), "name": "Alice"}})
	outboxBefore := e.items("alice", actorURL("alice")+"/outbox")
	lastSeq := e.store.LastSeq()
	lastEvent := e.loggedEvents("/users/alice/outbox")

	e.restart()

	if got := e.store.LastSeq(); got != lastSeq {
		t.Errorf("LastSeq after restart %d, want %d", got, lastSeq)
	}
	if got := e.items("alice", actorURL("alice")+"/outbox"); !slices.Equal(got, outboxBefore) {
		t.Errorf("outbox after restart %v, want %v", got, outboxBefore)
	}
	if got := e.get("", public, http.StatusOK); got["content"] != "before" {
		t.Errorf("object after restart %v", got)
	}
	e.get("bob", private, http.StatusOK)
	e.get("carol", private, http.StatusForbidden)
	if got := e.items("", actorURL("alice")+"/followers"); !slices.Equal(got, []string{actorURL("bob")}) {
		t.Errorf("followers after restart %v", got)
	}
	if got := e.items("alice", public+"/likes"); len(got) != 1 {
		t.Errorf("likes after restart %v", got)
	}
	if got := e.get("", actorURL("alice"), http.StatusOK); got["name"] != "Alice" {
		t.Errorf("actor after restart %v", got)
	}

	// A subscriber resumes across the restart.
	sub := e.subscribe(wire.FormatSSE, "/users/alice/outbox", "", "Last-Event-ID", lastEvent[len(lastEvent)-1].ID)
	sub.established(t)
	create, _ := e.postNote("alice", "after", publicCollection)
	ev := sub.next(t)
	if seq, _ := strconv.ParseUint(ev.ID, 10, 64); seq <= lastSeq {
		t.Errorf("event id %s after restart, not after %d", ev.ID, lastSeq)
	}
	if got := decodeEvent(t, ev.ID, ev.Type, ev.Data); got.Object() != create["id"] {
		t.Errorf("event after restart %v", got.Data)
	}
}

// TestEnsureUser checks provisioning: a user is created once and its token
// replaced on each call; tokens are not shared.
func TestEnsureUser(t *testing.T) {
	e := newEnv(t)
	if err := e.store.EnsureUser(t.Context(), "alice", "new-token"); err != nil {
		t.Fatal(err)
	}
	status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "alice", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("old token: %d, want 401", status)
	}
	status, _, _ = e.do(http.MethodGet, "/users/alice/inbox", "", nil, "Authorization", "Bearer new-token")
	if status != http.StatusOK {
		t.Errorf("new token: %d, want 200", status)
	}
	for _, tt := range []struct{ name, user, token string }{
		{"a name that is not URL-safe is refused", "al/ice", "t"},
		{"an empty token is refused", "erin", ""},
		{"another user's token is refused", "erin", tokenOf("bob")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.store.EnsureUser(t.Context(), tt.user, tt.token); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestRetentionPrunesOnWrite checks that with EventRetention the server
// prunes old events as it writes, and remembers how far.
func TestRetentionPrunesOnWrite(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.EventRetention = time.Nanosecond })
	deadline := time.Now().Add(waitTimeout)
	for e.store.PrunedSeq() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing pruned")
		}
		e.postNote("alice", "x", publicCollection)
	}
	watermark := e.store.PrunedSeq()
	e.restart()
	if got := e.store.PrunedSeq(); got != watermark {
		t.Errorf("watermark after restart %d, want %d", got, watermark)
	}
}

// TestStoreInADirectoryWhoseNameHasURICharacters: the database is in the
// directory given, whatever characters its name has.
func TestStoreInADirectoryWhoseNameHasURICharacters(t *testing.T) {
	for _, name := range []string{"a#b", "a?b=c", "100%", "plain"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStore(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, DatabaseFile)); err != nil {
			t.Errorf("%s: the database is not in the directory: %v", name, err)
		}
	}
}

// olderSQLite is a new data directory with an SQLite database made by
// statements (with args for their placeholders), as an older schema left
// it, for a test of the migration from that schema.
func olderSQLite(t *testing.T, statements string, args ...any) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open(sqliteDriver, sqliteDSN(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(statements, args...); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return dir
}

// openTwice opens the store in dir twice, the first time migrating it and
// the second finding it migrated already, and calls check with each
// opening before closing it.
func openTwice(t *testing.T, dir string, check func(*Store)) {
	t.Helper()
	for range 2 {
		store, err := OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		check(store)
		store.Close()
	}
}
