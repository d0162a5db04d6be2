package activitypub

import (
	"net/http"
	"slices"
	"testing"
)

// TestDelivery checks which local inboxes an activity reaches by its
// addressing (ActivityPub §7), and that blind recipients stay hidden.
func TestDelivery(t *testing.T) {
	tests := []struct {
		name string
		note doc // addressing of a Note alice posts
		// setUp runs before alice posts.
		setUp func(e *testEnv)
		want  []string // users whose inbox gets the Create
	}{
		{
			name: "to, cc and audience reach their actors",
			note: doc{"to": actorURL("bob"), "cc": []any{actorURL("carol")}, "audience": actorURL("dave")},
			want: []string{"bob", "carol", "dave"},
		},
		{
			name: "bto and bcc reach their actors",
			note: doc{"bto": actorURL("bob"), "bcc": actorURL("carol")},
			want: []string{"bob", "carol"},
		},
		{
			name:  "the followers collection expands to the followers",
			setUp: func(e *testEnv) { e.follow("bob", "alice"); e.follow("carol", "alice") },
			note:  doc{"to": publicCollection, "cc": actorURL("alice") + "/followers"},
			want:  []string{"bob", "carol"},
		},
		{
			name:  "another actor's followers collection does not expand",
			setUp: func(e *testEnv) { e.follow("carol", "bob") },
			note:  doc{"to": actorURL("bob") + "/followers"},
			want:  nil,
		},
		{
			name: "the sender is not delivered to",
			note: doc{"to": []any{actorURL("alice"), actorURL("bob"), actorURL("bob")}},
			want: []string{"bob"},
		},
		{
			name: "remote and unknown recipients are ignored",
			note: doc{"to": []any{"https://remote.example/users/zed", actorURL("nobody"), actorURL("dave")}},
			want: []string{"dave"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setUp != nil {
				tt.setUp(e)
			}
			note := doc{"type": "Note", "content": "hello"}
			for k, v := range tt.note {
				note[k] = v
			}
			create := e.post("alice", note)
			for _, user := range testUsers() {
				got := slices.Contains(e.items(user, actorURL(user)+"/inbox"), create["id"].(string))
				if want := slices.Contains(tt.want, user); got != want {
					t.Errorf("in %s's inbox: %v, want %v", user, got, want)
				}
			}
		})
	}
}

// TestBlindRecipientsAreRemoved checks that bto and bcc are used for
// delivery and then removed from everything the server stores and sends.
func TestBlindRecipientsAreRemoved(t *testing.T) {
	e := newEnv(t)
	create := e.post("alice", doc{"type": "Note", "content": "psst", "to": actorURL("bob"), "bcc": actorURL("carol"), "bto": actorURL("dave")})
	note := objectID(t, create)
	for _, user := range []string{"alice", "bob", "carol", "dave"} {
		for _, id := range []string{create["id"].(string), note} {
			got := e.get(user, id, http.StatusOK)
			if got["bcc"] != nil || got["bto"] != nil {
				t.Errorf("%s reading %s sees blind recipients: %v", user, id, got)
			}
		}
	}
	for _, user := range []string{"bob", "carol", "dave"} {
		for _, ev := range e.loggedEvents("/users/" + user + "/inbox#owner") {
			activity := ev.Data["object"].(doc)
			if activity["bcc"] != nil || activity["bto"] != nil || activity["object"].(doc)["bcc"] != nil {
				t.Errorf("inbox event of %s carries blind recipients: %v", user, ev.Data)
			}
		}
	}
}

// TestPublicAddressing checks the three spellings of the Public collection.
func TestPublicAddressing(t *testing.T) {
	for _, public := range []string{publicCollection, "as:Public", "Public"} {
		t.Run(public+" makes an object public", func(t *testing.T) {
			e := newEnv(t)
			_, id := e.postNote("alice", "for all", public)
			e.get("", id, http.StatusOK)
		})
	}
}
