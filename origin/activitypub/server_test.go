package activitypub

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/subpub/subpub/wire"
)

// TestContentNegotiation checks the media types a document is served as,
// and revalidation with ETag.
func TestContentNegotiation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, accept, want string
	}{
		{"no Accept gets Activity Streams", "", contentTypeActivity},
		{"any type gets Activity Streams", "*/*", contentTypeActivity},
		{"Activity Streams is served as asked", contentTypeActivity, contentTypeActivity},
		{"JSON-LD with the Activity Streams profile is served as asked", contentTypeLD, contentTypeLD},
		{"the preferred type wins", "application/activity+json;q=0.5, " + contentTypeLD, contentTypeLD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.accept != "" {
				header = []string{"Accept", tt.accept}
			}
			status, h, _ := e.do(http.MethodGet, "/users/alice", "", nil, header...)
			if status != http.StatusOK || h.Get("Content-Type") != tt.want {
				t.Errorf("%d %q, want %q", status, h.Get("Content-Type"), tt.want)
			}
		})
	}
	t.Run("an unchanged document is not sent again", func(t *testing.T) {
		_, h, _ := e.do(http.MethodGet, "/users/alice", "", nil)
		if status, _, _ := e.do(http.MethodGet, "/users/alice", "", nil, "If-None-Match", h.Get("ETag")); status != http.StatusNotModified {
			t.Errorf("status %d, want 304", status)
		}
	})
}

// TestWebfinger checks that an actor is found from its handle or URL.
func TestWebfinger(t *testing.T) {
	e := newEnv(t)
	for _, resource := range []string{"acct:alice@social.example", actorURL("alice")} {
		t.Run(resource+" finds the actor", func(t *testing.T) {
			status, h, d := e.do(http.MethodGet, "/.well-known/webfinger?resource="+resource, "", nil)
			if status != http.StatusOK || h.Get("Content-Type") != contentTypeJRD {
				t.Fatalf("%d %v", status, h)
			}
			link := d["links"].([]any)[0].(doc)
			if d["subject"] != "acct:alice@social.example" || link["href"] != actorURL("alice") || link["rel"] != "self" {
				t.Errorf("%v", d)
			}
		})
	}
}

// TestConcurrentWriters checks that events posted concurrently reach every
// subscriber in sequence order, each stream's ids increasing, nothing lost.
func TestConcurrentWriters(t *testing.T) {
	e := newEnvHTTP2(t)
	const perUser = 10
	writers := []string{"alice", "bob", "carol"}
	for _, w := range writers {
		e.follow("dave", w)
	}
	var subs []*testSubscription
	for range 3 {
		sub := e.subscribe(wire.FormatPUB, "/users/dave/inbox", "dave")
		sub.established(t)
		subs = append(subs, sub)
	}
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() {
			for range perUser {
				status, _, d := e.do(http.MethodPost, "/users/"+w+"/outbox", w,
					doc{"type": "Note", "content": "x", "to": actorURL(w) + "/followers"})
				if status != http.StatusCreated {
					t.Errorf("posting as %s: %d %v", w, status, d)
				}
			}
		})
	}
	wg.Wait()
	logged := e.loggedEvents("/users/dave/inbox#owner")
	want := logged[len(logged)-len(writers)*perUser:]
	for i, sub := range subs {
		var last uint64
		for j := range want {
			ev := sub.next(t)
			seq, _ := strconv.ParseUint(ev.ID, 10, 64)
			if seq <= last || ev.ID != want[j].ID {
				t.Fatalf("subscriber %d, event %d: id %s after %d, want %s", i, j, ev.ID, last, want[j].ID)
			}
			last = seq
		}
	}
	ids := make([]uint64, len(logged))
	for i, ev := range logged {
		ids[i], _ = strconv.ParseUint(ev.ID, 10, 64)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("log order %v", ids)
	}
}
