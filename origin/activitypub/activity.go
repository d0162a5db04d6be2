package activitypub

import (
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/subpub/subpub/wire"
)

// publicCollection is the special collection that addresses everyone
// (ActivityPub §5.6), and the two compact forms JSON-LD allows for it.
const publicCollection = "https://www.w3.org/ns/activitystreams#Public"

func isPublicAddress(id string) bool {
	return id == publicCollection || id == "as:Public" || id == "Public"
}

// addressingProperties name an activity's recipients (ActivityPub §7).
// bto and bcc are used for delivery, then removed.
func addressingProperties() [5]string {
	return [...]string{"to", "bto", "cc", "bcc", "audience"}
}

func isAddressingProperty(key string) bool {
	for _, p := range addressingProperties() {
		if key == p {
			return true
		}
	}
	return false
}

// isSupportedActivity reports the activity types an outbox accepts.
func isSupportedActivity(typ string) bool {
	switch typ {
	case "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Like", "Announce", "Add", "Remove", "Undo":
		return true
	}
	return false
}

// isActivityType reports the Activity Streams activity types, supported or
// not. Question is left out: it is created like an object (a poll).
func isActivityType(typ string) bool {
	switch typ {
	case "Activity", "IntransitiveActivity", "Accept", "Add", "Announce", "Arrive", "Block", "Create", "Delete",
		"Dislike", "Flag", "Follow", "Ignore", "Invite", "Join", "Leave", "Like", "Listen", "Move", "Offer",
		"Read", "Reject", "Remove", "TentativeAccept", "TentativeReject", "Travel", "Undo", "Update", "View":
		return true
	}
	return false
}

func isActorType(typ string) bool {
	switch typ {
	case "Application", "Group", "Organization", "Person", "Service":
		return true
	}
	return false
}

func isCollectionType(typ string) bool {
	return typ == "OrderedCollection" || typ == "Collection"
}

// collectionItemProperties are the properties of a collection that the
// server computes from its items.
func collectionItemProperties(key string) bool {
	switch key {
	case "items", "orderedItems", "totalItems", "first", "last", "current":
		return true
	}
	return false
}

// parsedActivity is a posted activity whose shape has been checked; what
// it refers to has not.
type parsedActivity struct {
	Type string
	// Doc is the activity, without "@context"; a bare object is wrapped in
	// a Create (ActivityPub §6.2.1). Addressing properties are lists of ids.
	Doc doc
	// Object is the embedded object of a Create or Update; for a Create,
	// its addressing and the activity's are each other's union (§6.2).
	Object doc
	// ObjectID is the id of the object of any activity but Create.
	ObjectID string
	// TargetID is the id of the target of Add and Remove.
	TargetID string
}

// badActivity is the error for a posted activity that cannot be accepted.
func badActivity(format string, args ...any) error {
	return wire.Errorf(http.StatusBadRequest, format, args...)
}

// parseActivity checks the shape of a posted body and normalizes it. Every
// error it returns is a 400 StatusError that names the problem. It does not
// look at the store: see prepare for what the activity refers to.
func parseActivity(body []byte) (*parsedActivity, error) {
	d, err := decodeDoc(body)
	if err != nil {
		return nil, badActivity("body is %v", err)
	}
	delete(d, "@context")
	typ, err := typeOf(d, "")
	if err != nil {
		return nil, err
	}
	if !isActivityType(typ) {
		d = doc{"type": "Create", "object": d}
		typ = "Create"
	}
	if !isSupportedActivity(typ) {
		return nil, badActivity("%s: unsupported activity type (supported: Create, Update, Delete, Follow, Accept, Reject, Like, Announce, Add, Remove, Undo)", typ)
	}
	a := &parsedActivity{Type: typ, Doc: d}
	if err := normalizeAddressing(d, typ); err != nil {
		return nil, err
	}
	if v, ok := d["actor"]; ok {
		if _, ok := idOf(v); !ok {
			return nil, badActivity("%s: actor must be an id or an object with an id", typ)
		}
	}
	object, ok := d["object"]
	if !ok || object == nil {
		return nil, badActivity("%s: object is missing", typ)
	}
	switch typ {
	case "Create":
		return a, a.parseCreate(object)
	case "Update":
		obj, ok := object.(doc)
		if !ok {
			return nil, badActivity("Update: object must be embedded, with the properties to replace")
		}
		a.Object = obj
		delete(obj, "@context")
		for _, p := range addressingProperties() {
			if v, given := obj[p]; given && v == nil {
				return nil, errFixedAddressing(p)
			}
		}
		if a.ObjectID, err = referencedID(typ, "object", obj); err != nil {
			return nil, err
		}
		if _, given := obj["type"]; given {
			if _, err := typeOf(obj, "Update: object "); err != nil {
				return nil, err
			}
		}
		return a, normalizeAddressing(obj, "Update: object")
	}
	if a.ObjectID, err = referencedID(typ, "object", object); err != nil {
		return nil, err
	}
	if typ == "Add" || typ == "Remove" {
		target, ok := d["target"]
		if !ok || target == nil {
			return nil, badActivity("%s: target is missing", typ)
		}
		if a.TargetID, err = referencedID(typ, "target", target); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// parseCreate checks the object of a Create and merges the addressing of
// the activity and the object.
func (a *parsedActivity) parseCreate(object any) error {
	obj, ok := object.(doc)
	if !ok {
		return badActivity("Create: object must be embedded (a JSON object), not a reference")
	}
	delete(obj, "@context")
	typ, err := typeOf(obj, "Create: object ")
	if err != nil {
		return err
	}
	switch {
	case isActivityType(typ):
		return badActivity("Create: object is a %s activity: post activities to the outbox directly", typ)
	case isActorType(typ):
		return badActivity("Create: creating actors (%s) is not supported", typ)
	case typ == "Tombstone":
		return badActivity("Create: cannot create a Tombstone")
	}
	if isCollectionType(typ) {
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if collectionItemProperties(k) {
				return badActivity("Create: %s: a collection's items are added with Add, not given at creation", k)
			}
		}
	}
	if err := normalizeAddressing(obj, "Create: object"); err != nil {
		return err
	}
	for _, p := range addressingProperties() {
		merged := unionIDs(idList(a.Doc[p]), idList(obj[p]))
		if len(merged) > 0 {
			a.Doc[p] = toAnyList(merged)
			obj[p] = toAnyList(merged)
		}
	}
	a.Object = obj
	return nil
}

// typeOf returns the type of d, which must be one string.
func typeOf(d doc, where string) (string, error) {
	v, ok := d["type"]
	if !ok {
		return "", badActivity("%stype is missing", where)
	}
	typ, ok := v.(string)
	if !ok {
		return "", badActivity("%stype must be a single string", where)
	}
	if typ == "" {
		return "", badActivity("%stype is empty", where)
	}
	return typ, nil
}

// referencedID returns the id the property prop of an activity refers to,
// which must be an absolute http(s) URL.
func referencedID(typ, prop string, v any) (string, error) {
	if _, isList := v.([]any); isList {
		return "", badActivity("%s: %s must be one id or object, not a list", typ, prop)
	}
	id, ok := idOf(v)
	if !ok {
		return "", badActivity("%s: %s has no id", typ, prop)
	}
	if !isHTTPURL(id) {
		return "", badActivity("%s: %s %q is not an absolute http(s) URL", typ, prop, id)
	}
	return id, nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// normalizeAddressing replaces each addressing property of d by a list of
// ids, so that the rest of the server reads one shape. Each may be given as
// an id, an object with an id, or a list of either.
func normalizeAddressing(d doc, where string) error {
	for _, p := range addressingProperties() {
		v, ok := d[p]
		if !ok {
			continue
		}
		if v == nil {
			delete(d, p)
			continue
		}
		values, isList := v.([]any)
		if !isList {
			values = []any{v}
		}
		ids := make([]string, 0, len(values))
		for _, item := range values {
			id, ok := idOf(item)
			if !ok {
				return badActivity("%s: %s must list ids or objects with ids", where, p)
			}
			if !isPublicAddress(id) && !isHTTPURL(id) {
				return badActivity("%s: %s: %q is not an absolute http(s) URL", where, p, id)
			}
			ids = append(ids, id)
		}
		d[p] = toAnyList(unionIDs(ids))
	}
	return nil
}

// errFixedAddressing refuses an Update of an addressing property: who
// received an object and may read it was decided when it was created.
func errFixedAddressing(prop string) error {
	return badActivity("Update: %s cannot change: addressing is fixed when an object is created", prop)
}

// idList reads an addressing property normalized by normalizeAddressing.
func idList(v any) []string {
	values, _ := v.([]any)
	ids := make([]string, 0, len(values))
	for _, item := range values {
		if id, ok := item.(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// addresses are all the ids d is addressed to.
func addresses(d doc) []string {
	var all []string
	for _, p := range addressingProperties() {
		all = append(all, idList(d[p])...)
	}
	return unionIDs(all)
}

// unionIDs concatenates lists without repeating an id, keeping the order of
// first appearance.
func unionIDs(lists ...[]string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, list := range lists {
		for _, id := range list {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func toAnyList(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// sameAddressing reports whether two normalized addressing values list the
// same ids, in any order.
func sameAddressing(a, b any) bool {
	x, y := idList(a), idList(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// withoutBlind returns d without bto and bcc, which name recipients the
// others must not learn of: they are used for delivery, then removed.
func withoutBlind(d doc) doc {
	out := maps.Clone(d)
	delete(out, "bto")
	delete(out, "bcc")
	return out
}
