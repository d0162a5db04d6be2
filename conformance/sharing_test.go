package conformance

import (
	"net/http"
	"testing"
)

func TestSharing(t *testing.T) {
	for _, c := range []struct{ cc, want string }{
		{"public", "public"},
		{"private, no-cache", "private"},
		{"no-cache, PUBLIC", "public"},
		{`private="Authorization"`, "private"},
		{"no-store", ""},
		{"", ""},
	} {
		if got := sharing(http.Header{"Cache-Control": {c.cc}}); got != c.want {
			t.Errorf("%q: %q, want %q", c.cc, got, c.want)
		}
	}
}

func FuzzSharing(f *testing.F) {
	for _, seed := range []string{"public", "private, no-cache", `private="a, b"`, ",,=", "max-age=0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cc string) {
		switch got := sharing(http.Header{"Cache-Control": {cc}}); got {
		case "", "public", "private":
		default:
			t.Errorf("%q: %q", cc, got)
		}
	})
}
