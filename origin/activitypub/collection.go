package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/subpub/subpub/wire"
)

// pageQuery is which page of a collection is asked for, by the paging
// parameters described in the package documentation.
type pageQuery struct {
	minID, maxID       uint64
	hasMinID, hasMaxID bool
}

// parsePageQuery reads the paging parameters and reports whether a page
// was asked for at all.
func parsePageQuery(q url.Values) (pageQuery, bool, error) {
	var pq pageQuery
	var err error
	if pq.minID, pq.hasMinID, err = cursorParam(q, "min_id"); err != nil {
		return pq, false, err
	}
	if pq.maxID, pq.hasMaxID, err = cursorParam(q, "max_id"); err != nil {
		return pq, false, err
	}
	return pq, pq.hasMinID || pq.hasMaxID || q.Has("page"), nil
}

func cursorParam(q url.Values, name string) (uint64, bool, error) {
	if !q.Has(name) {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(q.Get(name), 10, 63)
	if err != nil {
		return 0, false, wire.Errorf(http.StatusBadRequest, "%s: %q is not an event id (decimal digits)", name, q.Get(name))
	}
	return v, true, nil
}

// url is the page's canonical URL within collection id.
func (pq pageQuery) url(id string) string {
	q := url.Values{}
	if pq.hasMaxID {
		q.Set("max_id", strconv.FormatUint(pq.maxID, 10))
	}
	if pq.hasMinID {
		q.Set("min_id", strconv.FormatUint(pq.minID, 10))
	}
	if len(q) == 0 {
		return id + "?page=true"
	}
	return id + "?" + q.Encode()
}

// collectionDoc is the representation of a collection without its items:
// its size in viewer's view and links to its first and last pages.
func (s *Server) collectionDoc(ctx context.Context, q querier, res *resource, viewer string) (doc, error) {
	var d doc
	if res.obj != nil {
		d = maps.Clone(res.obj.data)
	} else {
		d = doc{"id": res.id, "type": "OrderedCollection", "attributedTo": s.actorID(res.owner)}
	}
	total, err := countItems(ctx, q, res.id, ownerView(res, viewer))
	if err != nil {
		return nil, err
	}
	d["totalItems"] = total
	d["first"] = pageQuery{}.url(res.id)
	d["last"] = pageQuery{hasMinID: true}.url(res.id)
	d["eventStream"] = res.id
	return d, nil
}

// collectionPage is one page of collection res in viewer's view.
func (s *Server) collectionPage(ctx context.Context, q querier, res *resource, viewer string, pq pageQuery) (doc, error) {
	all := ownerView(res, viewer)
	items, err := pageItems(ctx, q, res.id, all, pq, s.pageSize())
	if err != nil {
		return nil, err
	}
	pageType, itemsKey := "OrderedCollectionPage", "orderedItems"
	if res.obj != nil && res.obj.typ == "Collection" {
		pageType, itemsKey = "CollectionPage", "items"
	}
	rendered := make([]any, 0, len(items))
	for _, it := range items {
		d, err := s.renderItem(ctx, q, it.id, viewer)
		if err != nil {
			return nil, err
		}
		rendered = append(rendered, d)
	}
	page := doc{
		"id":     pq.url(res.id),
		"type":   pageType,
		"partOf": res.id,
		itemsKey: rendered,
	}
	if len(items) == 0 {
		return page, nil
	}
	newest, oldest := items[0].seq, items[len(items)-1].seq
	if more, err := hasItemBeyond(ctx, q, res.id, all, oldest, false); err != nil {
		return nil, err
	} else if more {
		page["next"] = pageQuery{maxID: oldest, hasMaxID: true}.url(res.id)
	}
	if more, err := hasItemBeyond(ctx, q, res.id, all, newest, true); err != nil {
		return nil, err
	} else if more {
		page["prev"] = pageQuery{minID: newest, hasMinID: true}.url(res.id)
	}
	return page, nil
}

// addItem adds item to coll, logging an Add event on the streams that may
// see it, whose sequence number becomes the item's cursor. The event embeds
// the item as the least privileged of those streams' readers sees it.
func (s *Server) addItem(ctx context.Context, t *tx, coll *resource, itemID string, itemPublic bool, actorID string) error {
	streams := s.itemStreams(coll, itemPublic)
	viewer := coll.owner
	if len(streams) > 1 {
		viewer = ""
	}
	item, err := s.renderItem(ctx, t, itemID, viewer)
	if err != nil {
		return err
	}
	seq, err := s.emit(t, streams, changeEvent("Add", actorID, item, coll.id))
	if err != nil {
		return err
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO collection_items (collection, item, public, seq) VALUES (?, ?, ?, ?)`,
		coll.id, itemID, itemPublic, int64(seq)); err != nil {
		return fmt.Errorf("activitypub: adding %s to %s: %w", itemID, coll.id, err)
	}
	return nil
}

// removeItem removes item from coll, logging a Remove event on the streams
// that saw it added. It reports whether item was there.
func (s *Server) removeItem(ctx context.Context, t *tx, coll *resource, itemID, actorID string) (bool, error) {
	var public bool
	err := t.QueryRowContext(ctx, `SELECT public FROM collection_items WHERE collection = ? AND item = ?`, coll.id, itemID).Scan(&public)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("activitypub: reading %s: %w", coll.id, err)
	}
	if _, err := t.ExecContext(ctx, `DELETE FROM collection_items WHERE collection = ? AND item = ?`, coll.id, itemID); err != nil {
		return false, fmt.Errorf("activitypub: removing %s from %s: %w", itemID, coll.id, err)
	}
	_, err = s.emit(t, s.itemStreams(coll, public), changeEvent("Remove", actorID, itemID, coll.id))
	return true, err
}

// collectionItem is an item id and its cursor.
type collectionItem struct {
	id  string
	seq uint64
}

// pageItems returns the items of a page, newest first: all of them, or only
// the public ones.
func pageItems(ctx context.Context, q querier, coll string, all bool, pq pageQuery, limit int) ([]collectionItem, error) {
	query := `SELECT item, seq FROM collection_items WHERE collection = ?`
	args := []any{coll}
	if !all {
		query += ` AND public`
	}
	if pq.hasMaxID {
		query += ` AND seq < ?`
		args = append(args, int64(pq.maxID))
	}
	if pq.hasMinID {
		query += ` AND seq > ? ORDER BY seq ASC LIMIT ?`
		args = append(args, int64(pq.minID))
	} else {
		query += ` ORDER BY seq DESC LIMIT ?`
	}
	args = append(args, limit)
	items, err := queryRows(ctx, q, "reading "+coll, func(r rowScanner) (it collectionItem, err error) {
		var seq int64
		err = r.Scan(&it.id, &seq)
		it.seq = uint64(seq)
		return it, err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	if pq.hasMinID {
		slices.Reverse(items)
	}
	return items, nil
}

// hasItemBeyond reports whether coll has an item newer (or older) than
// cursor seq.
func hasItemBeyond(ctx context.Context, q querier, coll string, all bool, seq uint64, newer bool) (bool, error) {
	query := `SELECT COUNT(*) FROM collection_items WHERE collection = ? AND seq < ?`
	if newer {
		query = `SELECT COUNT(*) FROM collection_items WHERE collection = ? AND seq > ?`
	}
	if !all {
		query += ` AND public`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, coll, int64(seq)).Scan(&n); err != nil {
		return false, fmt.Errorf("activitypub: reading %s: %w", coll, err)
	}
	return n > 0, nil
}

func countItems(ctx context.Context, q querier, coll string, all bool) (int, error) {
	query := `SELECT COUNT(*) FROM collection_items WHERE collection = ?`
	if !all {
		query += ` AND public`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, coll).Scan(&n); err != nil {
		return 0, fmt.Errorf("activitypub: counting %s: %w", coll, err)
	}
	return n, nil
}

func hasItem(ctx context.Context, q querier, coll, item string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM collection_items WHERE collection = ? AND item = ?`, coll, item).Scan(&n); err != nil {
		return false, fmt.Errorf("activitypub: reading %s: %w", coll, err)
	}
	return n > 0, nil
}

// itemIDs returns every item of coll, oldest first.
func itemIDs(ctx context.Context, q querier, coll string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT item FROM collection_items WHERE collection = ? ORDER BY seq`, coll)
}
