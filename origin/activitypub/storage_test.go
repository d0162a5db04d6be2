package activitypub

import (
	"database/sql"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/subpub/subpub/stream"
)

// storageMetrics records StorageError.
type storageMetrics struct {
	discardMetrics
	mu     sync.Mutex
	counts map[string]int
}

func (m *storageMetrics) StorageError(condition string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int{}
	}
	m.counts[condition]++
}

func (m *storageMetrics) count(condition string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[condition]
}

// postStatus posts a note as alice and returns the status and response
// fields.
func (e *testEnv) postStatus(content string) (int, http.Header) {
	e.t.Helper()
	status, h, _ := e.do(http.MethodPost, "/users/alice/outbox", "alice", doc{"type": "Note", "content": content, "to": []string{publicCollection}})
	return status, h
}

// TestLockedDatabaseIs503 holds the database's write lock from another
// connection, as another process would: a post gets 503 with Retry-After
// and a problem detail, promptly, reads go on, and once the lock is gone a
// post succeeds, with nothing of the refused one stored.
func TestLockedDatabaseIs503(t *testing.T) {
	m := &storageMetrics{}
	e := newEnv(t, func(s *Server) { s.Metrics = m })
	other, err := sql.Open(sqliteDriver, sqliteDSN(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(t.Context(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	status, h := e.postStatus("refused")
	if status != http.StatusServiceUnavailable || h.Get("Content-Type") != stream.ContentTypeProblem {
		t.Errorf("posting while locked: %d, %s, want 503 with a problem detail", status, h.Get("Content-Type"))
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("Retry-After %q", h.Get("Retry-After"))
	}
	if m.count(storageBusy) == 0 {
		t.Error("not counted")
	}
	e.get("", "/users/alice/outbox", http.StatusOK) // reads do not wait for the writer

	if _, err := lock.ExecContext(t.Context(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.postStatus("accepted"); status != http.StatusCreated {
		t.Fatalf("posting after the lock: %d", status)
	}
	if items := e.items("alice", testBase+"/users/alice/outbox"); len(items) != 1 {
		t.Errorf("outbox after a refused and an accepted post: %v", items)
	}
}

// TestFullDiskIs507 makes the database unable to grow, as a full disk
// does: a post gets 507 and leaves nothing behind.
func TestFullDiskIs507(t *testing.T) {
	m := &storageMetrics{}
	e := newEnv(t, func(s *Server) { s.Metrics = m })
	db := e.store.db
	db.SetMaxOpenConns(1) // the page limit is the connection's
	var pages int64
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA max_page_count = ` + strconv.FormatInt(pages, 10)); err != nil {
		t.Fatal(err)
	}
	before := e.store.LastSeq()
	var status int
	var h http.Header
	for range 50 { // until the free pages are used up
		if status, h = e.postStatus("a note long enough to need pages of its own"); status != http.StatusCreated {
			break
		}
		before = e.store.LastSeq()
	}
	if status != http.StatusInsufficientStorage || h.Get("Content-Type") != stream.ContentTypeProblem {
		t.Fatalf("posting with the disk full: %d, %s, want 507 with a problem detail", status, h.Get("Content-Type"))
	}
	if m.count(storageFull) == 0 {
		t.Error("not counted")
	}
	if got := e.store.LastSeq(); got != before {
		t.Errorf("the refused post advanced the log from %d to %d", before, got)
	}
	n := len(e.items("alice", testBase+"/users/alice/outbox"))
	if _, err := db.Exec(`PRAGMA max_page_count = ` + strconv.Itoa(math.MaxInt32)); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.postStatus("after"); status != http.StatusCreated {
		t.Fatalf("posting with room again: %d", status)
	}
	if got := len(e.items("alice", testBase+"/users/alice/outbox")); got != n+1 {
		t.Errorf("outbox has %d items after one more post, had %d", got, n)
	}
}
