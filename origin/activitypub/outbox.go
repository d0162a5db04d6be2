package activitypub

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/subpub/subpub/wire"
)

// posting is an activity being processed by an outbox, within the write
// transaction that applies it.
type posting struct {
	*parsedActivity
	actor   string // name of the posting actor, the outbox's owner
	actorID string
	id      string // id assigned to the activity
	rcpt    recipients

	object  *resource     // what the object refers to (all but Create)
	target  *resource     // Add, Remove: the collection
	created *storedObject // Create: the new object
	updated doc           // Update: the object's new representation
	answers *storedObject // Accept, Reject, Undo: the activity they act on
}

// postOutbox serves POST to an outbox: the client-to-server API
// (ActivityPub §6). Only the outbox's owner may post. The activity gets an
// id, takes effect, is added to the outbox and delivered to the inboxes of
// its local recipients, all in one transaction whose events are published
// once it commits. The answer is 201 with the activity's id as Location.
func (s *Server) postOutbox(w http.ResponseWriter, r *http.Request, outbox *resource, viewer string) (err error) {
	defer func() {
		var se *wire.StatusError
		if errors.As(err, &se) {
			s.metrics().ActivityRejected(se.Status)
		}
	}()
	switch {
	case viewer == "":
		return errUnauthorized("posting to "+outbox.id+" needs its owner's bearer token", false)
	case viewer != outbox.owner:
		return wire.Errorf(http.StatusForbidden, "only %s may post to %s", outbox.owner, outbox.id)
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBodyBytes()))
	if err != nil {
		return wire.BodyError(err)
	}
	a, err := parseActivity(body)
	if err != nil {
		return err
	}
	p := &posting{parsedActivity: a, actor: outbox.owner, actorID: s.actorID(outbox.owner)}
	var result doc
	err = s.write(r.Context(), func(t *tx) error {
		if err := s.process(r.Context(), t, p); err != nil {
			return err
		}
		var err error
		result, err = s.renderID(r.Context(), t, p.id, p.actor)
		return err
	})
	if err != nil {
		return err
	}
	s.metrics().ActivityPosted(p.Type)
	w.Header().Set("Location", p.id)
	return s.writeDoc(w, r, http.StatusCreated, result, false)
}

// checkContentType accepts the media types of Activity Streams documents
// (ActivityPub §6) and plain JSON.
func checkContentType(value string) error {
	mt, _, err := mime.ParseMediaType(value)
	if err == nil {
		switch mt {
		case contentTypeActivity, "application/ld+json", "application/json":
			return nil
		}
	}
	if value == "" {
		value = "none"
	}
	return &wire.StatusError{
		Status: http.StatusUnsupportedMediaType,
		Detail: "Content-Type " + value + " is not accepted: post application/activity+json or application/ld+json",
		Header: http.Header{"Accept-Post": {contentTypeActivity + ", " + contentTypeLD}},
	}
}

// process applies an activity: the common steps here, the type's own in
// prepare (checks, before anything is written) and apply (effects, after
// the activity is stored).
func (s *Server) process(ctx context.Context, t *tx, p *posting) error {
	if v, ok := p.Doc["actor"]; ok {
		if id, _ := idOf(v); id != p.actorID {
			return badActivity("%s: actor must be %s, the outbox's owner", p.Type, p.actorID)
		}
	}
	p.id = s.mintID(p.actor, "activities")
	p.Doc["id"] = p.id
	p.Doc["actor"] = p.actorID
	p.Doc["published"] = t.now.UTC().Format(time.RFC3339Nano)
	// Activities refer to what they act on by id; an embedded version is
	// rendered from the store when the activity is served.
	if p.ObjectID != "" {
		p.Doc["object"] = p.ObjectID
	}
	if p.TargetID != "" {
		p.Doc["target"] = p.TargetID
	}
	var err error
	if p.rcpt, err = s.addressees(ctx, t, p.actor, addresses(p.Doc)); err != nil {
		return err
	}
	if err := s.prepare(ctx, t, p); err != nil {
		return err
	}
	activity := &storedObject{
		id:     p.id,
		kind:   kindActivity,
		typ:    p.Type,
		owner:  p.actor,
		public: p.rcpt.public,
		data:   withoutBlind(p.Doc),
	}
	if err := insertObject(ctx, t, activity, p.rcpt.local); err != nil {
		return err
	}
	if err := s.apply(ctx, t, p); err != nil {
		return err
	}
	if err := s.addItem(ctx, t, s.actorCollection(p.actor, kindOutbox), p.id, p.rcpt.public, p.actorID); err != nil {
		return err
	}
	return s.deliver(ctx, t, p)
}

// mintID assigns a new id under local actor name: segment is "objects",
// "activities" or "collections".
func (s *Server) mintID(name, segment string) string {
	return s.actorID(name) + "/" + segment + "/" + strings.ToLower(rand.Text())
}

// prepare checks what an activity refers to, and gets ready to apply it,
// writing nothing but the recipients it implies.
func (s *Server) prepare(ctx context.Context, t *tx, p *posting) error {
	var err error
	if p.Type != "Create" && !p.refersToActivity() {
		if p.object, err = s.referent(ctx, t, p, "object", p.ObjectID); err != nil {
			return err
		}
	}
	switch p.Type {
	case "Create":
		return s.prepareCreate(p)
	case "Update":
		return s.prepareUpdate(ctx, t, p)
	case "Delete":
		return s.prepareDelete(p)
	case "Follow":
		return s.prepareFollow(ctx, t, p)
	case "Accept", "Reject":
		return s.prepareAnswer(ctx, t, p)
	case "Like", "Announce":
		return s.prepareReaction(ctx, t, p)
	case "Add", "Remove":
		return s.prepareMembership(ctx, t, p)
	case "Undo":
		return s.prepareUndo(ctx, t, p)
	}
	return badActivity("%s: unsupported activity type", p.Type)
}

// refersToActivity reports the types whose object is an activity of the
// store, checked by the type's own preparation.
func (p *posting) refersToActivity() bool {
	return p.Type == "Accept" || p.Type == "Reject" || p.Type == "Undo"
}

// referent resolves id, named by property prop of the activity, to a local
// resource the posting actor may read. Whatever it may not read does not
// exist as far as it is told.
func (s *Server) referent(ctx context.Context, t *tx, p *posting, prop, id string) (*resource, error) {
	res, err := s.lookup(ctx, t, id)
	if errors.Is(err, errNotFound) {
		if !s.isLocal(id) {
			return nil, badActivity("%s: %s %s is not on this server: remote objects are not supported", p.Type, prop, id)
		}
		return nil, badActivity("%s: %s %s does not exist", p.Type, prop, id)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := canRead(ctx, t, res, p.actor); err != nil {
		return nil, err
	} else if !ok {
		return nil, badActivity("%s: %s %s does not exist", p.Type, prop, id)
	}
	return res, nil
}

// prepareCreate gives the new object its id and the properties the server
// maintains (ActivityPub §6.2).
func (s *Server) prepareCreate(p *posting) error {
	obj := p.Object
	if v, ok := obj["attributedTo"]; ok {
		if id, _ := idOf(v); id != p.actorID {
			return badActivity("Create: object's attributedTo must be %s, the actor", p.actorID)
		}
	}
	typ := stringProp(obj, "type")
	k, segment := kindObject, "objects"
	if isCollectionType(typ) {
		k, segment = kindCollection, "collections"
	}
	id := s.mintID(p.actor, segment)
	obj["id"] = id
	obj["attributedTo"] = p.actorID
	obj["published"] = p.Doc["published"]
	obj["eventStream"] = id
	if k == kindObject {
		obj["likes"] = id + "/" + kindLikes.String()
		obj["shares"] = id + "/" + kindShares.String()
	}
	p.created = &storedObject{id: id, kind: k, typ: typ, owner: p.actor, public: p.rcpt.public, data: withoutBlind(obj)}
	p.Doc["object"] = id
	return nil
}

// prepareUpdate computes the object's new representation: the posted
// top-level properties replace the old ones, a null removes one
// (ActivityPub §6.3). Only the owner may update, and not the properties the
// server maintains nor the addressing, which decided who received the
// object and may read it.
func (s *Server) prepareUpdate(ctx context.Context, t *tx, p *posting) error {
	res := p.object
	if err := s.checkOwnChange(p, res); err != nil {
		return err
	}
	var current doc
	if res.kind == kindActor {
		profile, err := actorProfile(ctx, t, res.owner)
		if err != nil {
			return err
		}
		current = s.actorDoc(res.owner, profile)
	} else {
		current = maps.Clone(res.obj.data)
	}
	// In a fixed order, so that of several problems the same is reported.
	for _, k := range slices.Sorted(maps.Keys(p.Object)) {
		v := p.Object[k]
		switch {
		case k == "id", k == "updated":
		case k == "type":
			if v != current["type"] {
				return badActivity("Update: type cannot change (%v to %v)", current["type"], v)
			}
		case isAddressingProperty(k):
			if !sameAddressing(v, current[k]) {
				return errFixedAddressing(k)
			}
		case serverMaintained(res.kind, k):
			if !reflect.DeepEqual(v, current[k]) {
				return badActivity("Update: %s is maintained by the server", k)
			}
		case v == nil:
			delete(current, k)
		default:
			current[k] = v
		}
	}
	current["updated"] = p.Doc["published"]
	p.updated = current
	return nil
}

// serverMaintained reports the properties of a resource of kind k that
// clients may not change.
func serverMaintained(k kind, key string) bool {
	switch key {
	case "attributedTo", "published", "eventStream", "likes", "shares":
		return true
	}
	switch k {
	case kindActor:
		return actorProperties(key)
	case kindCollection:
		return collectionItemProperties(key)
	}
	return false
}

// checkOwnChange checks that an Update or Delete changes something the
// actor owns and may change.
func (s *Server) checkOwnChange(p *posting, res *resource) error {
	switch {
	case res.deleted:
		return badActivity("%s: %s has been deleted", p.Type, res.id)
	case res.kind == kindActivity:
		return badActivity("%s: %s is an activity: activities cannot be changed (Undo reverses Like, Follow and Announce)", p.Type, res.id)
	case res.kind.maintained():
		return badActivity("%s: %s is maintained by the server", p.Type, res.id)
	case res.kind == kindActor && p.Type == "Delete":
		return badActivity("Delete: deleting actors is not supported")
	case res.owner != p.actor:
		return wire.Errorf(http.StatusForbidden, "%s: only the owner of %s may change it", p.Type, res.id)
	}
	return nil
}

func (s *Server) prepareDelete(p *posting) error {
	return s.checkOwnChange(p, p.object)
}

func (s *Server) prepareFollow(ctx context.Context, t *tx, p *posting) error {
	switch {
	case p.object.kind != kindActor:
		return badActivity("Follow: %s is not an actor", p.object.id)
	case p.object.owner == p.actor:
		return badActivity("Follow: an actor cannot follow itself")
	}
	if following, err := hasItem(ctx, t, s.actorCollection(p.actor, kindFollowing).id, p.object.id); err != nil {
		return err
	} else if following {
		return badActivity("Follow: already following %s", p.object.id)
	}
	s.addressTo(p, p.object.owner)
	return nil
}

// prepareAnswer checks that an Accept or Reject answers a Follow of the
// actor, and addresses it to the follower.
func (s *Server) prepareAnswer(ctx context.Context, t *tx, p *posting) error {
	follow, err := getObject(ctx, t, p.ObjectID)
	if errors.Is(err, errNotFound) || (err == nil && (follow.kind != kindActivity || follow.typ != "Follow" || stringProp(follow.data, "object") != p.actorID)) {
		return badActivity("%s: object is not a Follow of this actor", p.Type)
	}
	if err != nil {
		return err
	}
	if follow.undone {
		return badActivity("%s: %s has been undone", p.Type, follow.id)
	}
	p.answers = follow
	s.addressTo(p, follow.owner)
	return nil
}

// prepareReaction checks the object of a Like or Announce.
func (s *Server) prepareReaction(ctx context.Context, t *tx, p *posting) error {
	switch {
	case p.object.deleted:
		return badActivity("%s: %s has been deleted", p.Type, p.object.id)
	case p.object.kind != kindObject:
		return badActivity("%s: %s is not an object: only objects have likes and shares", p.Type, p.object.id)
	}
	if p.Type != "Like" {
		return nil
	}
	if liked, err := hasItem(ctx, t, s.actorCollection(p.actor, kindLiked).id, p.object.id); err != nil {
		return err
	} else if liked {
		return badActivity("Like: %s is already liked", p.object.id)
	}
	return nil
}

// prepareMembership checks an Add or Remove: the target must be a
// collection the actor created.
func (s *Server) prepareMembership(ctx context.Context, t *tx, p *posting) error {
	target, err := s.referent(ctx, t, p, "target", p.TargetID)
	if err != nil {
		return err
	}
	switch {
	case !target.kind.isCollection():
		return badActivity("%s: target %s is not a collection", p.Type, target.id)
	case target.kind.maintained():
		return badActivity("%s: target %s is maintained by the server", p.Type, target.id)
	case target.deleted:
		return badActivity("%s: target %s has been deleted", p.Type, target.id)
	case target.owner != p.actor:
		return wire.Errorf(http.StatusForbidden, "%s: target %s belongs to %s", p.Type, target.id, target.owner)
	case p.Type == "Add" && p.object.deleted:
		return badActivity("Add: %s has been deleted", p.object.id)
	}
	p.target = target
	in, err := hasItem(ctx, t, target.id, p.object.id)
	switch {
	case err != nil:
		return err
	case p.Type == "Add" && in:
		return badActivity("Add: %s is already in %s", p.object.id, target.id)
	case p.Type == "Remove" && !in:
		return badActivity("Remove: %s is not in %s", p.object.id, target.id)
	}
	return nil
}

// prepareUndo checks that the object is an activity of this actor that can
// be undone and has not been.
func (s *Server) prepareUndo(ctx context.Context, t *tx, p *posting) error {
	undone, err := getObject(ctx, t, p.ObjectID)
	if errors.Is(err, errNotFound) || (err == nil && (undone.kind != kindActivity || undone.owner != p.actor)) {
		return badActivity("Undo: object is not an activity of this actor")
	}
	if err != nil {
		return err
	}
	switch {
	case undone.typ != "Like" && undone.typ != "Follow" && undone.typ != "Announce":
		return badActivity("Undo: undoing %s is not supported (only Like, Follow and Announce)", undone.typ)
	case undone.undone:
		return badActivity("Undo: %s has already been undone", undone.id)
	}
	p.answers = undone
	if undone.typ == "Follow" {
		if name, ok := s.actorName(stringProp(undone.data, "object")); ok {
			s.addressTo(p, name)
		}
	}
	return nil
}

// apply performs an activity's side effects (ActivityPub §6), each of which
// logs events on the streams it affects.
func (s *Server) apply(ctx context.Context, t *tx, p *posting) error {
	switch p.Type {
	case "Create":
		return insertObject(ctx, t, p.created, p.rcpt.local)
	case "Update":
		return s.applyUpdate(ctx, t, p)
	case "Delete":
		return s.applyDelete(ctx, t, p)
	case "Accept":
		follower := s.actorID(p.answers.owner)
		if err := s.addIfMissing(ctx, t, s.actorCollection(p.actor, kindFollowers), follower, p.actorID); err != nil {
			return err
		}
		return s.addIfMissing(ctx, t, s.actorCollection(p.answers.owner, kindFollowing), p.actorID, p.actorID)
	case "Reject":
		// Rejecting a Follow already accepted ends it, as removing a
		// follower does elsewhere.
		return s.unfollow(ctx, t, p.answers.owner, p.actor, p.actorID)
	case "Like":
		if err := s.addItem(ctx, t, s.actorCollection(p.actor, kindLiked), p.object.id, p.object.public, p.actorID); err != nil {
			return err
		}
		return s.addItem(ctx, t, objectCollection(p.object, kindLikes), p.id, p.rcpt.public, p.actorID)
	case "Announce":
		return s.addItem(ctx, t, objectCollection(p.object, kindShares), p.id, p.rcpt.public, p.actorID)
	case "Add":
		return s.addItem(ctx, t, p.target, p.object.id, p.object.public, p.actorID)
	case "Remove":
		_, err := s.removeItem(ctx, t, p.target, p.object.id, p.actorID)
		return err
	case "Undo":
		return s.applyUndo(ctx, t, p)
	}
	return nil
}

// applyUpdate stores the new representation and tells the object's streams.
func (s *Server) applyUpdate(ctx context.Context, t *tx, p *posting) error {
	res := p.object
	if res.kind == kindActor {
		if err := saveActorProfile(ctx, t, res.owner, p.updated); err != nil {
			return err
		}
	} else {
		res.obj.data = p.updated
		if err := saveObject(ctx, t, res.obj, t.now); err != nil {
			return err
		}
	}
	_, err := s.emit(t, s.resourceStreams(res), changeEvent("Update", p.actorID, p.updated, ""))
	return err
}

// applyDelete replaces the object by a Tombstone (ActivityPub §6.4), tells
// its streams, and ends them, and those of its likes and shares.
func (s *Server) applyDelete(ctx context.Context, t *tx, p *posting) error {
	res := p.object
	res.obj.data = tombstone(res.id, res.obj.typ, p.Doc["published"])
	res.obj.deleted = true
	if err := saveObject(ctx, t, res.obj, t.now); err != nil {
		return err
	}
	gone := []*resource{res}
	if res.kind == kindObject {
		gone = append(gone, objectCollection(res, kindLikes), objectCollection(res, kindShares))
	}
	for i, g := range gone {
		tomb := res.obj.data
		if i > 0 {
			tomb = tombstone(g.id, "OrderedCollection", p.Doc["published"])
		}
		streams := s.resourceStreams(g)
		if _, err := s.emit(t, streams, changeEvent("Delete", p.actorID, tomb, "")); err != nil {
			return err
		}
		for _, st := range streams {
			t.endStream(st.Key)
		}
	}
	return nil
}

func tombstone(id, formerType string, deleted any) doc {
	return doc{"id": id, "type": "Tombstone", "formerType": formerType, "deleted": deleted}
}

// applyUndo reverses a Like, Follow or Announce (ActivityPub §6.10).
func (s *Server) applyUndo(ctx context.Context, t *tx, p *posting) error {
	undone := p.answers
	if err := markUndone(ctx, t, undone.id); err != nil {
		return err
	}
	objectID := stringProp(undone.data, "object")
	switch undone.typ {
	case "Follow":
		name, ok := s.actorName(objectID)
		if !ok {
			return nil
		}
		return s.unfollow(ctx, t, p.actor, name, p.actorID)
	case "Like":
		if _, err := s.removeItem(ctx, t, s.actorCollection(p.actor, kindLiked), objectID, p.actorID); err != nil {
			return err
		}
	}
	obj, err := s.lookup(ctx, t, objectID)
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	k := kindLikes
	if undone.typ == "Announce" {
		k = kindShares
	}
	_, err = s.removeItem(ctx, t, objectCollection(obj, k), undone.id, p.actorID)
	return err
}

// addIfMissing adds item to coll unless it is there already.
func (s *Server) addIfMissing(ctx context.Context, t *tx, coll *resource, item, actorID string) error {
	if in, err := hasItem(ctx, t, coll.id, item); err != nil || in {
		return err
	}
	return s.addItem(ctx, t, coll, item, true, actorID)
}

// unfollow ends local actor follower's following of followee, if it did.
func (s *Server) unfollow(ctx context.Context, t *tx, follower, followee, actorID string) error {
	if _, err := s.removeItem(ctx, t, s.actorCollection(followee, kindFollowers), s.actorID(follower), actorID); err != nil {
		return err
	}
	_, err := s.removeItem(ctx, t, s.actorCollection(follower, kindFollowing), s.actorID(followee), actorID)
	return err
}
