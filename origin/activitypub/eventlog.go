package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		for _, st := range e.Streams {
			if _, err := t.ExecContext(ctx, `INSERT INTO event_streams (stream, seq) VALUES (?, ?)`, st.Key, int64(e.Seq)); err != nil {
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
		SELECT e.seq, e.type, e.data, e.ref, e.created_at
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
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("activitypub: reading events of %s: %w", key, err)
	}
	return events, nil
}

func scanEvent(row interface{ Scan(...any) error }) (origin.LogEvent, error) {
	var (
		seq, ms   int64
		typ, data string
		ref       string
	)
	if err := row.Scan(&seq, &typ, &data, &ref, &ms); err != nil {
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
