package activitypub

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// postgresUnreachable reports an error that says the PostgreSQL server
// cannot be reached, rather than that the request or the code is wrong: a
// connection refused, lost or not accepted (SQLSTATE class 08, the server
// shutting down or starting, too many connections), which retrying later
// may cure.
func postgresUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // admin or crash shutdown, cannot connect now
			pgErr.Code == "53300": // too many connections
			return true
		}
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Following a shared log. On PostgreSQL the events table is the truth that
// every origin process serves from: a process hands to its Hub what it
// reads there, after the last event it read, whoever committed it. A
// NOTIFY sent by the committing transaction only wakes the processes (it
// is delivered once the transaction commits); should one be lost (a
// dropped connection), the next poll finds the events, so a lost
// notification delays events by at most DefaultFollowPoll and loses none.
const (
	// DefaultFollowPoll is how often a process reads the shared log when
	// no notification woke it.
	DefaultFollowPoll = 500 * time.Millisecond
	// followBatch is the most events read from the log at once.
	followBatch = 1000
	// notifyChannel is the channel commits are announced on.
	notifyChannel = "subpub_events"
	// DefaultPostgresConns bounds one process's connections to the
	// database (besides its listening one): subscriptions replaying the
	// log wait for one rather than exhaust the server's max_connections
	// (100 by default), which every process of a cluster shares.
	DefaultPostgresConns = 16
	// schemaLockKey is the advisory lock that makes processes starting at
	// once create the schema one after the other.
	schemaLockKey = 0x73756270 // "subp"
)

// IsPostgresURL tells whether location names a PostgreSQL database
// (postgres:// or postgresql://) rather than a directory.
func IsPostgresURL(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// OpenPostgres opens the PostgreSQL database at url, creating the schema if
// needed, as a store that any number of processes share: each serves every
// event any of them commits (see Follow).
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("activitypub: opening database: %w", err)
	}
	db.SetMaxOpenConns(DefaultPostgresConns)
	db.SetMaxIdleConns(DefaultPostgresConns)
	s := &Store{db: &database{DB: db, numbered: true}, shared: true}
	s.follow = follower{url: url, wake: make(chan struct{}, 1)}
	if err := s.createSharedSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// createSharedSchema creates the schema under an advisory lock: the
// CREATE ... IF NOT EXISTS of two processes starting at once would
// otherwise collide in PostgreSQL's catalog.
func (s *Store) createSharedSchema(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("activitypub: connecting to the database: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, schemaLockKey); err != nil {
		return fmt.Errorf("activitypub: locking the schema: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, schemaLockKey)
	if _, err := conn.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("activitypub: creating schema: %w", err)
	}
	return nil
}

// notifyCommitted announces, once t commits, that events up to seq are in
// the log.
func notifyCommitted(ctx context.Context, t *tx, seq uint64) error {
	if _, err := t.ExecContext(ctx, `SELECT pg_notify(?, ?)`, notifyChannel, strconv.FormatUint(seq, 10)); err != nil {
		return fmt.Errorf("activitypub: announcing events: %w", err)
	}
	return nil
}

// follower reads a shared log for one process.
type follower struct {
	url  string
	wake chan struct{} // capacity 1: read the log now

	startOnce sync.Once
	cancel    context.CancelFunc
	done      sync.WaitGroup
}

// poke makes the follower read the log now. It does nothing on a store
// that is not shared.
func (f *follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stop ends the follower's goroutines and waits for them.
func (f *follower) stop() {
	if f.cancel != nil {
		f.cancel()
		f.done.Wait()
	}
}

// Follow starts handing deliver, in sequence order and each once, every
// event committed to a shared store after it was opened, by any process,
// with the streams that end with it (those of a Delete); it stops when the
// store is closed. LastSeq is then the last event handed over. It does
// nothing on a store that is not shared, whose events are delivered by
// the transactions that commit them.
func (s *Store) Follow(deliver func(events []loggedEvent, ended []string), poll time.Duration) {
	if !s.shared {
		return
	}
	if poll <= 0 {
		poll = DefaultFollowPoll
	}
	f := &s.follow
	f.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		f.cancel = cancel
		f.done.Add(2)
		go func() {
			defer f.done.Done()
			s.listen(ctx, poll)
		}()
		go func() {
			defer f.done.Done()
			for {
				s.catchUp(ctx, deliver)
				timer := time.NewTimer(poll)
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-f.wake:
				case <-timer.C:
				}
				timer.Stop()
			}
		}()
	})
}

// listen holds a connection that LISTENs on notifyChannel and pokes the
// follower at every notification; it reconnects after poll when the
// connection fails.
func (s *Store) listen(ctx context.Context, poll time.Duration) {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, s.follow.url)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+notifyChannel); err == nil {
				s.follow.poke() // what was committed while nothing listened
				for {
					if _, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					s.follow.poke()
				}
			}
			conn.Close(context.WithoutCancel(ctx))
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// catchUp hands deliver everything logged after LastSeq, in batches. A
// failed read is retried at the next wake-up.
func (s *Store) catchUp(ctx context.Context, deliver func(events []loggedEvent, ended []string)) {
	for ctx.Err() == nil {
		if pruned, err := readCounter(ctx, s.db, counterPrunedSeq); err == nil && pruned > s.prunedSeq.Load() {
			s.prunedSeq.Store(pruned) // another process pruned
		}
		events, err := s.readLogAfter(ctx, s.lastSeq.Load(), followBatch)
		if err != nil || len(events) == 0 {
			return
		}
		// As on SQLite, LastSeq covers an event before the Hub has it: a
		// subscription starting after LastSeq reads it from the log.
		s.lastSeq.Store(events[len(events)-1].Seq)
		deliver(events, endedBy(events))
		if len(events) < followBatch {
			return
		}
	}
}

// readLogAfter reads up to limit events after seq after, with their
// streams, stopping at the first sequence number missing: an event that
// is not visible yet, were one ever committed after a later one, is waited
// for rather than skipped. (Sequence numbers have no holes: a transaction
// that rolls back gives its numbers back. Pruned ones are not waited for.)
func (s *Store) readLogAfter(ctx context.Context, after uint64, limit int) ([]loggedEvent, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.seq, e.type, e.data, e.ref, e.created_at, COALESCE(s.stream, ''), COALESCE(s.prev, 0)
		FROM events e LEFT JOIN event_streams s ON s.seq = e.seq
		WHERE e.seq > ? AND e.seq <= ?
		ORDER BY e.seq, s.stream`, int64(after), int64(after)+int64(limit))
	if err != nil {
		return nil, fmt.Errorf("activitypub: following the log: %w", err)
	}
	defer rows.Close()
	var events []loggedEvent
	next := after + 1
	for rows.Next() {
		var (
			seq, ms, prev          int64
			typ, data, ref, stream string
		)
		if err := rows.Scan(&seq, &typ, &data, &ref, &ms, &stream, &prev); err != nil {
			return nil, fmt.Errorf("activitypub: following the log: %w", err)
		}
		if n := len(events); n > 0 && events[n-1].Seq == uint64(seq) {
			events[n-1].Streams = append(events[n-1].Streams, streamRef{Key: stream, Prev: uint64(prev)})
			continue
		}
		if uint64(seq) != next && uint64(seq)-1 > s.prunedSeq.Load() {
			break // a hole: wait for it
		}
		e, _ := scanEvent(scanned{seq, typ, data, ref, ms})
		le := loggedEvent{LogEvent: e}
		if stream != "" {
			le.Streams = []streamRef{{Key: stream, Prev: uint64(prev)}}
		}
		events = append(events, le)
		next = uint64(seq) + 1
	}
	return events, rows.Err()
}

// scanned is a row already read, for scanEvent.
type scanned struct {
	seq            int64
	typ, data, ref string
	ms             int64
}

func (r scanned) Scan(dest ...any) error {
	*dest[0].(*int64), *dest[1].(*string), *dest[2].(*string), *dest[3].(*string), *dest[4].(*int64) = r.seq, r.typ, r.data, r.ref, r.ms
	return nil
}

// endedBy are the streams that end with events: those of a Delete, which
// is the last event of its resource's streams.
func endedBy(events []loggedEvent) []string {
	var ended []string
	for _, e := range events {
		if e.Event.Type == "Delete" {
			for _, st := range e.Streams {
				ended = append(ended, st.Key)
			}
		}
	}
	return ended
}

// awaitSeq waits, at most bound, until the follower has handed over event
// seq, if it has been committed: a subscriber resuming from an id another
// process issued a moment ago resumes from it rather than being told of a
// gap. It returns at once on a store that is not shared.
func (s *Store) awaitSeq(ctx context.Context, seq uint64, bound time.Duration) {
	if !s.shared || seq <= s.lastSeq.Load() {
		return
	}
	committed, err := readCounter(ctx, s.db, counterLastSeq)
	if err != nil || seq > committed {
		return
	}
	deadline := time.Now().Add(bound)
	for s.lastSeq.Load() < seq && time.Now().Before(deadline) && ctx.Err() == nil {
		s.follow.poke()
		time.Sleep(time.Millisecond)
	}
}
