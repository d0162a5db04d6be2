package activitypub

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/subpub/subpub/internal/testkit"
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

// TestUnreachablePostgresIs503 makes the PostgreSQL server refuse the
// store's connections (the database no longer accepts any, and those open
// are terminated), as a server that went away does: a post and a read get
// 503 with Retry-After, counted; once connections are accepted again, a
// post succeeds.
func TestUnreachablePostgresIs503(t *testing.T) {
	url := testkit.Postgres(t)
	m := &storageMetrics{}
	e := &testEnv{t: t, dir: url, configure: []func(*Server){func(s *Server) { s.Metrics = m }}}
	e.start()
	// From another database: PostgreSQL does not let a connection refuse
	// connections to its own.
	admin, err := pgx.Connect(t.Context(), strings.Replace(url, "/postgres?", "/template1?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`ALTER DATABASE postgres ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid()`)
	for _, req := range []struct{ method, target string }{{http.MethodPost, "/users/alice/outbox"}, {http.MethodGet, "/users/alice/outbox"}} {
		var status int
		var h http.Header
		if req.method == http.MethodPost {
			status, h = e.postStatus("refused")
		} else {
			status, h, _ = e.do(req.method, req.target, "", nil)
		}
		if status != http.StatusServiceUnavailable || h.Get("Content-Type") != stream.ContentTypeProblem {
			t.Errorf("%s %s with the database unreachable: %d, %s, want 503 with a problem detail", req.method, req.target, status, h.Get("Content-Type"))
		}
		if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra <= 0 {
			t.Errorf("%s %s: Retry-After %q", req.method, req.target, h.Get("Retry-After"))
		}
	}
	if m.count(storageUnreachable) == 0 {
		t.Error("not counted")
	}
	exec(`ALTER DATABASE postgres ALLOW_CONNECTIONS true`)
	if status, _ := e.postStatus("accepted"); status != http.StatusCreated {
		t.Fatalf("posting once the database is reachable again: %d", status)
	}
}

// TestPostgresUnreachableIsOnlyConnectionFailures: a refused or lost
// connection is unreachable; an error in the request (a constraint, a
// syntax error) is not, and stays a 500 it is a bug to get.
func TestPostgresUnreachableIsOnlyConnectionFailures(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "53300"}, true},
		{fmt.Errorf("query: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true},
		{driver.ErrBadConn, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42601"}, false},
		{errors.New("something else"), false},
		{sql.ErrNoRows, false},
	} {
		if got := postgresUnreachable(tc.err); got != tc.want {
			t.Errorf("postgresUnreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
