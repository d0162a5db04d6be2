package conformance

import (
	"net/http"
	"testing"
)

func TestSharing(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{"shared", "shared"},
		{"per-credential", "per-credential"},
		{"shared;x=1", "shared"},
		{"public", ""},
		{`"shared"`, ""},
		{"", ""},
	} {
		if got := sharing(http.Header{"Subscription-Sharing": {c.field}}); got != c.want {
			t.Errorf("%q: %q, want %q", c.field, got, c.want)
		}
	}
	if got := sharing(http.Header{"Cache-Control": {"public"}}); got != "" {
		t.Errorf("Cache-Control: public is read as Subscription-Sharing %q", got)
	}
}
