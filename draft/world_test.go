package draft_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// baseURL is the origin's name in the examples. The origin is started with
// it as its base URL, so that the URIs it sends (a gap's, a reference)
// are those of the examples, whatever port it listens on.
const baseURL = "https://origin.example"

// tokens are the bearer tokens of the origin's actors.
var tokens = map[string]string{"alice": "alice-token", "bob": "bob-token"}

// public addresses an activity to everyone.
const public = "https://www.w3.org/ns/activitystreams#Public"

// topology is how the example's client reaches the origin.
type topology int

const (
	fromOrigin topology = iota
	throughEdge
)

func (tp topology) String() string {
	if tp == throughEdge {
		return "through an edge"
	}
	return "from an origin"
}

// world is the servers an example is replayed against, and the means to
// put them in the state the example presupposes.
type world struct {
	t      *testing.T
	ex     *example
	origin *launch.Process
	// front is the server the example's client talks to: the origin, or
	// an edge in front of it. A client cannot tell them apart, so every
	// example holds for both.
	front  *launch.Process
	client *client.Client
	http   *http.Client
	// stopping is the front server's shutdown, once stopFront began it.
	stopping *stopping
}

// newWorld starts an origin (and an edge in front of it) configured for
// the scenario. The processes end with the test.
func newWorld(t *testing.T, tp topology, sc scenario, ex *example) *world {
	t.Helper()
	// Cleartext only (--listen ""): the examples are HTTP/1.1 exchanges,
	// replayed over TCP as they are shown.
	originArgs := []string{
		"--listen", "", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--base-url", baseURL, "--user", "alice:" + tokens["alice"], "--user", "bob:" + tokens["bob"],
	}
	originArgs = append(originArgs, sc.originFlags...)
	if tp == fromOrigin {
		originArgs = append(originArgs, sc.frontFlags...)
	}
	w := &world{t: t, ex: ex, origin: start(t, "origin", originArgs), http: &http.Client{Transport: &http.Transport{}}}
	w.front = w.origin
	if tp == throughEdge {
		edgeArgs := []string{
			"--listen", "", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
			"--upstream", w.origin.PlainURL(""),
		}
		w.front = start(t, "edge", append(edgeArgs, sc.frontFlags...))
	}
	var err error
	if w.client, err = client.New(client.Options{Mode: client.ModeSUB, Reconnect: client.Reconnect{Disabled: true}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.client.Close()
		w.http.CloseIdleConnections()
	})
	return w
}

func start(t *testing.T, role string, args []string) *launch.Process {
	t.Helper()
	p, err := launch.Start(t.Context(), role, launch.Options{}, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// path is the path of one of the origin's URIs.
func path(id string) string { return strings.TrimPrefix(id, baseURL) }

// originURL is where the test reaches one of the origin's URIs.
func (w *world) originURL(id string) string { return w.origin.PlainURL(path(id)) }

// actor is the URI of a local actor.
func actor(name string) string { return baseURL + "/users/" + name }

// post posts an activity to the outbox of actor name and returns its id.
func (w *world) post(name string, activity map[string]any) string {
	w.t.Helper()
	body, err := json.Marshal(activity)
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := w.client.Publish(w.t.Context(), w.originURL(actor(name)+"/outbox"), tokens[name], body)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// get returns the document id names, as actor name sees it.
func (w *world) get(name, id string) map[string]any {
	w.t.Helper()
	req, err := http.NewRequestWithContext(w.t.Context(), http.MethodGet, w.originURL(id), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokens[name])
	resp, err := w.http.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %s (%v)", id, resp.Status, err)
	}
	return d
}

// note creates a Note by actor name, addressed to the given ids, and
// returns the Note's id.
func (w *world) note(name, content string, to ...string) string {
	w.t.Helper()
	created := w.get(name, w.post(name, map[string]any{"type": "Note", "content": content, "to": to}))
	obj, _ := created["object"].(map[string]any)
	id, _ := obj["id"].(string)
	if id == "" {
		w.t.Fatalf("the Create has no object id: %v", created)
	}
	return id
}

func (w *world) update(name, id, content string) {
	w.t.Helper()
	w.post(name, map[string]any{"type": "Update", "object": map[string]any{"id": id, "content": content}})
}

func (w *world) delete(name, id string) {
	w.t.Helper()
	w.post(name, map[string]any{"type": "Delete", "object": id})
}

func (w *world) like(name, id string, to ...string) {
	w.t.Helper()
	w.post(name, map[string]any{"type": "Like", "object": id, "to": to})
}

// eventGone reports whether the origin no longer has event id.
func (w *world) eventGone(id string) bool {
	w.t.Helper()
	resp, err := w.http.Get(w.origin.PlainURL("/events/" + id))
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNotFound
}

// resend sends the example's request again, rewritten, and returns the
// first step of the answer: a client coming back.
func (w *world) resend(rw rewrite) step {
	w.t.Helper()
	method, _, _ := w.ex.requestLine()
	x := send(w.t, w.front.PlainAddr, method, w.ex.wireRequest(w.front.PlainAddr, rw))
	defer x.close()
	s, err := x.next()
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// hold subscribes to path at the front server and keeps the subscription
// until the test ends.
func (w *world) hold(path string) {
	w.t.Helper()
	raw := "SUB " + path + " HTTP/1.1\r\nHost: " + w.front.PlainAddr + "\r\n\r\n"
	x := send(w.t, w.front.PlainAddr, "SUB", []byte(raw))
	switch s, err := x.next(); {
	case err != nil:
		w.t.Fatalf("holding a subscription to %s: %v", path, err)
	case s.resp.StatusCode != 106:
		w.t.Fatalf("holding a subscription to %s: %s", path, s.resp.Status)
	}
}

// stopFront shuts the front server down gracefully, in the background, as
// an operator would while the example's subscription is open.
func (w *world) stopFront() {
	s := &stopping{done: make(chan struct{})}
	w.stopping = s
	go func() {
		s.err = w.front.Stop()
		close(s.done)
	}()
	// The test's end kills the process if it has not exited by then.
	w.t.Cleanup(func() { <-s.done })
}

// stopping is a graceful shutdown under way.
type stopping struct {
	done chan struct{}
	err  error // once done is closed
}

// frontStopped waits for the front server to have exited, and says how.
func (w *world) frontStopped() error {
	select {
	case <-w.stopping.done:
		return w.stopping.err
	case <-time.After(stepTimeout):
		return fmt.Errorf("still running after %v", stepTimeout)
	}
}

// watcher follows a stream of the origin with the client library, to
// learn the ids of the events the setup publishes and to wait until they
// are published.
type watcher struct {
	*testkit.Follower
	read int // the events next has returned
}

// watch subscribes to the stream of path as actor name ("" for anyone) and
// returns once the subscription is acknowledged.
func (w *world) watch(path, name string) *watcher {
	w.t.Helper()
	header := http.Header{}
	if name != "" {
		header.Set("Authorization", "Bearer "+tokens[name])
	}
	f := testkit.Follow(w.t, w.client, w.origin.PlainURL(path), "", header)
	f.WaitOpen(w.t)
	return &watcher{Follower: f}
}

// next returns the next event of the stream.
func (wa *watcher) next(t *testing.T) client.Event {
	t.Helper()
	wa.WaitCountWithin(t, wa.read+1, stepTimeout)
	e := wa.Events()[wa.read]
	wa.read++
	return e
}
