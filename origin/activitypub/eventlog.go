package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/wire"
)

// appendEvent logs e, whose id is seq, to streams. The event is written
// when the transaction commits, with the commit time as its time.
func (t *tx) appendEvent(seq uint64, streams []streamRef, e wire.Event) {
	t.events = append(t.events, loggedEvent{LogEvent: origin.LogEvent{Seq: seq, Event: e}, Streams: streams})
}

// writeEvents writes the events the transaction logged, as of now.
func (t *tx) writeEvents(ctx context.Context, now time.Time) error {
	for i := range t.events {
		e := &t.events[i]
		e.Event.Time = now
		if _, err := t.ExecContext(ctx, `INSERT INTO events (seq, type, data, ref, created_at) VALUES (?, ?, ?, ?, ?)`,
			int64(e.Seq), e.Event.Type, string(e.Event.Data), e.Event.Ref, now.UnixMilli()); err != nil {
			return fmt.Errorf("activitypub: logging event: %w", err)
		}
		for j := range e.Streams {
			st := &e.Streams[j]
			// The stream's newest event, committed or in this transaction,
			// which writers take turns at (see Store.update); for a stream
			// last written before stream_heads was, its newest logged one.
			var prev int64
			if err := t.QueryRowContext(ctx, `SELECT COALESCE(
				(SELECT seq FROM stream_heads WHERE stream = ?),
				(SELECT MAX(seq) FROM event_streams WHERE stream = ?), 0)`, st.Key, st.Key).Scan(&prev); err != nil {
				return fmt.Errorf("activitypub: logging event: %w", err)
			}
			st.Prev = uint64(prev)
			if _, err := t.ExecContext(ctx, `INSERT INTO event_streams (stream, seq, prev) VALUES (?, ?, ?)`, st.Key, int64(e.Seq), prev); err != nil {
				return fmt.Errorf("activitypub: logging event: %w", err)
			}
			if _, err := t.ExecContext(ctx, `INSERT INTO stream_heads (stream, seq) VALUES (?, ?)
				ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq`, st.Key, int64(e.Seq)); err != nil {
				return fmt.Errorf("activitypub: logging event: %w", err)
			}
		}
	}
	return nil
}

// ReadAfter implements [origin.Log]: up to limit events of stream key with
// sequence numbers greater than after, in order.
func (s *Store) ReadAfter(ctx context.Context, key string, after uint64, limit int) ([]origin.LogEvent, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.seq, e.type, e.data, e.ref, e.created_at, s.prev
		FROM event_streams s JOIN events e ON e.seq = s.seq
		WHERE s.stream = ? AND s.seq > ?
		ORDER BY s.seq
		LIMIT ?`, key, int64(after), limit)
	if se := storageError(err); se != nil {
		// A subscription replaying the log ends with this: its client
		// resumes after Retry-After.
		return nil, se
	}
	if err != nil {
		return nil, fmt.Errorf("activitypub: reading events of %s: %w", key, err)
	}
	defer rows.Close()
	var events []origin.LogEvent
	for rows.Next() {
		var prev int64
		e, err := scanEvent(rows, &prev)
		if err != nil {
			return nil, err
		}
		events = append(events, e.InStream(uint64(prev)))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("activitypub: reading events of %s: %w", key, err)
	}
	return events, nil
}

// scanEvent reads an event's row, and into more the columns that follow.
func scanEvent(row rowScanner, more ...any) (origin.LogEvent, error) {
	var (
		seq, ms   int64
		typ, data string
		ref       string
	)
	if err := row.Scan(append([]any{&seq, &typ, &data, &ref, &ms}, more...)...); err != nil {
		return origin.LogEvent{}, fmt.Errorf("activitypub: reading event: %w", err)
	}
	return origin.LogEvent{Seq: uint64(seq), Event: wire.Event{
		ID:   strconv.FormatInt(seq, 10),
		Type: typ,
		Data: []byte(data),
		Time: time.UnixMilli(ms),
		Ref:  ref,
	}}, nil
}

// event returns the logged event seq and the keys of its streams, or
// errNotFound if it never existed or has been pruned.
func (s *Store) event(ctx context.Context, seq uint64) (origin.LogEvent, []string, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx,
		`SELECT seq, type, data, ref, created_at FROM events WHERE seq = ?`, int64(seq)))
	if errors.Is(err, sql.ErrNoRows) {
		return e, nil, errNotFound
	}
	if err != nil {
		return e, nil, err
	}
	keys, err := queryStrings(ctx, s.db, `SELECT stream FROM event_streams WHERE seq = ? ORDER BY stream`, int64(seq))
	return e, keys, err
}

// streamPosition is where stream key stands as of sequence number newest:
// its newest event (0 if none), which a subscription starting now names as
// its position and the next event names as its prev; and whether a
// subscriber whose last event was last can be replayed to without missing
// anything. The chain of prevs proves that: the stream's first event after
// last names last as its prev, pruned or not (an event pruned from between
// them would be the prev instead), or there is none and last is the head.
// Where that event names none (it was logged before prevs were), or there
// is none, the pruning watermark decides, as it did before prevs: nothing
// after it has been pruned.
func (s *Store) streamPosition(ctx context.Context, key string, last, newest uint64) (head uint64, replayable bool, err error) {
	var h int64
	// The newest logged, or, when retention pruned them all, the one
	// stream_heads remembers, unless it came after newest.
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(
		(SELECT MAX(seq) FROM event_streams WHERE stream = ? AND seq <= ?),
		(SELECT seq FROM stream_heads WHERE stream = ? AND seq <= ?), 0)`, key, int64(newest), key, int64(newest)).Scan(&h)
	head = uint64(h)
	unpruned := last >= s.PrunedSeq() && last <= newest
	replayable = unpruned || head != 0 && last == head
	if err == nil && last < newest {
		var prev int64
		err = s.db.QueryRowContext(ctx, `SELECT prev FROM event_streams WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT 1`,
			key, int64(last), int64(newest)).Scan(&prev)
		if err == nil {
			replayable = uint64(prev) == last || prev == 0 && unpruned
		}
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	}
	if se := storageError(err); se != nil {
		return 0, false, se
	}
	if err != nil {
		return 0, false, fmt.Errorf("activitypub: locating %s in its stream: %w", key, err)
	}
	return head, replayable, nil
}

// migrateStreamPrev adds event_streams.prev to a database made before it.
// The events logged before have 0, as for a stream's first: a subscriber
// cannot check that it received the one before them.
func (s *Store) migrateStreamPrev(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT * FROM event_streams LIMIT 0`)
	if err != nil {
		return fmt.Errorf("activitypub: reading event_streams: %w", err)
	}
	columns, err := rows.Columns()
	rows.Close()
	if err != nil || slices.Contains(columns, "prev") {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `ALTER TABLE event_streams ADD COLUMN prev BIGINT NOT NULL DEFAULT 0`); err != nil {
		return fmt.Errorf("activitypub: adding event_streams.prev: %w", err)
	}
	return nil
}

// PruneEvents deletes the events logged before cutoff and returns how many.
// The highest sequence number deleted is remembered (see PrunedSeq): a
// subscription resuming from before it is told it missed events.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var newest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM events WHERE created_at < ?`, cutoff.UnixMilli()).Scan(&newest); err != nil {
		return 0, fmt.Errorf("activitypub: pruning events: %w", err)
	}
	if !newest.Valid {
		return 0, nil
	}
	// Everything up to the newest expired event goes, so that the log is
	// complete after the watermark even if the clock stepped back.
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("activitypub: pruning events: %w", err)
	}
	defer t.Rollback()
	if _, err := t.ExecContext(ctx, `DELETE FROM event_streams WHERE seq <= ?`, newest.Int64); err != nil {
		return 0, fmt.Errorf("activitypub: pruning events: %w", err)
	}
	res, err := t.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, newest.Int64)
	if err != nil {
		return 0, fmt.Errorf("activitypub: pruning events: %w", err)
	}
	n, _ := res.RowsAffected()
	watermark := max(uint64(newest.Int64), s.prunedSeq.Load())
	if err := writeCounter(ctx, t, counterPrunedSeq, watermark); err != nil {
		return 0, err
	}
	if err := t.Commit(); err != nil {
		return 0, fmt.Errorf("activitypub: pruning events: %w", err)
	}
	s.prunedSeq.Store(watermark)
	return int(n), nil
}
