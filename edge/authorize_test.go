package edge

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// privateWays are the ways to subscribe the revocation tests use: SUB over
// HTTP/2 and HTTP/1.1, and SSE.
var privateWays = []testkit.Way{
	{Name: "SUB over HTTP/2", Options: client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2}},
	{Name: "SUB over HTTP/1.1", Options: client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11}},
	{Name: "SSE over HTTP/1.1", Options: client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11}},
}

func bearer(name string) http.Header { return http.Header{"Authorization": {"Bearer " + name}} }

// wantStatus checks that a subscription ended with the upstream's refusal.
func wantStatus(t *testing.T, who string, err error, status int) {
	t.Helper()
	var se *wire.StatusError
	if !errors.As(err, &se) || se.Status != status {
		t.Errorf("%s ended with %v, want %d", who, err, status)
	}
}

// TestRevokedCredentialsAreNotAdmitted checks that the edge admits no
// subscriber to an open private stream on the upstream's word once that is
// older than AuthMaxAge: it asks again, and when the upstream now refuses
// the credentials (the origin here has not ended the stream itself), the
// joining subscriber gets the 401 and so does every subscriber of the
// stream. Another user's private stream goes on, and admits new
// subscribers after checking.
func TestRevokedCredentialsAreNotAdmitted(t *testing.T) {
	const maxAge = 50 * time.Millisecond
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) { e.AuthMaxAge = maxAge })
	clients := make([]*client.Client, len(privateWays))
	for i, way := range privateWays {
		opts := way.Options
		opts.CAFile = e.ca.CAFile
		opts.Reconnect = client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
		clients[i] = testkit.NewClient(t, opts)
	}
	var alice, bob []*testkit.Follower
	for i, c := range clients {
		a := testkit.Follow(t, c, e.url("/private/alice"), "", bearer("alice"))
		a.Name = "alice's " + privateWays[i].Name
		b := testkit.Follow(t, c, e.url("/private/bob"), "", bearer("bob"))
		b.Name = "bob's " + privateWays[i].Name
		alice, bob = append(alice, a), append(bob, b)
	}
	for _, f := range append(alice, bob...) {
		f.WaitOpen(t)
	}
	if n := o.Subscriptions.Load(); n != 2 {
		t.Fatalf("the origin served %d subscriptions, want 2 (one per user)", n)
	}
	o.Publish("/private/alice", `{"n":1}`)
	for _, f := range alice {
		f.WaitCount(t, 1)
	}

	o.Revoke("alice")
	time.Sleep(2 * maxAge) // what the edge knows is older than its bound
	for i, c := range clients {
		late := testkit.Follow(t, c, e.url("/private/alice"), "", bearer("alice"))
		late.Name = "alice joining late with " + privateWays[i].Name
		wantStatus(t, late.Name, late.WaitDone(t), http.StatusUnauthorized)
		if len(late.IDs()) > 0 {
			t.Errorf("%s received %v", late.Name, late.IDs())
		}
	}
	for _, f := range alice {
		wantStatus(t, f.Name, f.WaitDone(t), http.StatusUnauthorized)
	}
	o.Publish("/private/alice", `{"n":2}`)

	// The negative control: bob's credentials are still good.
	time.Sleep(2 * maxAge)
	var bobLate []*testkit.Follower
	for i, c := range clients {
		late := testkit.Follow(t, c, e.url("/private/bob"), "", bearer("bob"))
		late.Name = "bob joining late with " + privateWays[i].Name
		late.WaitOpen(t)
		bobLate = append(bobLate, late)
	}
	o.Publish("/private/bob", `{"n":3}`)
	for _, f := range append(bob, bobLate...) {
		f.WaitCount(t, 1)
	}
	for _, f := range alice {
		if ids := f.IDs(); len(ids) != 1 {
			t.Errorf("%s received %v, want only the event before the revocation", f.Name, ids)
		}
	}
	if o.Probes.Load() == 0 {
		t.Error("the edge never asked the origin")
	}
}

// TestFreshAuthorizationIsNotCheckedAgain checks the other side of the
// bound: a subscriber joining a private stream whose acknowledgement is
// recent is admitted without asking the upstream.
func TestFreshAuthorizationIsNotCheckedAgain(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) { e.AuthMaxAge = time.Hour })
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	first := testkit.Follow(t, c, e.url("/private/alice"), "", bearer("alice"))
	first.WaitOpen(t)
	second := testkit.Follow(t, c, e.url("/private/alice"), "", bearer("alice"))
	second.WaitOpen(t)
	if n := o.Probes.Load(); n != 0 {
		t.Errorf("the edge asked the origin %d times, want none", n)
	}
	if n := o.Subscriptions.Load(); n != 1 {
		t.Errorf("the origin served %d subscriptions, want 1", n)
	}
}
