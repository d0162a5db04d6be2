package activitypub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/subpub/subpub/wire"
)

// kind is what a resource is, which decides how it is served, who may change
// it and which streams it has.
type kind int

const (
	kindActor kind = iota + 1
	kindObject
	kindActivity
	kindCollection // created by a client; its items are managed with Add and Remove
	kindInbox      // the remaining kinds are collections the server maintains
	kindOutbox
	kindFollowers
	kindFollowing
	kindLiked
	kindLikes
	kindShares
)

// String is the kind's name: the last segment of the URL of a collection
// the server maintains, the stored kind of the others, and a metrics label.
func (k kind) String() string {
	switch k {
	case kindActor:
		return "actor"
	case kindObject:
		return "object"
	case kindActivity:
		return "activity"
	case kindCollection:
		return "collection"
	case kindInbox:
		return "inbox"
	case kindOutbox:
		return "outbox"
	case kindFollowers:
		return "followers"
	case kindFollowing:
		return "following"
	case kindLiked:
		return "liked"
	case kindLikes:
		return "likes"
	case kindShares:
		return "shares"
	}
	return "unknown"
}

func (k kind) isCollection() bool { return k >= kindCollection }

// maintained reports a collection whose items only the server changes.
func (k kind) maintained() bool { return k > kindCollection }

// actorCollections are the collections every actor has.
func actorCollections() [5]kind {
	return [...]kind{kindInbox, kindOutbox, kindFollowers, kindFollowing, kindLiked}
}

// actorPathKind tells what the rest of a path after /users/NAME is: the
// actor itself (nothing) or one of its collections.
func actorPathKind(rest string, hasRest bool) (kind, bool) {
	if !hasRest {
		return kindActor, true
	}
	for _, k := range actorCollections() {
		if rest == k.String() {
			return k, true
		}
	}
	return 0, false
}

// resource is anything the server answers for at a URL.
type resource struct {
	id    string // absolute URL
	kind  kind
	owner string // name of the local actor it belongs to

	// public tells whether anyone may read it. If not, its owner may, and
	// the local actors in the audience of aclID: the object itself, or the
	// object a likes or shares collection belongs to. The actors'
	// collections other than the inbox are public.
	public bool
	aclID  string

	deleted bool
	obj     *storedObject // for objects, activities and created collections
}

// resolve finds the resource whose id is id, or returns a 404 StatusError.
func (s *Server) resolve(ctx context.Context, q querier, id string) (*resource, error) {
	res, err := s.lookup(ctx, q, id)
	if errors.Is(err, errNotFound) {
		if !s.isLocal(id) {
			return nil, wire.Errorf(http.StatusNotFound, "%s is not on this server: remote objects are not supported", id)
		}
		return nil, wire.Errorf(http.StatusNotFound, "%s does not exist", id)
	}
	return res, err
}

// lookup is resolve returning errNotFound.
func (s *Server) lookup(ctx context.Context, q querier, id string) (*resource, error) {
	if !s.isLocal(id) {
		return nil, errNotFound
	}
	path := strings.TrimPrefix(id, s.base)
	if rest, ok := strings.CutPrefix(path, "/users/"); ok {
		name, sub, hasSub := strings.Cut(rest, "/")
		if k, ok := actorPathKind(sub, hasSub); ok {
			exists, err := actorExists(ctx, q, name)
			if err != nil {
				return nil, err
			}
			switch {
			case !exists:
				return nil, errNotFound
			case k == kindActor:
				return &resource{id: id, kind: kindActor, owner: name, public: true}, nil
			}
			return s.actorCollection(name, k), nil
		}
	}
	obj, err := getObject(ctx, q, id)
	if err == nil {
		return obj.resource(), nil
	}
	if !errors.Is(err, errNotFound) {
		return nil, err
	}
	for _, k := range [...]kind{kindLikes, kindShares} {
		if parentID, ok := strings.CutSuffix(id, "/"+k.String()); ok {
			parent, err := getObject(ctx, q, parentID)
			if errors.Is(err, errNotFound) || (err == nil && parent.kind != kindObject) {
				return nil, errNotFound
			}
			if err != nil {
				return nil, err
			}
			return objectCollection(parent.resource(), k), nil
		}
	}
	return nil, errNotFound
}

func (s *Server) isLocal(id string) bool {
	return strings.HasPrefix(id, s.base+"/")
}

// actorID is the id of local actor name.
func (s *Server) actorID(name string) string {
	return s.base + "/users/" + name
}

// actorName returns the name of the local actor whose id is id.
func (s *Server) actorName(id string) (string, bool) {
	name, ok := strings.CutPrefix(id, s.base+"/users/")
	return name, ok && validActorName(name)
}

// actorCollection is one of the collections of local actor name.
func (s *Server) actorCollection(name string, k kind) *resource {
	return &resource{id: s.actorID(name) + "/" + k.String(), kind: k, owner: name, public: k != kindInbox}
}

// objectCollection is the likes or shares collection of obj, which is as
// visible as obj and goes when it goes.
func objectCollection(obj *resource, k kind) *resource {
	return &resource{
		id:      obj.id + "/" + k.String(),
		kind:    k,
		owner:   obj.owner,
		public:  obj.public,
		aclID:   obj.id,
		deleted: obj.deleted,
	}
}

// canRead reports whether viewer (a local actor's name, or "" for anyone)
// may read res.
func canRead(ctx context.Context, q querier, res *resource, viewer string) (bool, error) {
	switch {
	case res.public:
		return true, nil
	case viewer == "":
		return false, nil
	case viewer == res.owner:
		return true, nil
	case res.aclID == "":
		return false, nil
	}
	return inAudience(ctx, q, res.aclID, viewer)
}

// authorizeRead returns nil if viewer may read res, and otherwise the error
// to answer with: 401 for an anonymous request, 403 for another actor's.
func authorizeRead(ctx context.Context, q querier, res *resource, viewer string) error {
	ok, err := canRead(ctx, q, res, viewer)
	if err != nil || ok {
		return err
	}
	if viewer == "" {
		return errUnauthorized(res.id+" is not public: authenticate as an actor it is addressed to", false)
	}
	return wire.Errorf(http.StatusForbidden, "%s is not addressed to %s", res.id, viewer)
}

// ownerView reports whether viewer sees res as its owner: a collection has
// a public view, of its public items, and its owner's, of all of them.
func ownerView(res *resource, viewer string) bool {
	return viewer != "" && viewer == res.owner
}

// render returns the representation of res for viewer, without "@context":
// collections without their items (see renderCollection for pages). An
// activity that creates or updates an object embeds the object's current
// representation if viewer may read it, so that a Create in an outbox shows
// the note as it is now, or its Tombstone.
func (s *Server) render(ctx context.Context, q querier, res *resource, viewer string) (doc, error) {
	switch {
	case res.kind == kindActor:
		profile, err := actorProfile(ctx, q, res.owner)
		if err != nil {
			return nil, err
		}
		return s.actorDoc(res.owner, profile), nil
	case res.deleted && res.obj != nil:
		return maps.Clone(res.obj.data), nil // its Tombstone
	case res.kind.isCollection():
		return s.collectionDoc(ctx, q, res, viewer)
	}
	d := maps.Clone(res.obj.data)
	if res.kind != kindActivity {
		return d, nil
	}
	switch stringProp(d, "type") {
	case "Create", "Update":
		id, _ := d["object"].(string)
		obj, err := s.lookup(ctx, q, id)
		if errors.Is(err, errNotFound) {
			return d, nil
		}
		if err != nil {
			return nil, err
		}
		if ok, err := canRead(ctx, q, obj, viewer); err != nil || !ok {
			return d, err
		}
		if obj.kind == kindActor || obj.kind.isCollection() {
			return d, nil // already public, and large or derived
		}
		d["object"] = maps.Clone(obj.obj.data)
	}
	return d, nil
}

// renderID renders the resource id for viewer.
func (s *Server) renderID(ctx context.Context, q querier, id string, viewer string) (doc, error) {
	res, err := s.lookup(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("activitypub: rendering %s: %w", id, err)
	}
	return s.render(ctx, q, res, viewer)
}

// renderItem renders item id of a collection for viewer: in full if viewer
// may read it, and otherwise as its id alone. A collection's owner may
// not read everything in it: the likes of an object include Likes
// addressed to others.
func (s *Server) renderItem(ctx context.Context, q querier, id string, viewer string) (any, error) {
	res, err := s.lookup(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("activitypub: rendering %s: %w", id, err)
	}
	if ok, err := canRead(ctx, q, res, viewer); err != nil || !ok {
		return id, err
	}
	return s.render(ctx, q, res, viewer)
}

// actorDoc is the Person document of local actor name.
func (s *Server) actorDoc(name string, profile doc) doc {
	id := s.actorID(name)
	d := maps.Clone(profile)
	if d == nil {
		d = doc{}
	}
	d["id"] = id
	d["type"] = "Person"
	d["preferredUsername"] = name
	for _, k := range actorCollections() {
		d[k.String()] = id + "/" + k.String()
	}
	d["endpoints"] = doc{"proxyEventStream": s.base + proxyEventStreamPath}
	d["eventStream"] = id
	return d
}

// actorProperties are the properties of an actor's document that the
// server derives rather than stores.
func actorProperties(key string) bool {
	switch key {
	case "id", "type", "preferredUsername", "inbox", "outbox", "followers", "following", "liked", "endpoints", "eventStream":
		return true
	}
	return false
}

func actorExists(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM actors WHERE name = ?`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("activitypub: looking up actor %s: %w", name, err)
	}
	return n > 0, nil
}

func actorProfile(ctx context.Context, q querier, name string) (doc, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT profile FROM actors WHERE name = ?`, name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("activitypub: reading actor %s: %w", name, err)
	}
	d, err := decodeDoc([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("activitypub: actor %s: profile %w", name, err)
	}
	return d, nil
}

// saveActorProfile stores the properties of actor name's document that are
// not derived.
func saveActorProfile(ctx context.Context, q querier, name string, d doc) error {
	profile := maps.Clone(d)
	maps.DeleteFunc(profile, func(k string, _ any) bool { return actorProperties(k) })
	data, err := marshalASCII(profile)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `UPDATE actors SET profile = ? WHERE name = ?`, string(data), name); err != nil {
		return fmt.Errorf("activitypub: saving actor %s: %w", name, err)
	}
	return nil
}
