package activitypub

import (
	"net/http"
	"slices"
	"testing"
)

// TestVisibility checks who may read what: public objects everyone,
// others their owner and addressees; an outbox's public view for others,
// the full one for its owner; an inbox its owner only.
func TestVisibility(t *testing.T) {
	e := newEnv(t)
	publicCreate, publicNote := e.postNote("alice", "public", publicCollection)
	privateCreate, privateNote := e.postNote("alice", "for bob", actorURL("bob"))

	tests := []struct {
		name   string
		user   string
		id     string
		status int
	}{
		{"anyone reads a public object", "", publicNote, http.StatusOK},
		{"another actor reads a public object", "carol", publicNote, http.StatusOK},
		{"the owner reads a non-public object", "alice", privateNote, http.StatusOK},
		{"an addressee reads a non-public object", "bob", privateNote, http.StatusOK},
		{"an addressee reads the activity that created it", "bob", privateCreate["id"].(string), http.StatusOK},
		{"an anonymous client may not read a non-public object", "", privateNote, http.StatusUnauthorized},
		{"another actor may not read a non-public object", "carol", privateNote, http.StatusForbidden},
		{"a non-public object's likes are as private as it", "carol", privateNote + "/likes", http.StatusForbidden},
		{"the owner reads its inbox", "alice", actorURL("alice") + "/inbox", http.StatusOK},
		{"an anonymous client may not read an inbox", "", actorURL("alice") + "/inbox", http.StatusUnauthorized},
		{"another actor may not read an inbox", "bob", actorURL("alice") + "/inbox", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.get(tt.user, tt.id, tt.status)
		})
	}

	outboxViews := []struct {
		name string
		user string
		want []string
	}{
		{"anonymous clients see the public outbox", "", []string{publicCreate["id"].(string)}},
		{"other actors see the public outbox, even addressees", "bob", []string{publicCreate["id"].(string)}},
		{"the owner sees all its activities", "alice", []string{privateCreate["id"].(string), publicCreate["id"].(string)}},
	}
	for _, tt := range outboxViews {
		t.Run(tt.name, func(t *testing.T) {
			outbox := actorURL("alice") + "/outbox"
			if got := e.items(tt.user, outbox); !slices.Equal(got, tt.want) {
				t.Errorf("outbox items %v, want %v", got, tt.want)
			}
			if total := e.get(tt.user, outbox, http.StatusOK)["totalItems"]; total != float64(len(tt.want)) {
				t.Errorf("totalItems %v, want %d", total, len(tt.want))
			}
		})
	}

	t.Run("the owner's outbox embeds its non-public objects", func(t *testing.T) {
		page := e.get("alice", actorURL("alice")+"/outbox?page=true", http.StatusOK)
		create := page["orderedItems"].([]any)[0].(doc)
		if note, ok := create["object"].(doc); !ok || note["content"] != "for bob" {
			t.Errorf("Create in the owner's outbox: %v", create)
		}
	})

	t.Run("an owner sees the items of its collections it may not read as ids only", func(t *testing.T) {
		like := e.post("carol", doc{"type": "Like", "object": publicNote}) // addressed to no one
		page := e.get("alice", publicNote+"/likes?page=true", http.StatusOK)
		if items := page["orderedItems"].([]any); len(items) != 1 || items[0] != like["id"] {
			t.Errorf("likes seen by the object's owner: %v", items)
		}
		e.get("alice", like["id"].(string), http.StatusForbidden)
	})
}
