package edge

import (
	"net/http"
	"testing"
)

func request(fields ...string) *http.Request {
	r := &http.Request{Header: http.Header{}}
	for i := 0; i+1 < len(fields); i += 2 {
		r.Header.Add(fields[i], fields[i+1])
	}
	return r
}

func TestPolicyFrom(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   policy
	}{
		{"public with Vary", http.Header{"Cache-Control": {"public"}, "Vary": {"Authorization, accept-language"}},
			policy{shareable: true, vary: []string{"Authorization", "Accept-Language"}}},
		{"SSE's public, no-cache", http.Header{"Cache-Control": {"public, no-cache"}}, policy{shareable: true}},
		{"private", http.Header{"Cache-Control": {"private"}}, policy{}},
		{"private wins over public", http.Header{"Cache-Control": {"public, private"}}, policy{}},
		{"nothing said with credentials is private", http.Header{}, policy{}},
		{"Vary: * is never shared", http.Header{"Cache-Control": {"public"}, "Vary": {"*"}}, policy{unique: true}},
		{"Subscription-Sharing: shared", http.Header{"Subscription-Sharing": {"shared"}, "Vary": {"Authorization"}},
			policy{shareable: true, vary: []string{"Authorization"}}},
		{"shared, on an SSE response that is no-cache", http.Header{"Subscription-Sharing": {"shared"}, "Cache-Control": {"no-cache"}}, policy{shareable: true}},
		{"per-credential, whatever Cache-Control says", http.Header{"Subscription-Sharing": {"per-credential"}, "Cache-Control": {"public"}}, policy{}},
		{"Subscription-Sharing wins over Cache-Control: private", http.Header{"Subscription-Sharing": {"shared"}, "Cache-Control": {"private"}}, policy{shareable: true}},
		{"an unknown Subscription-Sharing is as none", http.Header{"Subscription-Sharing": {"everyone"}, "Cache-Control": {"public"}}, policy{shareable: true}},
		{"shared with Vary: * is never shared", http.Header{"Subscription-Sharing": {"shared"}, "Vary": {"*"}}, policy{unique: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policyFrom(tt.header, true)
			if got.shareable != tt.want.shareable || got.unique != tt.want.unique || len(got.vary) != len(tt.want.vary) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got.vary {
				if got.vary[i] != tt.want.vary[i] {
					t.Errorf("vary %v, want %v", got.vary, tt.want.vary)
				}
			}
		})
	}
}

func TestPolicyWithoutCacheControlFollowsTheCredentials(t *testing.T) {
	if !policyFrom(http.Header{}, false).shareable || policyFrom(http.Header{}, true).shareable {
		t.Error("without Cache-Control, a stream requested without credentials is public, with them private")
	}
}

func TestSubscriptionKey(t *testing.T) {
	const uri = "https://origin.example/users/alice/inbox"
	public := &policy{shareable: true}
	publicVaryAuth := &policy{shareable: true, vary: []string{"Authorization"}}
	private := &policy{vary: []string{"Authorization"}}
	alice := request("Authorization", "Bearer alice")
	bob := request("Authorization", "Bearer bob")
	anonymous := request()

	same := func(name string, a, b string) {
		t.Helper()
		if a != b {
			t.Errorf("%s: keys differ", name)
		}
	}
	differ := func(name string, a, b string) {
		t.Helper()
		if a == b {
			t.Errorf("%s: keys are equal", name)
		}
	}
	differ("two users' private streams never share", subscriptionKey(uri, alice, private), subscriptionKey(uri, bob, private))
	differ("two users' streams of unknown policy never share", subscriptionKey(uri, alice, nil), subscriptionKey(uri, bob, nil))
	same("the same user shares", subscriptionKey(uri, alice, private), subscriptionKey(uri, request("Authorization", "Bearer alice"), private))
	same("a public stream without Vary is shared by everyone", subscriptionKey(uri, alice, public), subscriptionKey(uri, bob, public))
	differ("a public stream varying on Authorization separates users", subscriptionKey(uri, alice, publicVaryAuth), subscriptionKey(uri, bob, publicVaryAuth))
	same("anonymous subscribers share a public stream", subscriptionKey(uri, anonymous, publicVaryAuth), subscriptionKey(uri, request(), publicVaryAuth))
	differ("unknown and known policies do not mix", subscriptionKey(uri, anonymous, nil), subscriptionKey(uri, anonymous, public))
	unique := &policy{shareable: true, unique: true}
	differ("Vary: * separates even identical requests", subscriptionKey(uri, anonymous, unique), subscriptionKey(uri, anonymous, unique))
	differ("cookies are credentials", subscriptionKey(uri, request("Cookie", "a=1"), nil), subscriptionKey(uri, request("Cookie", "a=2"), nil))
}

func TestUpstreamHeaderCarriesCredentialsAndVariedFieldsOnly(t *testing.T) {
	r := request("Authorization", "Bearer a", "Accept", "text/event-stream", "Last-Event-ID", "5", "Accept-Language", "fr", "X-Other", "1")
	h := upstreamHeader(r, &policy{vary: []string{"Accept-Language", "Accept"}})
	if len(h) != 2 || h.Get("Authorization") != "Bearer a" || h.Get("Accept-Language") != "fr" {
		t.Errorf("upstream header %v", h)
	}
}

// FuzzPolicyFrom reads arbitrary Cache-Control and Vary fields: it never
// panics, never shares a stream marked private or varying on everything,
// and names only canonical fields.
func FuzzPolicyFrom(f *testing.F) {
	f.Add("public", "Authorization, Accept-Language")
	f.Add("private, max-age=0", "*")
	f.Add(`no-cache="a,b", public`, ",,x")
	f.Fuzz(func(t *testing.T, cacheControl, vary string) {
		h := http.Header{"Cache-Control": {cacheControl}, "Vary": {vary}}
		p := policyFrom(h, false)
		if p.unique && p.shareable {
			t.Fatal("Vary: * yet shareable")
		}
		for _, name := range p.vary {
			if name == "" || name != http.CanonicalHeaderKey(name) {
				t.Fatalf("vary name %q", name)
			}
		}
	})
}
