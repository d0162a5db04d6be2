package activitypub

import (
	"net/http"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
)

// TestErrorStatuses checks that bad requests get a precise status, the
// fields that go with it, and a problem detail naming the problem, and that
// the server carries on.
func TestErrorStatuses(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.MaxBodyBytes = 4096 })
	_, bobNote := e.postNote("bob", "bob's", publicCollection)
	bobLike := e.post("bob", doc{"type": "Like", "object": bobNote})["id"].(string)
	sse := []string{"Accept", "text/event-stream"}

	tests := []struct {
		name   string
		method string
		target string
		user   string
		body   any
		header []string
		status int
		field  [2]string // a response field and a value it must contain
		detail string    // text the problem detail must contain
	}{
		{name: "an unknown path is not found", method: "GET", target: "/nothing/here", status: 404, detail: "does not exist"},
		{name: "an unknown actor is not found", method: "GET", target: "/users/nobody", status: 404},
		{name: "SUB on an unknown path is not found", method: "SUB", target: "/users/nobody/outbox", status: 404},
		{name: "SUB on webfinger is not allowed", method: "SUB", target: "/.well-known/webfinger?resource=acct:alice@social.example", status: 405, field: [2]string{"Allow", "GET, HEAD"}},
		{name: "SUB on an event's data is not allowed", method: "SUB", target: "/events/1", status: 405, field: [2]string{"Allow", "GET, HEAD"}},
		{name: "an event stream of an event's data is not acceptable", method: "GET", target: "/events/1", header: sse, status: 406},
		{name: "DELETE on an actor is not allowed", method: "DELETE", target: "/users/alice", status: 405, field: [2]string{"Allow", "GET, HEAD, SUB"}},
		{name: "POST to an inbox is not allowed: no federation", method: "POST", target: "/users/alice/inbox", user: "alice", body: doc{"type": "Note"}, status: 405, field: [2]string{"Allow", "GET, HEAD, SUB"}},
		{name: "PUT on an outbox is not allowed", method: "PUT", target: "/users/alice/outbox", status: 405, field: [2]string{"Allow", "GET, HEAD, POST, SUB"}},
		{name: "a malformed Last-Event-ID is refused naming the field", method: "SUB", target: "/users/alice/outbox", header: []string{"Last-Event-ID", "12a"}, status: 400, detail: "Last-Event-ID"},
		{name: "a malformed Last-Event-ID is refused for SSE too", method: "GET", target: "/users/alice/outbox", header: []string{"Accept", "text/event-stream", "Last-Event-ID", "-1"}, status: 400, detail: "Last-Event-ID"},
		{name: "posting without a token asks for one", method: "POST", target: "/users/alice/outbox", body: doc{"type": "Note"}, status: 401, field: [2]string{"WWW-Authenticate", `Bearer realm="subpub"`}},
		{name: "a wrong token is an invalid token", method: "POST", target: "/users/alice/outbox", body: doc{"type": "Note"}, header: []string{"Authorization", "Bearer wrong"}, status: 401, field: [2]string{"WWW-Authenticate", `error="invalid_token"`}},
		{name: "a wrong access_token is an invalid token", method: "GET", target: "/users/alice/inbox?access_token=wrong", status: 401, field: [2]string{"WWW-Authenticate", `error="invalid_token"`}},
		{name: "a token in both places is refused", method: "GET", target: "/users/alice/inbox?access_token=" + tokenOf("alice"), user: "alice", status: 400, detail: "access_token"},
		{name: "posting to another actor's outbox is forbidden", method: "POST", target: "/users/alice/outbox", user: "bob", body: doc{"type": "Note"}, status: 403},
		{name: "a subscription to an inbox needs its owner's token", method: "SUB", target: "/users/alice/inbox", status: 401, field: [2]string{"WWW-Authenticate", `Bearer realm="subpub"`}},
		{name: "a subscription to another actor's inbox is forbidden", method: "SUB", target: "/users/alice/inbox", user: "bob", status: 403},
		{name: "malformed JSON is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: `{"type":`, status: 400, detail: "not valid JSON"},
		{name: "a JSON array is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: `[]`, status: 400, detail: "not a JSON object"},
		{name: "an unsupported activity is refused naming its type", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Block", "object": actorURL("bob")}, status: 400, detail: "Block: unsupported activity type"},
		{name: "an Update without an object id is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Update", "object": doc{"content": "x"}}, status: 400, detail: "Update: object has no id"},
		{name: "an Update of another actor's object is forbidden", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Update", "object": doc{"id": bobNote, "content": "x"}}, status: 403, detail: "only the owner"},
		{name: "an Update of server-maintained properties is refused", method: "POST", target: "/users/bob/outbox", user: "bob", body: doc{"type": "Update", "object": doc{"id": bobNote, "likes": "https://social.example/x"}}, status: 400, detail: "Update: likes is maintained by the server"},
		{name: "an Update of addressing is refused", method: "POST", target: "/users/bob/outbox", user: "bob", body: doc{"type": "Update", "object": doc{"id": bobNote, "to": actorURL("carol")}}, status: 400, detail: "Update: to cannot change"},
		{name: "an Update removing addressing is refused", method: "POST", target: "/users/bob/outbox", user: "bob", body: doc{"type": "Update", "object": doc{"id": bobNote, "to": nil}}, status: 400, detail: "Update: to cannot change"},
		{name: "a Delete of another actor's object is forbidden", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Delete", "object": bobNote}, status: 403},
		{name: "an Undo of another actor's activity is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Undo", "object": bobLike}, status: 400, detail: "Undo: object is not an activity of this actor"},
		{name: "an Accept of something not a Follow is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Accept", "object": bobLike}, status: 400, detail: "Accept: object is not a Follow of this actor"},
		{name: "a Like of a remote object is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Like", "object": "https://remote.example/notes/1"}, status: 400, detail: "remote objects are not supported"},
		{name: "a second Like of the same object is refused", method: "POST", target: "/users/bob/outbox", user: "bob", body: doc{"type": "Like", "object": bobNote}, status: 400, detail: "already liked"},
		{name: "an Add to a server-maintained collection is refused", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Add", "object": bobNote, "target": actorURL("alice") + "/liked"}, status: 400, detail: "maintained by the server"},
		{name: "an actor is not created", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Person"}, status: 400, detail: "creating actors"},
		{name: "a body over the limit is too large", method: "POST", target: "/users/alice/outbox", user: "alice", body: doc{"type": "Note", "content": strings.Repeat("x", 5000)}, status: 413},
		{name: "a body that is not JSON is an unsupported media type", method: "POST", target: "/users/alice/outbox", user: "alice", body: "type=Note", header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, field: [2]string{"Accept-Post", contentTypeActivity}},
		{name: "HTML only is not acceptable", method: "GET", target: "/users/alice", header: []string{"Accept", "text/html"}, status: 406},
		{name: "a remote object has no proxied event stream", method: "GET", target: "/proxy/events?id=https://remote.example/notes/1", header: sse, status: 404, detail: "remote objects are not supported"},
		{name: "the proxy event stream needs an id", method: "SUB", target: "/proxy/events", status: 400, detail: "id"},
		{name: "the proxy event stream serves only event streams", method: "GET", target: "/proxy/events?id=" + actorURL("alice"), status: 406},
		{name: "webfinger needs a resource", method: "GET", target: "/.well-known/webfinger", status: 400, detail: "resource"},
		{name: "webfinger does not know other hosts", method: "GET", target: "/.well-known/webfinger?resource=acct:alice@elsewhere.example", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, problem := e.do(tt.method, tt.target, tt.user, tt.body, tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, problem)
			}
			if ct := h.Get("Content-Type"); ct != stream.ContentTypeProblem {
				t.Errorf("Content-Type %q", ct)
			}
			if problem["status"] != float64(tt.status) || problem["detail"] == "" {
				t.Errorf("problem detail %v", problem)
			}
			if detail, _ := problem["detail"].(string); !strings.Contains(detail, tt.detail) {
				t.Errorf("detail %q does not mention %q", detail, tt.detail)
			}
			if tt.field[0] != "" && !strings.Contains(h.Get(tt.field[0]), tt.field[1]) {
				t.Errorf("%s: %q, want it to contain %q", tt.field[0], h.Get(tt.field[0]), tt.field[1])
			}
		})
	}

	t.Run("SUB over HTTP/1.0 is refused: it cannot carry interim responses", func(t *testing.T) {
		c := testkit.DialRaw(t, e.ts.Listener.Addr().String())
		c.Send(t, "SUB /users/alice/outbox HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c.R, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusHTTPVersionNotSupported {
			t.Errorf("status %d", resp.StatusCode)
		}
	})

	t.Run("the server carries on after bad requests", func(t *testing.T) {
		e.postNote("alice", "still here", publicCollection)
	})
}
