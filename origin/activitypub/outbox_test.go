package activitypub

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOutboxSideEffects checks each activity type's effects (ActivityPub
// §6) as clients observe them with GET.
func TestOutboxSideEffects(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *testEnv)
	}{
		{"a bare object is wrapped in a Create with ids, actor and attributedTo assigned", func(t *testing.T, e *testEnv) {
			create := e.post("alice", doc{"type": "Note", "content": "hi", "to": publicCollection, "id": "https://evil.example/x"})
			if create["type"] != "Create" || create["actor"] != actorURL("alice") {
				t.Fatalf("activity %v", create)
			}
			if !strings.HasPrefix(create["id"].(string), actorURL("alice")+"/activities/") {
				t.Errorf("activity id %v", create["id"])
			}
			note := create["object"].(doc)
			if !strings.HasPrefix(note["id"].(string), actorURL("alice")+"/objects/") {
				t.Errorf("object id %v: the client's id must be replaced", note["id"])
			}
			if note["attributedTo"] != actorURL("alice") || note["eventStream"] != note["id"] {
				t.Errorf("object %v", note)
			}
			if note["likes"] != note["id"].(string)+"/likes" || note["shares"] != note["id"].(string)+"/shares" {
				t.Errorf("object %v lacks its likes and shares", note)
			}
			got := e.get("", note["id"].(string), http.StatusOK)
			if got["content"] != "hi" || got["@context"] != asContext {
				t.Errorf("GET object: %v", got)
			}
			if items := e.items("", actorURL("alice")+"/outbox"); !slices.Equal(items, []string{create["id"].(string)}) {
				t.Errorf("outbox %v", items)
			}
		}},
		{"Create copies addressing between the activity and its object", func(t *testing.T, e *testEnv) {
			create := e.post("alice", doc{
				"type":   "Create",
				"to":     []any{actorURL("bob")},
				"object": doc{"type": "Note", "content": "x", "cc": actorURL("carol")},
			})
			note := create["object"].(doc)
			for _, d := range []doc{create, note} {
				if !slices.Equal(idList(d["to"]), []string{actorURL("bob")}) || !slices.Equal(idList(d["cc"]), []string{actorURL("carol")}) {
					t.Errorf("addressing of %v: to %v, cc %v", d["type"], d["to"], d["cc"])
				}
			}
		}},
		{"Update replaces top-level properties and null removes one", func(t *testing.T, e *testEnv) {
			_, id := e.postNote("alice", "first", publicCollection)
			e.post("alice", doc{"type": "Update", "object": doc{"id": id, "content": "second", "summary": "s"}})
			e.post("alice", doc{"type": "Update", "object": doc{"id": id, "summary": nil, "name": "n"}})
			got := e.get("", id, http.StatusOK)
			if got["content"] != "second" || got["name"] != "n" || got["summary"] != nil || got["updated"] == nil {
				t.Errorf("updated object %v", got)
			}
		}},
		{"an actor updates its own profile", func(t *testing.T, e *testEnv) {
			e.post("alice", doc{"type": "Update", "object": doc{"id": actorURL("alice"), "name": "Alice", "summary": "hello"}})
			got := e.get("", actorURL("alice"), http.StatusOK)
			if got["name"] != "Alice" || got["summary"] != "hello" || got["inbox"] != actorURL("alice")+"/inbox" {
				t.Errorf("actor %v", got)
			}
		}},
		{"Delete replaces the object with a Tombstone answered with 410", func(t *testing.T, e *testEnv) {
			create, id := e.postNote("alice", "bye", publicCollection)
			e.post("alice", doc{"type": "Delete", "object": id})
			got := e.get("", id, http.StatusGone)
			if got["type"] != "Tombstone" || got["formerType"] != "Note" || got["content"] != nil {
				t.Errorf("deleted object %v", got)
			}
			e.get("", id+"/likes", http.StatusGone)
			// The Create in the outbox now embeds the Tombstone.
			c := e.get("", create["id"].(string), http.StatusOK)
			if c["object"].(doc)["type"] != "Tombstone" {
				t.Errorf("Create after Delete: %v", c)
			}
		}},
		{"an accepted Follow adds to followers and following", func(t *testing.T, e *testEnv) {
			f := e.post("bob", doc{"type": "Follow", "object": actorURL("alice")})
			if items := e.items("alice", actorURL("alice")+"/inbox"); !slices.Contains(items, f["id"].(string)) {
				t.Fatalf("Follow not delivered to the followee: inbox %v", items)
			}
			if items := e.items("", actorURL("alice")+"/followers"); len(items) != 0 {
				t.Fatalf("followers before Accept: %v", items)
			}
			accept := e.post("alice", doc{"type": "Accept", "object": f["id"]})
			if items := e.items("", actorURL("alice")+"/followers"); !slices.Equal(items, []string{actorURL("bob")}) {
				t.Errorf("followers %v", items)
			}
			if items := e.items("", actorURL("bob")+"/following"); !slices.Equal(items, []string{actorURL("alice")}) {
				t.Errorf("following %v", items)
			}
			if items := e.items("bob", actorURL("bob")+"/inbox"); !slices.Contains(items, accept["id"].(string)) {
				t.Errorf("Accept not delivered to the follower: inbox %v", items)
			}
		}},
		{"a rejected Follow adds nothing", func(t *testing.T, e *testEnv) {
			f := e.post("bob", doc{"type": "Follow", "object": actorURL("alice")})
			e.post("alice", doc{"type": "Reject", "object": f["id"]})
			if items := e.items("", actorURL("alice")+"/followers"); len(items) != 0 {
				t.Errorf("followers %v", items)
			}
			if items := e.items("", actorURL("bob")+"/following"); len(items) != 0 {
				t.Errorf("following %v", items)
			}
		}},
		{"Like adds to the actor's liked and the object's likes", func(t *testing.T, e *testEnv) {
			_, id := e.postNote("alice", "likeable", publicCollection)
			like := e.post("bob", doc{"type": "Like", "object": id, "to": publicCollection})
			if items := e.items("", actorURL("bob")+"/liked"); !slices.Equal(items, []string{id}) {
				t.Errorf("liked %v", items)
			}
			if items := e.items("", id+"/likes"); !slices.Equal(items, []string{like["id"].(string)}) {
				t.Errorf("likes %v", items)
			}
		}},
		{"Announce adds to the object's shares", func(t *testing.T, e *testEnv) {
			_, id := e.postNote("alice", "shareable", publicCollection)
			announce := e.post("bob", doc{"type": "Announce", "object": doc{"id": id}, "to": publicCollection})
			if items := e.items("", id+"/shares"); !slices.Equal(items, []string{announce["id"].(string)}) {
				t.Errorf("shares %v", items)
			}
		}},
		{"Add and Remove change a collection the actor created", func(t *testing.T, e *testEnv) {
			c := e.post("alice", doc{"type": "Create", "object": doc{"type": "OrderedCollection", "name": "favourites"}, "to": publicCollection})
			coll := objectID(t, c)
			_, id := e.postNote("bob", "worth keeping", publicCollection)
			e.post("alice", doc{"type": "Add", "object": id, "target": coll})
			if items := e.items("", coll); !slices.Equal(items, []string{id}) {
				t.Errorf("after Add: %v", items)
			}
			e.post("alice", doc{"type": "Remove", "object": id, "target": doc{"id": coll}})
			if items := e.items("", coll); len(items) != 0 {
				t.Errorf("after Remove: %v", items)
			}
		}},
		{"Undo of Like, Follow and Announce reverses their effects", func(t *testing.T, e *testEnv) {
			_, id := e.postNote("alice", "n", publicCollection)
			like := e.post("bob", doc{"type": "Like", "object": id})
			announce := e.post("bob", doc{"type": "Announce", "object": id})
			f := e.post("bob", doc{"type": "Follow", "object": actorURL("alice")})
			e.post("alice", doc{"type": "Accept", "object": f["id"]})
			for _, a := range []doc{like, announce, f} {
				e.post("bob", doc{"type": "Undo", "object": a["id"]})
			}
			for _, coll := range []string{actorURL("bob") + "/liked", id + "/likes", id + "/shares", actorURL("alice") + "/followers", actorURL("bob") + "/following"} {
				if items := e.items("bob", coll); len(items) != 0 {
					t.Errorf("%s after Undo: %v", coll, items)
				}
			}
			// Liking again is possible once undone.
			e.post("bob", doc{"type": "Like", "object": id})
		}},
		{"an undone Follow cannot be accepted", func(t *testing.T, e *testEnv) {
			f := e.post("bob", doc{"type": "Follow", "object": actorURL("alice")})
			e.post("bob", doc{"type": "Undo", "object": f["id"]})
			status, _, problem := e.do(http.MethodPost, "/users/alice/outbox", "alice", doc{"type": "Accept", "object": f["id"]})
			if status != http.StatusBadRequest || !strings.Contains(problem["detail"].(string), "undone") {
				t.Errorf("status %d: %v", status, problem)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newEnv(t))
		})
	}
}
