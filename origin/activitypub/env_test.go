package activitypub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/stream"
)

// testBase is the servers' BaseURL in tests. It differs from the listening
// address, which changes when a test restarts its server: ids are stored
// absolute and must not.
const testBase = "https://social.example"

// testUsers are provisioned in every test server; each one's token is
// tokenOf(name).
func testUsers() []string { return []string{"alice", "bob", "carol", "dave"} }

func tokenOf(name string) string { return name + "-secret-token" }

// testEnv is a server on loopback with its own data directory, or on a
// PostgreSQL database that other testEnvs may share.
type testEnv struct {
	t         *testing.T
	dir       string // or a postgres:// URL
	configure []func(*Server)
	http2     bool
	// ownBase makes the server's BaseURL its own listening address, so
	// that its ids can be fetched (as a remote server's are).
	ownBase bool
	// onRequest, if set, is told of every request the server receives.
	onRequest func(*http.Request)

	store    *Store
	srv      *Server
	ts       *httptest.Server
	client   *http.Client
	streamer *stream.Streamer
}

// newEnv starts a server over HTTP/1.1.
func newEnv(t *testing.T, configure ...func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), configure: configure}
	e.start()
	return e
}

// newEnvHTTP2 starts a server over TLS that speaks HTTP/2.
func newEnvHTTP2(t *testing.T, configure ...func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), configure: configure, http2: true}
	e.start()
	return e
}

func (e *testEnv) start() {
	t := e.t
	t.Helper()
	var store *Store
	var err error
	if IsPostgresURL(e.dir) {
		store, err = OpenPostgres(t.Context(), e.dir)
	} else {
		store, err = OpenStore(e.dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range testUsers() {
		if err := store.EnsureUser(t.Context(), name, tokenOf(name)); err != nil {
			t.Fatal(err)
		}
	}
	e.store = store
	e.streamer = &stream.Streamer{}
	e.srv = &Server{
		BaseURL:  testBase,
		Store:    store,
		Hub:      &origin.Hub{Log: store},
		Streamer: e.streamer,
	}
	for _, c := range e.configure {
		c(e.srv)
	}
	var handler http.Handler = e.srv
	if e.onRequest != nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.onRequest(r)
			e.srv.ServeHTTP(w, r)
		})
	}
	e.ts = httptest.NewUnstartedServer(handler)
	if e.ownBase {
		e.srv.BaseURL = "http://" + e.ts.Listener.Addr().String()
	}
	if e.http2 {
		e.ts.EnableHTTP2 = true
		e.ts.StartTLS()
	} else {
		e.ts.Start()
	}
	e.client = e.ts.Client()
	ts, streamer := e.ts, e.streamer
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		streamer.Shutdown(ctx)
		ts.Close()
		store.Close()
	})
}

// restart stops the server and closes its store, then starts anew on the
// same data directory.
func (e *testEnv) restart() {
	e.t.Helper()
	e.streamer.Shutdown(e.t.Context())
	e.ts.Close()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

// url maps an id (or a path) to the test server.
func (e *testEnv) url(id string) string {
	if rest, ok := strings.CutPrefix(id, testBase); ok {
		return e.ts.URL + rest
	}
	if strings.HasPrefix(id, "/") {
		return e.ts.URL + id
	}
	return id
}

// request makes a request as user ("" for anonymous); header holds pairs
// of field names and values.
func (e *testEnv) request(ctx context.Context, method, target, user string, body []byte, header ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url(target), rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+tokenOf(user))
	}
	if body != nil {
		req.Header.Set("Content-Type", contentTypeActivity)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[0+i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// do makes a request and returns its status, response header and decoded
// JSON body (nil if there is none).
func (e *testEnv) do(method, target, user string, body any, header ...string) (int, http.Header, doc) {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	resp := e.request(e.t.Context(), method, target, user, raw, header...)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var d doc
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, target, err, data)
		}
	}
	return resp.StatusCode, resp.Header, d
}

// post posts activity to user's outbox, expecting 201, and returns the
// activity as the server answered it.
func (e *testEnv) post(user string, activity any) doc {
	e.t.Helper()
	status, h, d := e.do(http.MethodPost, "/users/"+user+"/outbox", user, activity)
	if status != http.StatusCreated {
		e.t.Fatalf("posting %v as %s: status %d: %v", activity, user, status, d)
	}
	if h.Get("Location") != d["id"] {
		e.t.Fatalf("Location %q, id %v", h.Get("Location"), d["id"])
	}
	return d
}

// postNote posts a Note from user addressed to to, and returns the Create
// and the note's id.
func (e *testEnv) postNote(user, content string, to ...string) (doc, string) {
	e.t.Helper()
	create := e.post(user, doc{"type": "Note", "content": content, "to": to})
	return create, objectID(e.t, create)
}

// get GETs id as user, expecting status, and returns the body.
func (e *testEnv) get(user, id string, status int) doc {
	e.t.Helper()
	got, _, d := e.do(http.MethodGet, id, user, nil)
	if got != status {
		e.t.Fatalf("GET %s as %q: status %d, want %d: %v", id, user, got, status, d)
	}
	return d
}

// items returns the ids of the items of collection id as user sees them,
// newest first.
func (e *testEnv) items(user, id string) []string {
	e.t.Helper()
	var ids []string
	next := id + "?page=true"
	for next != "" {
		page := e.get(user, next, http.StatusOK)
		ids = append(ids, orderedItemIDs(page)...)
		next, _ = page["next"].(string)
	}
	return ids
}

// orderedItemIDs returns the ids of the items of a collection page, in its
// order.
func orderedItemIDs(page doc) []string {
	var ids []string
	for _, it := range page["orderedItems"].([]any) {
		id, _ := idOf(it)
		ids = append(ids, id)
	}
	return ids
}

// loggedEvents returns the events of stream key in the log, decoded.
func (e *testEnv) loggedEvents(key string) []loggedTestEvent {
	e.t.Helper()
	events, err := e.store.ReadAfter(e.t.Context(), key, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]loggedTestEvent, len(events))
	for i, le := range events {
		out[i] = decodeEvent(e.t, le.Event.ID, le.Event.Type, le.Event.Data)
	}
	return out
}

// loggedTestEvent is an event with its data decoded.
type loggedTestEvent struct {
	ID, Type string
	Data     doc
}

// Object is the id of the event's object.
func (ev loggedTestEvent) Object() string {
	id, _ := idOf(ev.Data["object"])
	return id
}

func (ev loggedTestEvent) Target() string {
	return stringProp(ev.Data, "target")
}

func decodeEvent(t *testing.T, id, typ string, data []byte) loggedTestEvent {
	t.Helper()
	d, err := decodeDoc(data)
	if err != nil {
		t.Fatalf("event %s: data %v: %s", id, err, data)
	}
	if d["@context"] != asContext {
		t.Errorf("event %s: @context %v", id, d["@context"])
	}
	if d["type"] != typ {
		t.Errorf("event %s: event type %s, activity type %v", id, typ, d["type"])
	}
	return loggedTestEvent{ID: id, Type: typ, Data: d}
}

// objectID is the id of the object of activity a.
func objectID(t *testing.T, a doc) string {
	t.Helper()
	id, ok := idOf(a["object"])
	if !ok {
		t.Fatalf("activity has no object id: %v", a)
	}
	return id
}

func actorURL(name string) string { return testBase + "/users/" + name }

// follow makes follower follow followee, accepted.
func (e *testEnv) follow(follower, followee string) {
	e.t.Helper()
	f := e.post(follower, doc{"type": "Follow", "object": actorURL(followee)})
	e.post(followee, doc{"type": "Accept", "object": f["id"]})
}
