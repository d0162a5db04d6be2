package activitypub

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestMarshalASCII checks that the server's JSON is compact printable
// ASCII, so that event data is always an sf-string, and still means the
// same.
func TestMarshalASCII(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"ASCII is unchanged and HTML characters are not escaped", doc{"a": "<b>&</b>"}, `{"a":"<b>&</b>"}`},
		{"a BMP character is escaped", "é", `"\u00e9"`},
		{"a character beyond the BMP is a surrogate pair", "😀", `"\ud83d\ude00"`},
		{"control characters are escaped", "a\nb\x01", `"a\nb\u0001"`},
		{"DEL is escaped", "\x7f", `"\u007f"`},
		{"line and paragraph separators are escaped", "\u2028\u2029", `"\u2028\u2029"`},
		{"invalid UTF-8 becomes the replacement character", "\xff", `"\ufffd"`},
		{"non-ASCII keys are escaped too", doc{"ключ": 1}, `{"\u043a\u043b\u044e\u0447":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := marshalASCII(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			for _, c := range got {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("byte %#x is not printable ASCII", c)
				}
			}
			var back, orig any
			json.Unmarshal(got, &back)
			plain, _ := json.Marshal(tt.in)
			json.Unmarshal(plain, &orig)
			if !reflect.DeepEqual(back, orig) {
				t.Errorf("decodes to %v, want %v", back, orig)
			}
		})
	}
}
