package activitypub

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/subpub/subpub/wire"
)

// FuzzParseActivity checks that any posted body yields either an activity
// of a supported type in the normalized shape the server relies on, or a
// 400 naming the problem; never a panic.
func FuzzParseActivity(f *testing.F) {
	for _, seed := range []string{
		`{"type":"Note","content":"hi","to":"https://www.w3.org/ns/activitystreams#Public"}`,
		`{"@context":"https://www.w3.org/ns/activitystreams","type":"Create","to":["as:Public"],"object":{"type":"Note","cc":[{"id":"https://a.example/u"}]}}`,
		`{"type":"Create","object":{"type":"OrderedCollection","orderedItems":[]}}`,
		`{"type":"Update","object":{"id":"https://a.example/o/1","content":null}}`,
		`{"type":"Delete","object":"https://a.example/o/1"}`,
		`{"type":"Follow","object":{"id":"https://a.example/users/bob"}}`,
		`{"type":"Accept","object":"https://a.example/a/1","actor":"https://a.example/users/alice"}`,
		`{"type":"Like","object":"https://a.example/o/1","bcc":"https://a.example/users/carol"}`,
		`{"type":"Add","object":"https://a.example/o/1","target":{"id":"https://a.example/c/1"}}`,
		`{"type":"Remove","object":"https://a.example/o/1"}`,
		`{"type":"Undo","object":{"type":"Like"}}`,
		`{"type":"Block","object":"https://a.example/users/bob"}`,
		`{"type":["Note","Article"]}`,
		`{"type":"Note","to":42}`,
		`[1,2]`,
		`{"type":"Note"} {}`,
		`{"type":"Announce","object":"urn:x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseActivity(body)
		if err != nil {
			var se *wire.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Detail == "" {
				t.Fatalf("error %v is not a 400 with a detail", err)
			}
			return
		}
		if !isSupportedActivity(a.Type) || a.Doc["type"] != a.Type {
			t.Fatalf("type %q, document type %v", a.Type, a.Doc["type"])
		}
		if _, ok := a.Doc["@context"]; ok {
			t.Error("@context kept")
		}
		switch a.Type {
		case "Create":
			if a.Object == nil || stringProp(a.Object, "type") == "" || isActivityType(stringProp(a.Object, "type")) {
				t.Errorf("Create of %v", a.Object)
			}
		case "Update":
			if a.Object == nil || !isHTTPURL(a.ObjectID) {
				t.Errorf("Update of %v (%q)", a.Object, a.ObjectID)
			}
		default:
			if !isHTTPURL(a.ObjectID) {
				t.Errorf("%s of %q", a.Type, a.ObjectID)
			}
		}
		if (a.Type == "Add" || a.Type == "Remove") != (a.TargetID != "") || (a.TargetID != "" && !isHTTPURL(a.TargetID)) {
			t.Errorf("%s with target %q", a.Type, a.TargetID)
		}
		for _, d := range []doc{a.Doc, a.Object} {
			for _, p := range addressingProperties() {
				v, ok := d[p]
				if !ok {
					continue
				}
				list, isList := v.([]any)
				if !isList || len(idList(v)) != len(list) {
					t.Errorf("%s not normalized: %#v", p, v)
				}
			}
		}
		data, err := marshalASCII(a.Doc)
		if err != nil {
			t.Fatalf("activity cannot be encoded: %v", err)
		}
		for _, c := range data {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("encoded activity is not printable ASCII: %q", data)
			}
		}
	})
}

// FuzzEventStreamIn checks that any remote object yields either an
// eventStream URL resolved against where it was fetched, or a status error
// naming the problem; never a panic.
func FuzzEventStreamIn(f *testing.F) {
	for _, seed := range []string{
		`{"id":"https://r.example/users/a","eventStream":"https://r.example/users/a"}`,
		`{"eventStream":"/streams/a"}`,
		`{"eventStream":{"id":"https://r.example/s"}}`,
		`{"eventStream":["https://r.example/s"]}`,
		`{"eventStream":""}`,
		`{"eventStream":"%zz"}`,
		`{}`,
		`[]`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	base, _ := url.Parse("https://r.example/users/a")
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := eventStreamIn(body, base)
		if err != nil {
			var se *wire.StatusError
			if !errors.As(err, &se) || se.Status < 400 || se.Detail == "" {
				t.Fatalf("error %v is not a status error with a detail", err)
			}
			return
		}
		if u == nil || !u.IsAbs() {
			t.Fatalf("eventStream %v is not absolute", u)
		}
	})
}
