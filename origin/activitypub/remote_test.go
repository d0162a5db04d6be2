package activitypub

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// remotePair is two servers on loopback: remote, whose ids are its own
// address (so that they can be fetched), and local, which relays remote's
// streams at /proxy/events to its users.
type remotePair struct {
	remote, local *testEnv
	relays        *RemoteStreams
	c             *client.Client // subscribes to local

	mu        sync.Mutex
	forwarded []string // credentials remote received, if any
}

func newRemotePair(t *testing.T, configure func(*RemoteStreams)) *remotePair {
	t.Helper()
	p := &remotePair{}
	p.remote = &testEnv{t: t, dir: t.TempDir(), ownBase: true, onRequest: func(r *http.Request) {
		// The test's own posts to the remote outbox carry their token.
		if v := r.Header.Get("Authorization") + r.URL.Query().Get(accessTokenParam); v != "" && r.Method != http.MethodPost {
			p.mu.Lock()
			p.forwarded = append(p.forwarded, v)
			p.mu.Unlock()
		}
	}}
	p.remote.start()
	reconnect := client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	p.relays = &RemoteStreams{Client: testkit.NewClient(t, client.Options{Reconnect: reconnect}), AllowPrivate: true}
	if configure != nil {
		configure(p.relays)
	}
	t.Cleanup(func() { p.relays.Close() }) // after the local server has ended its subscriptions
	p.local = newEnv(t, func(s *Server) { s.Remote = p.relays })
	p.c = testkit.NewClient(t, client.Options{Reconnect: reconnect})
	return p
}

// proxyURL is local's proxyEventStream for the remote id, with query
// parameters added (name, value pairs).
func (p *remotePair) proxyURL(id string, params ...string) string {
	q := url.Values{"id": {id}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return p.local.ts.URL + proxyEventStreamPath + "?" + q.Encode()
}

func (p *remotePair) outbox(name string) string {
	return p.remote.srv.BaseURL + "/users/" + name + "/outbox"
}

// TestRemoteEventStreamIsRelayedOnce subscribes 100 users of one server to
// the outbox of an actor on another through /proxy/events: the local server
// holds one subscription to the remote stream for all of them, and each
// receives every event of it once, in the remote log's order, whether it
// authenticated with Authorization (SUB) or access_token (SSE, as an
// EventSource must); the remote server sees neither credential.
func TestRemoteEventStreamIsRelayedOnce(t *testing.T) {
	p := newRemotePair(t, nil)
	sse := testkit.NewClient(t, client.Options{Mode: client.ModeSSE})
	var fs []*testkit.Follower
	for i := range 100 {
		user := testUsers()[i%len(testUsers())]
		var f *testkit.Follower
		if i%2 == 0 {
			f = testkit.Follow(t, p.c, p.proxyURL(p.outbox("alice")), "", http.Header{"Authorization": {"Bearer " + tokenOf(user)}})
		} else {
			f = testkit.Follow(t, sse, p.proxyURL(p.outbox("alice"), accessTokenParam, tokenOf(user)), "", nil)
		}
		f.Name = fmt.Sprintf("local subscriber %d (%s)", i, user)
		fs = append(fs, f)
	}
	for _, f := range fs {
		f.WaitOpen(t)
	}
	if n := p.remote.streamer.Active(); n != 1 {
		t.Fatalf("the remote server serves %d subscriptions for 100 local subscribers, want 1", n)
	}
	if n := p.relays.Open(); n != 1 {
		t.Fatalf("the local server holds %d remote streams, want 1", n)
	}
	const notes = 10
	for i := range notes {
		p.remote.postNote("alice", "note "+strconv.Itoa(i), publicCollection)
	}
	want := loggedIDs(p.remote.loggedEvents("/users/alice/outbox"))
	if len(want) != notes {
		t.Fatalf("the remote log has %d events of alice's outbox, want %d", len(want), notes)
	}
	sameIDs(t, fs, want)

	// One that resumes from an event the ring holds misses nothing.
	r := testkit.Follow(t, p.c, p.proxyURL(p.outbox("alice")), want[3], http.Header{"Authorization": {"Bearer " + tokenOf("bob")}})
	sameIDs(t, []*testkit.Follower{r}, want[4:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.forwarded) != 0 {
		t.Errorf("the remote server received local credentials: %q", p.forwarded)
	}
}

// TestRemoteEventStreamCounts is the negative control of the collapse: two
// remote streams are two subscriptions there, and a bound of one refuses
// the second.
func TestRemoteEventStreamCounts(t *testing.T) {
	p := newRemotePair(t, func(rs *RemoteStreams) { rs.MaxStreams = 1 })
	auth := http.Header{"Authorization": {"Bearer " + tokenOf("alice")}}
	testkit.Follow(t, p.c, p.proxyURL(p.outbox("alice")), "", auth).WaitOpen(t)
	second := testkit.Follow(t, p.c, p.proxyURL(p.outbox("bob")), "", auth)
	var se *wire.StatusError
	if err := testkit.Receive(t, second.Retries, "the refusal of a second remote stream"); !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("a second remote stream past a bound of one: %v, want 503", err)
	}

	p2 := newRemotePair(t, nil)
	for _, name := range []string{"alice", "bob"} {
		testkit.Follow(t, p2.c, p2.proxyURL(p2.outbox(name)), "", auth).WaitOpen(t)
	}
	if n := p2.remote.streamer.Active(); n != 2 {
		t.Fatalf("two remote streams are %d subscriptions at the remote server, want 2", n)
	}
}

func TestRemoteEventStreamRefusals(t *testing.T) {
	p := newRemotePair(t, nil)
	strict := newRemotePair(t, func(rs *RemoteStreams) { rs.AllowPrivate = false })
	none := newEnv(t)
	for _, tc := range []struct {
		name   string
		env    *testEnv
		target string
		user   string
		status int
	}{
		{"anonymous", p.local, p.proxyURL(p.outbox("alice")), "", http.StatusUnauthorized},
		{"not http", p.local, p.proxyURL("ftp://127.0.0.1/users/alice"), "alice", http.StatusBadRequest},
		{"userinfo", p.local, p.proxyURL("http://u:p@127.0.0.1/users/alice"), "alice", http.StatusBadRequest},
		{"no eventStream", p.local, p.proxyURL(p.remote.srv.BaseURL + "/.well-known/webfinger?resource=acct:alice@x"), "alice", http.StatusBadGateway},
		{"loopback without AllowPrivate", strict.local, strict.proxyURL(strict.outbox("alice")), "alice", http.StatusForbidden},
		{"a server that relays nothing", none, none.ts.URL + proxyEventStreamPath + "?id=" + url.QueryEscape(p.outbox("alice")), "alice", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, d := tc.env.do(wire.MethodSUB, tc.target, tc.user, nil)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, d, tc.status)
			}
		})
	}
	if n := strict.remote.streamer.Active() + p.remote.streamer.Active(); n != 0 {
		t.Errorf("refused subscriptions opened %d remote ones", n)
	}
}

func TestIsPublic(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"::ffff:127.0.0.1", false},
		{"fe80::1", false},
		{"fd00::1", false},
		{"224.0.0.1", false},
	} {
		if got := isPublic(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("isPublic(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}
