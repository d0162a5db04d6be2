package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/origin"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Store is the server's durable state: actors, objects, collections and the
// event log, in an embedded SQLite database (OpenStore) or in PostgreSQL,
// shared by any number of processes (OpenPostgres). It implements
// [origin.Log], so it is what an [origin.Hub] replays subscriptions from.
//
// A process's writes are serialized by one mutex, held from the start of a
// transaction until its events have been handed on: SQLite has one writer
// anyway, and the Hub needs each stream's events in sequence order. On
// PostgreSQL a row lock makes the writers of all processes take turns too.
type Store struct {
	db *database

	// shared is set for a PostgreSQL store, which other processes may be
	// writing: sequence numbers are assigned under a row lock, and events
	// reach the Hub through the follower (postgres.go), whoever wrote them.
	shared bool
	follow follower

	writeMu sync.Mutex

	// Read without the lock by subscriptions; written with writeMu held.
	lastSeq   atomic.Uint64 // the last sequence number committed
	prunedSeq atomic.Uint64 // the highest sequence number pruned
}

var _ origin.Log = (*Store)(nil)

// OpenStore opens (creating it if needed) the database in directory dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("activitypub: creating data directory: %w", err)
	}
	db, err := sql.Open(sqliteDriver, sqliteDSN(dir))
	if err != nil {
		return nil, fmt.Errorf("activitypub: opening database: %w", err)
	}
	s := &Store{db: &database{DB: db}}
	if err := s.init(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	if !s.shared { // a shared store's schema is created under a lock
		if _, err := s.db.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("activitypub: creating schema: %w", err)
		}
	}
	if err := s.migrateTokens(ctx); err != nil {
		return err
	}
	if err := s.migrateStreamPrev(ctx); err != nil {
		return err
	}
	last, err := readCounter(ctx, s.db, counterLastSeq)
	if err != nil {
		return err
	}
	pruned, err := readCounter(ctx, s.db, counterPrunedSeq)
	if err != nil {
		return err
	}
	s.lastSeq.Store(last)
	s.prunedSeq.Store(pruned)
	return nil
}

// Close stops following the log and closes the database.
func (s *Store) Close() error {
	s.follow.stop()
	return s.db.Close()
}

// LastSeq is the sequence number of the last event committed: a subscription
// without Last-Event-ID starts after it.
func (s *Store) LastSeq() uint64 { return s.lastSeq.Load() }

// PrunedSeq is the highest sequence number retention has deleted: events
// after it are all still in the log.
func (s *Store) PrunedSeq() uint64 { return s.prunedSeq.Load() }

// validActorName keeps names safe in URLs and acct: URIs unescaped.
func validActorName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// querier is what both *sql.DB and *sql.Tx offer: reads outside a write use
// the database, reads within one use its transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx is one write transaction and the events it logs, which are published
// once it has committed.
type tx struct {
	*dbTx

	// now is the transaction's time, with the millisecond precision of
	// event times, for what it stores (published, updated, deleted). The
	// events it logs get the time they are committed at.
	now time.Time

	seq    uint64 // the last sequence number assigned, committed or not
	events []loggedEvent
	ended  []string // stream keys to end once the events are published
}

// streamRef names a stream an event is logged to, with a label for metrics,
// and, once the event is logged, the stream's event before it.
type streamRef struct {
	Key  string
	Kind string
	Prev uint64 // 0: none
}

// loggedEvent is an event the transaction logged and the streams it is in.
type loggedEvent struct {
	origin.LogEvent
	Streams []streamRef
}

// nextSeq assigns the next sequence number.
func (t *tx) nextSeq() uint64 {
	t.seq++
	return t.seq
}

// endStream ends stream key after the transaction's events are published:
// its resource is gone.
func (t *tx) endStream(key string) {
	t.ended = append(t.ended, key)
}

// update runs fn in a write transaction and commits it. With the write lock
// still held, it then hands the transaction's events and ended streams to
// publish, so that events reach publish in sequence order and only once
// they are durable.
func (s *Store) update(ctx context.Context, fn func(*tx) error, publish func(events []loggedEvent, ended []string)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("activitypub: beginning transaction: %w", err)
	}
	t := &tx{dbTx: sqlTx, now: millis(time.Now()), seq: s.lastSeq.Load()}
	if s.shared {
		// The row lock on last_seq, held until the commit, makes writers
		// of every process take turns: sequence numbers are committed in
		// order, so a reader of the log never sees one before an earlier
		// one.
		var last int64
		if err := t.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = ? FOR UPDATE`, counterLastSeq).Scan(&last); err != nil {
			sqlTx.Rollback()
			return fmt.Errorf("activitypub: locking the event sequence: %w", err)
		}
		t.seq = uint64(last)
	}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if len(t.events) > 0 {
		err := t.writeEvents(ctx, millis(time.Now()))
		if err == nil {
			err = writeCounter(ctx, t, counterLastSeq, t.seq)
		}
		if err == nil && s.shared {
			err = notifyCommitted(ctx, t, t.seq)
		}
		if err != nil {
			sqlTx.Rollback()
			return err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("activitypub: committing: %w", err)
	}
	if s.shared {
		// The follower hands them to the Hub, as it does other processes'
		// events; this one knows of them first.
		s.follow.poke()
	} else {
		s.lastSeq.Store(t.seq)
	}
	if publish != nil {
		publish(t.events, t.ended)
	}
	return nil
}

// millis truncates t to the millisecond precision of event times.
func millis(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli())
}

func readCounter(ctx context.Context, q querier, name string) (uint64, error) {
	var v int64
	if err := q.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = ?`, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("activitypub: reading counter %s: %w", name, err)
	}
	return uint64(v), nil
}

func writeCounter(ctx context.Context, q querier, name string, v uint64) error {
	if _, err := q.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = ?`, int64(v), name); err != nil {
		return fmt.Errorf("activitypub: writing counter %s: %w", name, err)
	}
	return nil
}

// errNotFound reports a row that does not exist.
var errNotFound = errors.New("not found")

// queryStrings returns the first column of a query's rows.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	return queryRows(ctx, q, "query", func(r rowScanner) (v string, err error) {
		err = r.Scan(&v)
		return v, err
	}, query, args...)
}

// rowScanner is a row of a query's result, one of *sql.Rows or *sql.Row.
type rowScanner interface{ Scan(dest ...any) error }

// queryRows runs query and returns its rows, each read by scan; what says
// what the query was for in its errors ("listing tokens").
func queryRows[T any](ctx context.Context, q querier, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("activitypub: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("activitypub: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("activitypub: %s: %w", what, err)
	}
	return out, nil
}
