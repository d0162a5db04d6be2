package activitypub

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestPaging checks collection pages, newest first, their links, and that
// min_id taken from an event id lists exactly the items added after it.
func TestPaging(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.PageSize = 2 })
	outbox := actorURL("alice") + "/outbox"
	var creates []string // oldest first
	for i := range 5 {
		to := publicCollection
		if i == 2 {
			to = actorURL("bob") // only in the owner's view
		}
		c, _ := e.postNote("alice", "note", to)
		creates = append(creates, c["id"].(string))
	}
	public := slices.Concat(creates[:2], creates[3:])

	// Each Add event's id is its item's cursor.
	cursor := map[string]string{}
	for _, ev := range e.loggedEvents("/users/alice/outbox#owner") {
		if ev.Type != "Add" || ev.Target() != outbox {
			t.Fatalf("outbox event %+v", ev)
		}
		cursor[ev.Object()] = ev.ID
	}
	publicEvents := e.loggedEvents("/users/alice/outbox")
	if len(publicEvents) != len(public) {
		t.Fatalf("%d events in the public view, want %d", len(publicEvents), len(public))
	}
	for i, ev := range publicEvents {
		if ev.Object() != public[i] || ev.ID != cursor[public[i]] {
			t.Errorf("public event %d: %s %s, want %s %s: one event serves both views", i, ev.ID, ev.Object(), cursor[public[i]], public[i])
		}
	}

	// minID links to the page of the items added after item's event, maxID
	// to the page of those added before it.
	minID := func(item string) string { return outbox + "?min_id=" + cursor[item] }
	maxID := func(item string) string { return outbox + "?max_id=" + cursor[item] }

	tests := []struct {
		name       string
		user       string
		url        string
		want       []string // items, newest first
		next, prev string   // expected links; "" for none
	}{
		{
			name: "the first page holds the newest items",
			url:  outbox + "?page=true",
			want: []string{public[3], public[2]},
			next: maxID(public[2]),
		},
		{
			name: "next continues with older items",
			url:  maxID(public[2]),
			want: []string{public[1], public[0]},
			prev: minID(public[1]),
		},
		{
			name: "the last page holds the oldest items",
			url:  outbox + "?min_id=0",
			want: []string{public[1], public[0]},
			prev: minID(public[1]),
		},
		{
			name: "min_id lists the items added after that event",
			url:  minID(public[1]),
			want: []string{public[3], public[2]},
			next: maxID(public[2]),
		},
		{
			name: "min_id takes the items just after the event and prev goes on",
			url:  minID(public[0]),
			want: []string{public[2], public[1]},
			next: maxID(public[1]),
			prev: minID(public[2]),
		},
		{
			name: "min_id of the newest event is an empty page",
			url:  minID(public[3]),
			want: nil,
		},
		{
			name: "min_id works with an event id only in the owner's view",
			user: "alice",
			url:  minID(creates[2]),
			want: []string{creates[4], creates[3]},
			next: maxID(creates[3]),
		},
		{
			name: "a public page skips the owner's items between the cursors",
			url:  minID(creates[1]),
			want: []string{public[3], public[2]},
			next: maxID(public[2]),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := e.get(tt.user, tt.url, http.StatusOK)
			if page["type"] != "OrderedCollectionPage" || page["partOf"] != outbox || page["id"] != tt.url {
				t.Errorf("page %v", page)
			}
			if got := orderedItemIDs(page); !slices.Equal(got, tt.want) {
				t.Errorf("items %v, want %v", got, tt.want)
			}
			if next, _ := page["next"].(string); next != tt.next {
				t.Errorf("next %q, want %q", next, tt.next)
			}
			if prev, _ := page["prev"].(string); prev != tt.prev {
				t.Errorf("prev %q, want %q", prev, tt.prev)
			}
		})
	}

	t.Run("following prev from min_id collects exactly what was missed", func(t *testing.T) {
		var got []string
		for url := minID(public[0]); url != ""; {
			page := e.get("", url, http.StatusOK)
			got = append(orderedItemIDs(page), got...)
			url, _ = page["prev"].(string)
		}
		want := slices.Clone(public[1:])
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Errorf("items %v, want %v", got, want)
		}
	})

	t.Run("the collection links to its first and last pages", func(t *testing.T) {
		coll := e.get("", outbox, http.StatusOK)
		if coll["type"] != "OrderedCollection" || coll["first"] != outbox+"?page=true" || coll["last"] != outbox+"?min_id=0" || coll["totalItems"] != float64(4) || coll["eventStream"] != outbox {
			t.Errorf("collection %v", coll)
		}
	})

	t.Run("a malformed cursor is refused naming the parameter", func(t *testing.T) {
		status, _, problem := e.do(http.MethodGet, outbox+"?min_id=abc", "", nil)
		if status != http.StatusBadRequest || !strings.HasPrefix(problem["detail"].(string), "min_id") {
			t.Errorf("status %d: %v", status, problem)
		}
	})
}
