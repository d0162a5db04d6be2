package draft_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/wire"
)

// TestThePayloadCostTableIsMeasured computes the draft's table of what
// carrying a payload's exact bytes costs, per Event-Data form, from the
// code's own encoders, and fails when the draft's table differs, printing
// the table to put there:
//
//	go test ./draft -run TestThePayloadCostTableIsMeasured -v
func TestThePayloadCostTableIsMeasured(t *testing.T) {
	md, err := os.ReadFile(draftFile)
	if err != nil {
		t.Fatal(err)
	}
	want := payloadCostTable()
	t.Logf("the payload cost table, as the code measures it:\n%s", want)
	got := regexp.MustCompile(`(?m)^\| Payload \| Form .*\n(?:\|.*\n)*(?:\{:.*\n)?`).Find(md)
	if string(got) != want {
		t.Errorf("the draft's payload cost table is not what the code measures; put this in its place:\n%s", want)
	}
}

// payloadCostTable measures one event per row: the payload's bytes, the
// Event-Data field value in each form that carries them, and the
// interim response that carries it (HTTP/1.1; HTTP/2 after an earlier
// event on the connection, then the same event again on a second stream,
// indexed as a public stream's values are and never indexed as a private
// stream's are; HTTP/3 with QPACK's static table). The row EncodePUB
// picks is marked. "String, \u" is the form the code used to send, JSON
// rewritten in ASCII: not the same bytes.
func payloadCostTable() string {
	rows := []struct {
		name string
		data []byte
	}{
		{"ASCII JSON", activityJSONWith(1024, "One subscription upstream, many downstream: the edge fans each event out. ")},
		{"JSON, French", activityJSONWith(1024, "Un abonnement en amont, plusieurs en aval : le relais \u00e9met chaque \u00e9v\u00e9nement \u00e0 tous. ")},
		{"JSON, Japanese", activityJSONWith(1024, "\u4e0a\u6d41\u306b\u4e00\u3064\u306e\u8cfc\u8aad\u3001\u4e0b\u6d41\u306b\u591a\u304f\u306e\u8cfc\u8aad\u8005\u3002")},
		{"JSON, emoji", activityJSONWith(1024, "Ship it \U0001F680\U0001F389 ")},
		{"binary", randomBytes(1024)},
	}
	var b strings.Builder
	b.WriteString("| Payload | Form | Value | HTTP/1.1 | HTTP/2 | 2nd, public | 2nd, private | HTTP/3 |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		event := wire.Event{ID: "1243244", Type: "Add", Time: time.UnixMilli(1763900000123), Data: r.data}
		chosen := wire.ChooseEventDataForm(r.data)
		type form struct {
			name  string
			value string
		}
		var forms []form
		if utf8.Valid(r.data) && !isPrintable(r.data) && looksLikeJSON(r.data) {
			forms = append(forms, form{`String, \u`, mustEncode(escapeJSON(r.data), wire.FormString)})
		}
		for f, name := range wire.EventDataForms {
			if v, ok := wire.EncodeEventDataAs(r.data, wire.EventDataForm(f)); ok {
				if wire.EventDataForm(f) == chosen {
					name += " (sent)"
				}
				forms = append(forms, form{name, v})
			}
		}
		for _, f := range forms {
			fields, err := wire.EncodePUB(&wire.Event{ID: event.ID, Type: event.Type, Time: event.Time})
			if err != nil {
				panic(err)
			}
			fields.EventData = f.value
			h := http.Header{}
			fields.Set(h)
			first, public, private := http2Streams(h)
			fmt.Fprintf(&b, "| %s (%d B) | %s | %d | %d | %d | %d | %d | %d |\n", r.name, len(r.data), f.name,
				len(f.value), http1Size(105, "PUB", h), first, public, private, http3Size(105, h))
		}
	}
	b.WriteString(`{: #tab-payload-cost title="Bytes per Event by Event-Data Form"}` + "\n")
	return b.String()
}

// activityJSONWith is an Activity Streams Add of about n bytes of UTF-8,
// whose note's content is prose repeated, cut at a character boundary.
func activityJSONWith(n int, prose string) []byte {
	head := `{"@context":"https://www.w3.org/ns/activitystreams","type":"Add","actor":"https://origin.example/users/alice",` +
		`"object":{"type":"Note","id":"https://origin.example/users/alice/objects/2vdxjwlm5q7ezkc3tya4ufr6gn",` +
		`"to":["https://www.w3.org/ns/activitystreams#Public"],"content":"`
	tail := `"},"target":"https://origin.example/users/alice/outbox"}`
	content := strings.Repeat(prose, n/len(prose)+1)[:n-len(head)-len(tail)]
	for !utf8.ValidString(content) {
		content = content[:len(content)-1]
	}
	return []byte(head + content + tail)
}

// randomBytes are n bytes of a fixed pseudo-random sequence: a payload no
// text form carries.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func looksLikeJSON(b []byte) bool { return bytes.HasPrefix(b, []byte("{")) }

// escapeJSON rewrites the non-ASCII characters of JSON text as \u escapes
// (surrogate pairs beyond the BMP), as a sender keeping JSON in printable
// ASCII would: the same JSON value, other bytes.
func escapeJSON(b []byte) []byte {
	var out []byte
	for _, r := range string(b) {
		switch {
		case r < 0x7f:
			out = append(out, byte(r))
		case r <= 0xffff:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		}
	}
	return out
}

func mustEncode(data []byte, form wire.EventDataForm) string {
	v, ok := wire.EncodeEventDataAs(data, form)
	if !ok {
		panic(fmt.Sprintf("%q cannot be encoded as %s", data, wire.EventDataForms[form]))
	}
	return v
}

// http2Streams is the HEADERS frame (9-byte frame header included) of the
// response on one stream, encoded after one with other values of the same
// fields, then of the same response on a second stream of the connection:
// with the values indexed by the first (a public stream), and never indexed
// (a private stream's, RFC 7541 §6.2.3).
func http2Streams(h http.Header) (first, public, private int) {
	var b bytes.Buffer
	encode := func(enc *hpack.Encoder, h http.Header, sensitive bool) int {
		b.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":status", Value: "105"})
		for _, name := range []string{wire.FieldEvent, wire.FieldEventData} {
			for _, v := range h[name] {
				enc.WriteField(hpack.HeaderField{Name: strings.ToLower(name), Value: v, Sensitive: sensitive})
			}
		}
		return 9 + b.Len()
	}
	earlier := http.Header{}
	for name, v := range h {
		earlier[name] = []string{strings.Replace(v[0], "1243244", "1243243", 1) + " "}
	}
	for _, sensitive := range []bool{false, true} {
		enc := hpack.NewEncoder(&b) // the default 4,096-byte table
		encode(enc, earlier, sensitive)
		n := encode(enc, h, sensitive)
		again := encode(enc, h, sensitive)
		if sensitive {
			private = again
		} else {
			first, public = n, again
		}
	}
	return first, public, private
}
