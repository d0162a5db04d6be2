package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// storedObject is a row of the objects table: an object, activity or
// collection created through an outbox.
type storedObject struct {
	id      string
	kind    kind // kindObject, kindActivity or kindCollection
	typ     string
	owner   string
	public  bool
	deleted bool
	undone  bool // for an activity: an Undo has reversed it
	data    doc  // without "@context"
}

func (o *storedObject) resource() *resource {
	return &resource{id: o.id, kind: o.kind, owner: o.owner, public: o.public, aclID: o.id, deleted: o.deleted, obj: o}
}

// storedKind maps the kinds stored in the objects table to and from text.
func storedKind(name string) (kind, bool) {
	for _, k := range [...]kind{kindObject, kindActivity, kindCollection} {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

func getObject(ctx context.Context, q querier, id string) (*storedObject, error) {
	var (
		o         = storedObject{id: id}
		kindName  string
		data      string
		pub, gone bool
		undone    bool
	)
	err := q.QueryRowContext(ctx,
		`SELECT kind, type, owner, public, deleted, undone, data FROM objects WHERE id = ?`, id).
		Scan(&kindName, &o.typ, &o.owner, &pub, &gone, &undone, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("activitypub: reading %s: %w", id, err)
	}
	k, ok := storedKind(kindName)
	if !ok {
		return nil, fmt.Errorf("activitypub: %s has unknown kind %q", id, kindName)
	}
	o.kind, o.public, o.deleted, o.undone = k, pub, gone, undone
	if o.data, err = decodeDoc([]byte(data)); err != nil {
		return nil, fmt.Errorf("activitypub: %s: stored data %w", id, err)
	}
	return &o, nil
}

// insertObject stores a new object, readable by its owner, by everyone if
// it is public, and otherwise by the local actors in audience.
func insertObject(ctx context.Context, t *tx, o *storedObject, audience []string) error {
	data, err := marshalASCII(o.data)
	if err != nil {
		return err
	}
	ms := t.now.UnixMilli()
	if _, err := t.ExecContext(ctx, `
		INSERT INTO objects (id, kind, type, owner, public, deleted, undone, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.id, o.kind.String(), o.typ, o.owner, o.public, false, false, string(data), ms, ms); err != nil {
		return fmt.Errorf("activitypub: storing %s: %w", o.id, err)
	}
	if o.public {
		return nil
	}
	for _, name := range audience {
		if _, err := t.ExecContext(ctx, `INSERT INTO audience (object_id, actor) VALUES (?, ?)`, o.id, name); err != nil {
			return fmt.Errorf("activitypub: storing the audience of %s: %w", o.id, err)
		}
	}
	return nil
}

// saveObject replaces the data of o, marking it deleted if it is.
func saveObject(ctx context.Context, q querier, o *storedObject, now time.Time) error {
	data, err := marshalASCII(o.data)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `UPDATE objects SET data = ?, deleted = ?, updated_at = ? WHERE id = ?`,
		string(data), o.deleted, now.UnixMilli(), o.id); err != nil {
		return fmt.Errorf("activitypub: saving %s: %w", o.id, err)
	}
	return nil
}

// markUndone records that an Undo reversed activity id.
func markUndone(ctx context.Context, q querier, id string) error {
	if _, err := q.ExecContext(ctx, `UPDATE objects SET undone = ? WHERE id = ?`, true, id); err != nil {
		return fmt.Errorf("activitypub: undoing %s: %w", id, err)
	}
	return nil
}

// inAudience reports whether local actor name may read the non-public
// object id.
func inAudience(ctx context.Context, q querier, id, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM audience WHERE object_id = ? AND actor = ?`, id, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("activitypub: reading the audience of %s: %w", id, err)
	}
	return n > 0, nil
}
