package wire

import (
	"net/http"
	"testing"
)

func TestEnableSUBIsTrueOnlyAsTheBooleanTrue(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{[]string{"?1"}, true},
		{[]string{" ?1 "}, true},
		{[]string{"?1;v=2"}, true}, // parameters are for extensions
		{nil, false},
		{[]string{"?0"}, false},
		{[]string{"1"}, false},
		{[]string{"yes"}, false},
		{[]string{"?1, ?1"}, false}, // a List, not an Item
		{[]string{""}, false},
	} {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add(FieldEnableSUB, v)
		}
		if got := EnablesSUB(h); got != tc.want {
			t.Errorf("Enable-SUB: %q: got %v, want %v", tc.values, got, tc.want)
		}
	}
}

func TestTheHopNegotiatesOnlyWhenConnectionNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name       string
		field      string
		connection []string
		want       bool
	}{
		{"listed", "?1", []string{"Enable-SUB"}, true},
		{"listed in lower case among others", "?1", []string{"keep-alive, enable-sub"}, true},
		{"listed in a second line", "?1", []string{"keep-alive", " enable-sub "}, true},
		// An intermediary that does not implement SUB and forwards the
		// field without the Connection that named it: not this hop's.
		{"not listed", "?1", nil, false},
		{"another option", "?1", []string{"close"}, false},
		{"a name that only contains it", "?1", []string{"x-enable-sub"}, false},
		{"listed but false", "?0", []string{"Enable-SUB"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Connection": tc.connection}
			h.Set(FieldEnableSUB, tc.field)
			if got := HopEnablesSUB(h); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetHopEnablesSUBKeepsOtherConnectionOptions(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive"}}
	SetHopEnablesSUB(h)
	SetHopEnablesSUB(h) // once is enough
	if !HopEnablesSUB(h) || len(h.Values("Connection")) != 2 || !ConnectionLists(h, "keep-alive") {
		t.Errorf("got %v", h)
	}
}

// FuzzHopEnablesSUB: any field values are a clear yes or no, never a panic,
// and yes only with the field named in Connection.
func FuzzHopEnablesSUB(f *testing.F) {
	f.Add("?1", "Enable-SUB")
	f.Add("?0", "close, enable-sub")
	f.Add("?1;a=\"\\\"", ",,,")
	f.Add("\x00", "enable-sub\x00")
	f.Fuzz(func(t *testing.T, field, connection string) {
		h := http.Header{"Connection": {connection}}
		h.Set(FieldEnableSUB, field)
		if HopEnablesSUB(h) && (!EnablesSUB(h) || !ConnectionLists(h, FieldEnableSUB)) {
			t.Errorf("%q %q: negotiated without both", field, connection)
		}
	})
}
