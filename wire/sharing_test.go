package wire

import (
	"net/http"
	"testing"
)

func TestParseSharing(t *testing.T) {
	for _, tt := range []struct {
		lines      []string
		shared, ok bool
	}{
		{nil, false, false},
		{[]string{"shared"}, true, true},
		{[]string{"per-credential"}, false, true},
		{[]string{"shared;x=1"}, true, true}, // parameters are ignored
		{[]string{`"shared"`}, false, false}, // a String, not the Token
		{[]string{"public"}, false, false},   // unknown: as if absent
		{[]string{"shared, shared"}, false, false},
		{[]string{"shared", "per-credential"}, false, false}, // two lines make a list
		{[]string{"Shared"}, false, false},                   // tokens are case-sensitive
	} {
		h := http.Header{}
		for _, l := range tt.lines {
			h.Add(FieldSubscriptionSharing, l)
		}
		shared, ok := ParseSharing(h)
		if shared != tt.shared || ok != tt.ok {
			t.Errorf("%q: shared %v, ok %v; want %v, %v", tt.lines, shared, ok, tt.shared, tt.ok)
		}
	}
	for _, shared := range []bool{true, false} {
		h := http.Header{FieldSubscriptionSharing: {SharingValue(shared)}}
		if got, ok := ParseSharing(h); got != shared || !ok {
			t.Errorf("SharingValue(%v) reads back as %v, %v", shared, got, ok)
		}
	}
}

func FuzzParseSharing(f *testing.F) {
	for _, s := range []string{"shared", "per-credential", "shared;a=?1", `"x"`, "", "(shared)", "per-credential, shared"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		shared, ok := ParseSharing(http.Header{FieldSubscriptionSharing: {v}})
		if shared && !ok {
			t.Fatalf("%q: shared without a value", v)
		}
	})
}
