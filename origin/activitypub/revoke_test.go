package activitypub

import (
	"net/http"
	"testing"
	"time"

	"github.com/subpub/subpub/wire"
)

// TestRevokedTokenEndsItsSubscriptions checks that revoking a token, from
// another process, ends the open subscriptions made with it: SUB with a
// final 401, SSE by closing the stream. Subscriptions with other tokens of
// the same actor go on receiving.
func TestRevokedTokenEndsItsSubscriptions(t *testing.T) {
	for _, tc := range subscriptionCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.newEnv(t, func(s *Server) { s.RevocationCheck = 20 * time.Millisecond })
			cli := e.otherProcess()
			tok, secret, err := cli.AddToken(t.Context(), "alice", "phone", 0)
			if err != nil {
				t.Fatal(err)
			}
			_, otherSecret, err := cli.AddToken(t.Context(), "alice", "laptop", 0)
			if err != nil {
				t.Fatal(err)
			}
			outbox := "/users/alice/outbox" // alice's own view: private
			revoked := e.subscribe(tc.format, outbox, "", bearer(secret)...)
			other := e.subscribe(tc.format, outbox, "", bearer(otherSecret)...)
			flag := e.subscribe(tc.format, outbox, "alice")
			for _, s := range []*testSubscription{revoked, other, flag} {
				if sharing := s.established(t).Get(wire.FieldSubscriptionSharing); sharing != wire.SharingPerCredential {
					t.Fatalf("alice's view of her outbox is %q", sharing)
				}
			}
			e.postNote("alice", "before", "https://www.w3.org/ns/activitystreams#Public")
			for _, s := range []*testSubscription{revoked, other, flag} {
				s.next(t)
			}

			if _, err := cli.RevokeToken(t.Context(), tok.ID); err != nil {
				t.Fatal(err)
			}
			want := http.StatusUnauthorized
			if tc.format == wire.FormatSSE {
				want = http.StatusOK // the event stream closes
			}
			if status := revoked.final(t); status != want {
				t.Errorf("the revoked token's subscription ended with %d, want %d", status, want)
			}
			select {
			case ev := <-revoked.events:
				t.Errorf("the revoked token's subscription received %s after its revocation", ev.ID)
			default:
			}
			if again := e.subscribe(tc.format, outbox, "", bearer(secret)...); again.final(t) != http.StatusUnauthorized {
				t.Error("subscribing again with the revoked token is not refused with 401")
			}

			e.postNote("alice", "after", "https://www.w3.org/ns/activitystreams#Public")
			for _, s := range []*testSubscription{other, flag} {
				s.next(t)
			}
		})
	}
}

// TestExpiredTokenEndsItsSubscriptions checks that a subscription made
// with a token that expires ends when it does.
func TestExpiredTokenEndsItsSubscriptions(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.RevocationCheck = 20 * time.Millisecond })
	// Long enough for the subscription to begin first on a loaded machine.
	_, secret, err := e.store.AddToken(t.Context(), "alice", "", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := e.subscribe(wire.FormatPUB, "/users/alice/inbox", "", bearer(secret)...)
	s.established(t)
	if status := s.final(t); status != http.StatusUnauthorized {
		t.Errorf("the subscription ended with %d, want 401", status)
	}
}

// TestProbeEventStream checks HEAD with the Accept of an event stream:
// what a subscription would get, without one.
func TestProbeEventStream(t *testing.T) {
	e := newEnv(t)
	_, secret, err := e.store.AddToken(t.Context(), "alice", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	sse := []string{"Accept", wire.ContentTypeSSE}
	for _, tt := range []struct {
		name, target string
		header       []string
		status       int
		cacheControl string
	}{
		{"a private stream with its owner's token", "/users/alice/inbox", bearer(secret), http.StatusOK, "private, no-cache"},
		{"a private stream anonymously", "/users/alice/inbox", nil, http.StatusUnauthorized, ""},
		{"a private stream with another's token", "/users/alice/inbox", bearer(tokenOf("bob")), http.StatusForbidden, ""},
		{"a private stream with an unknown token", "/users/alice/inbox", bearer("nope"), http.StatusUnauthorized, ""},
		{"a public stream", "/users/alice/outbox", nil, http.StatusOK, "no-cache"},
		{"the proxy endpoint", "/proxy/events?id=" + testBase + "/users/alice/inbox&access_token=" + secret, nil, http.StatusOK, "private, no-cache"},
		{"the proxy endpoint without the token", "/proxy/events?id=" + testBase + "/users/alice/inbox", nil, http.StatusUnauthorized, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, h, _ := e.do(http.MethodHead, tt.target, "", nil, append(tt.header, sse...)...)
			if status != tt.status {
				t.Errorf("HEAD: %d, want %d", status, tt.status)
			}
			if tt.cacheControl != "" && (h.Get("Cache-Control") != tt.cacheControl || h.Get("Content-Type") != wire.ContentTypeSSE) {
				t.Errorf("HEAD: Cache-Control %q, Content-Type %q", h.Get("Cache-Control"), h.Get("Content-Type"))
			}
			if want := wire.SharingValue(tt.cacheControl == "no-cache"); tt.cacheControl != "" && h.Get(wire.FieldSubscriptionSharing) != want {
				t.Errorf("HEAD: Subscription-Sharing %q, want %q", h.Get(wire.FieldSubscriptionSharing), want)
			}
		})
	}
}
