package draft_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/wire"
)

// TestTheOverheadTableIsMeasured computes the table of bytes per event that
// the draft gives as evidence for its encoding choices, from the code's own
// encoders (wire for the fields and SSE, the HPACK encoder net/http uses, the
// QPACK encoder quic-go uses), and fails when the draft's table differs,
// printing the table to put there.
func TestTheOverheadTableIsMeasured(t *testing.T) {
	md, err := os.ReadFile(draftFile)
	if err != nil {
		t.Fatal(err)
	}
	want := overheadTable()
	got := regexp.MustCompile(`(?m)^\| Payload \| Encoding .*\n(?:\|.*\n)*(?:\{:.*\n)?`).Find(md)
	if string(got) != want {
		t.Errorf("the draft's overhead table is not what the code measures; put this in its place:\n%s", want)
	}
}

// overheadTable measures one event per row, in the steady state of a
// subscription with one subscriber: its header block encoded after an
// earlier event's (so that the field names are indexed), the payload's JSON
// full of quotes as Activity Streams JSON is.
func overheadTable() string {
	small, large := activityJSON(512), activityJSON(4096)
	quoted := quotedJSON(4096)
	rows := []struct {
		payload, encoding string
		event             wire.Event
		binary            bool
	}{
		{"512 B JSON", "String", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: small}, false},
		{"512 B JSON", "Byte Sequence", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: small}, true},
		{"4 KiB JSON", "String", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: large}, false},
		{"4 KiB JSON", "Byte Sequence", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: large}, true},
		{"4 KiB JSON", "by reference", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: large, Ref: "/events/1243244"}, false},
		{"4 KiB JSON, quoted", "String", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: quoted}, false},
		{"4 KiB JSON, quoted", "Byte Sequence", wire.Event{ID: "1243244", Prev: "1243243", Type: "Add", Data: quoted}, true},
	}
	var b strings.Builder
	b.WriteString("| Payload | Encoding | HTTP/1.1 | HTTP/2 | HTTP/3 | SSE |\n|---|---|---|---|---|---|\n")
	published := time.UnixMilli(1763900000123)
	for _, r := range rows {
		r.event.Time = published
		fields := pubFields(r.event, r.binary)
		sse := "n/a"
		if !r.binary {
			sse = strconv.Itoa(len(wire.AppendSSE(nil, &r.event)))
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s |\n", r.payload, r.encoding,
			http1Size(105, "PUB", fields), http2Size(105, fields), http3Size(105, fields), sse)
	}
	fmt.Fprintf(&b, "| (none) | 106 keepalive | %d | %d | %d | %d |\n",
		http1Size(106, "No Operation", nil), http2Size(106, nil), http3Size(106, nil), len(wire.SSEKeepalive))
	b.WriteString(`{: #tab-overhead title="Bytes per Event on the Wire, Before TLS"}` + "\n")
	return b.String()
}

// activityJSON is an Activity Streams Add of n bytes, shaped as the
// origin's are: an activity embedding a note, whose content is prose.
func activityJSON(n int) []byte {
	head := `{"@context":"https://www.w3.org/ns/activitystreams","type":"Add","actor":"https://origin.example/users/alice",` +
		`"object":{"type":"Create","id":"https://origin.example/users/alice/activities/q5gbwv4vmc4m6ng3bschc36fxt",` +
		`"object":{"type":"Note","id":"https://origin.example/users/alice/objects/2vdxjwlm5q7ezkc3tya4ufr6gn",` +
		`"to":["https://www.w3.org/ns/activitystreams#Public"],"published":"2025-11-23T12:13:14.123Z","content":"`
	tail := `"}},"target":"https://origin.example/users/alice/outbox"}`
	const prose = "One subscription upstream, many downstream: the edge fans each event out. "
	fill := n - len(head) - len(tail)
	return []byte(head + strings.Repeat(prose, fill/len(prose)+1)[:fill] + tail)
}

// quotedJSON is JSON of n bytes made of short strings: quotes everywhere,
// the worst case for a String, which escapes each one.
func quotedJSON(n int) []byte {
	const item = `"a","b",`
	body := strings.Repeat(item, (n-2)/len(item)+1)[:n-3]
	body = body[:strings.LastIndexByte(body, ',')]
	return []byte("[" + body + strings.Repeat(" ", n-2-len(body)) + "]")
}

// pubFields are the event's PUB fields, its data as a Byte Sequence if
// binary.
func pubFields(e wire.Event, binary bool) http.Header {
	f, err := wire.EncodePUB(&e)
	if err != nil {
		panic(err)
	}
	if binary && f.EventData != "" {
		f.EventData, _ = httpsfv.Marshal(httpsfv.NewItem(e.Data))
	}
	h := http.Header{}
	f.Set(h)
	return h
}

func http1Size(status int, reason string, h http.Header) int {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, reason)
	h.Write(&b)
	b.WriteString("\r\n")
	return b.Len()
}

// http2Size is the HEADERS frame (9-byte frame header included) of the
// response, encoded after one with other values of the same fields.
func http2Size(status int, h http.Header) int {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	encode := func(h http.Header) {
		b.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
		for _, name := range []string{wire.FieldEvent, wire.FieldEventData} {
			for _, v := range h[name] {
				enc.WriteField(hpack.HeaderField{Name: strings.ToLower(name), Value: v})
			}
		}
	}
	earlier := http.Header{}
	for name, v := range h {
		earlier[name] = []string{strings.Replace(v[0], "1243244", "1243243", 1) + " "}
	}
	encode(earlier)
	encode(h)
	return 9 + b.Len()
}

// http3Size is the HEADERS frame (type and length included) of the
// response as the servers write it over HTTP/3 (QPACK with the static table
// only: see wire.AppendHTTP3Headers).
func http3Size(status int, h http.Header) int {
	return len(wire.AppendHTTP3Headers(nil, status, h))
}
