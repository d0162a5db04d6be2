package activitypub

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// TestEventsOnAffectedStreams checks that every change emits an event on
// every stream it affects, with the right type, object and target, and on
// no other.
func TestEventsOnAffectedStreams(t *testing.T) {
	type want struct {
		stream string // stream key
		events []string
	}
	// ev formats an expected event as "Type object target".
	ev := func(typ, object, target string) string { return fmt.Sprintf("%s %s %s", typ, object, target) }
	alice, bob := actorURL("alice"), actorURL("bob")
	// aPublicNote is the set-up of the changes to a note of alice's.
	aPublicNote := func(e *testEnv) map[string]string {
		_, note := e.postNote("alice", "v1", publicCollection)
		return map[string]string{"note": note}
	}

	tests := []struct {
		name string
		// act performs the change after setUp; it returns the expected
		// events, given the ids of what it created.
		setUp func(e *testEnv) map[string]string
		act   func(e *testEnv, ids map[string]string) []want
	}{
		{
			name: "a public Create goes to both outbox views and to the followers' inboxes",
			setUp: func(e *testEnv) map[string]string {
				e.follow("bob", "alice")
				return nil
			},
			act: func(e *testEnv, _ map[string]string) []want {
				c, _ := e.postNote("alice", "hi", publicCollection, alice+"/followers")
				id := c["id"].(string)
				return []want{
					{"/users/alice/outbox", []string{ev("Add", id, alice+"/outbox")}},
					{"/users/alice/outbox#owner", []string{ev("Add", id, alice+"/outbox")}},
					{"/users/bob/inbox#owner", []string{ev("Add", id, bob+"/inbox")}},
					{"/users/carol/inbox#owner", nil},
				}
			},
		},
		{
			name: "a non-public Create goes only to the owner's outbox view",
			act: func(e *testEnv, _ map[string]string) []want {
				c, _ := e.postNote("alice", "hi", bob)
				id := c["id"].(string)
				return []want{
					{"/users/alice/outbox", nil},
					{"/users/alice/outbox#owner", []string{ev("Add", id, alice+"/outbox")}},
					{"/users/bob/inbox#owner", []string{ev("Add", id, bob+"/inbox")}},
				}
			},
		},
		{
			name:  "Update goes to the object's stream",
			setUp: aPublicNote,
			act: func(e *testEnv, ids map[string]string) []want {
				u := e.post("alice", doc{"type": "Update", "object": doc{"id": ids["note"], "content": "v2"}})
				return []want{
					{key(ids["note"]), []string{ev("Update", ids["note"], "")}},
					{"/users/alice/outbox#owner", []string{ev("Add", u["id"].(string), alice+"/outbox")}},
				}
			},
		},
		{
			name:  "Delete goes to the object's stream and those of its likes and shares",
			setUp: aPublicNote,
			act: func(e *testEnv, ids map[string]string) []want {
				e.post("alice", doc{"type": "Delete", "object": ids["note"]})
				likes := ids["note"] + "/likes"
				return []want{
					{key(ids["note"]), []string{ev("Delete", ids["note"], "")}},
					{key(likes), []string{ev("Delete", likes, "")}},
					{key(likes) + "#owner", []string{ev("Delete", likes, "")}},
				}
			},
		},
		{
			name: "Accept goes to the followers and following collections",
			setUp: func(e *testEnv) map[string]string {
				f := e.post("bob", doc{"type": "Follow", "object": alice})
				return map[string]string{"follow": f["id"].(string)}
			},
			act: func(e *testEnv, ids map[string]string) []want {
				a := e.post("alice", doc{"type": "Accept", "object": ids["follow"]})
				return []want{
					{"/users/alice/followers", []string{ev("Add", bob, alice+"/followers")}},
					{"/users/alice/followers#owner", []string{ev("Add", bob, alice+"/followers")}},
					{"/users/bob/following", []string{ev("Add", alice, bob+"/following")}},
					{"/users/bob/inbox#owner", []string{ev("Add", a["id"].(string), bob+"/inbox")}},
				}
			},
		},
		{
			name:  "Like goes to the liked and likes collections",
			setUp: aPublicNote,
			act: func(e *testEnv, ids map[string]string) []want {
				l := e.post("bob", doc{"type": "Like", "object": ids["note"], "to": []any{publicCollection, alice}})
				return []want{
					{"/users/bob/liked", []string{ev("Add", ids["note"], bob+"/liked")}},
					{key(ids["note"]) + "/likes", []string{ev("Add", l["id"].(string), ids["note"]+"/likes")}},
					{"/users/alice/inbox#owner", []string{ev("Add", l["id"].(string), alice+"/inbox")}},
					{key(ids["note"]), nil},
				}
			},
		},
		{
			name:  "Announce goes to the shares collection",
			setUp: aPublicNote,
			act: func(e *testEnv, ids map[string]string) []want {
				a := e.post("bob", doc{"type": "Announce", "object": ids["note"], "to": publicCollection})
				return []want{
					{key(ids["note"]) + "/shares", []string{ev("Add", a["id"].(string), ids["note"]+"/shares")}},
				}
			},
		},
		{
			name: "Undo of a Like removes from liked and likes",
			setUp: func(e *testEnv) map[string]string {
				_, note := e.postNote("alice", "v1", publicCollection)
				l := e.post("bob", doc{"type": "Like", "object": note, "to": publicCollection})
				return map[string]string{"note": note, "like": l["id"].(string)}
			},
			act: func(e *testEnv, ids map[string]string) []want {
				e.post("bob", doc{"type": "Undo", "object": ids["like"]})
				return []want{
					{"/users/bob/liked", []string{ev("Remove", ids["note"], bob+"/liked")}},
					{key(ids["note"]) + "/likes", []string{ev("Remove", ids["like"], ids["note"]+"/likes")}},
				}
			},
		},
		{
			name: "Add and Remove go to the target collection",
			setUp: func(e *testEnv) map[string]string {
				c := e.post("alice", doc{"type": "Create", "object": doc{"type": "Collection"}, "to": publicCollection})
				_, note := e.postNote("alice", "v1", publicCollection)
				return map[string]string{"coll": objectID(e.t, c), "note": note}
			},
			act: func(e *testEnv, ids map[string]string) []want {
				e.post("alice", doc{"type": "Add", "object": ids["note"], "target": ids["coll"]})
				e.post("alice", doc{"type": "Remove", "object": ids["note"], "target": ids["coll"]})
				return []want{
					{key(ids["coll"]), []string{ev("Add", ids["note"], ids["coll"]), ev("Remove", ids["note"], ids["coll"])}},
				}
			},
		},
		{
			name: "an actor's Update goes to the actor's stream",
			act: func(e *testEnv, _ map[string]string) []want {
				e.post("alice", doc{"type": "Update", "object": doc{"id": alice, "name": "Alice"}})
				return []want{{"/users/alice", []string{ev("Update", alice, "")}}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var ids map[string]string
			if tt.setUp != nil {
				ids = tt.setUp(e)
			}
			before := e.store.LastSeq()
			for _, w := range tt.act(e, ids) {
				var got []string
				for _, le := range e.loggedEvents(w.stream) {
					id, _ := strconv.ParseUint(le.ID, 10, 64)
					if id <= before {
						continue
					}
					got = append(got, ev(le.Type, le.Object(), le.Target()))
					if le.Type == "Add" || le.Type == "Update" {
						if obj, ok := le.Data["object"].(doc); !ok || obj["type"] == nil {
							t.Errorf("%s on %s: object not embedded in full: %v", le.Type, w.stream, le.Data["object"])
						}
					}
				}
				if !slices.Equal(got, w.events) {
					t.Errorf("stream %s: events\n%q\nwant\n%q", w.stream, got, w.events)
				}
			}
		})
	}
}

// key is the stream key of a local id.
func key(id string) string { return id[len(testBase):] }

// TestInboxEventEmbedsTheDelivered checks that an inbox's Add embeds the
// delivered activity, itself embedding the object the recipient may read.
func TestInboxEventEmbedsTheDelivered(t *testing.T) {
	e := newEnv(t)
	_, note := e.postNote("alice", "for bob only", actorURL("bob"))
	events := e.loggedEvents("/users/bob/inbox#owner")
	if len(events) != 1 {
		t.Fatalf("%d inbox events", len(events))
	}
	create := events[0].Data["object"].(doc)
	obj := create["object"].(doc)
	if create["type"] != "Create" || obj["id"] != note || obj["content"] != "for bob only" {
		t.Errorf("delivered %v", create)
	}
	if events[0].Data["actor"] != actorURL("alice") {
		t.Errorf("event actor %v", events[0].Data["actor"])
	}
	e.get("bob", note, http.StatusOK)
}
