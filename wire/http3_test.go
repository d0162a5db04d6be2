package wire

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go/quicvarint"
)

// readHTTP3Frame splits b into its first frame's type and payload, and what
// follows.
func readHTTP3Frame(t *testing.T, b []byte) (typ uint64, payload, rest []byte) {
	t.Helper()
	typ, n, err := quicvarint.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	length, m, err := quicvarint.Parse(b[n:])
	if err != nil || uint64(len(b[n+m:])) < length {
		t.Fatalf("frame of %d bytes in %d: %v", length, len(b[n+m:]), err)
	}
	return typ, b[n+m : n+m+int(length)], b[n+m+int(length):]
}

func decodeFieldSection(t *testing.T, block []byte) []qpack.HeaderField {
	t.Helper()
	var fields []qpack.HeaderField
	next := qpack.NewDecoder().Decode(block)
	for {
		f, err := next()
		if errors.Is(err, io.EOF) {
			return fields
		}
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, f)
	}
}

func TestAppendHTTP3HeadersIsAHeadersFrameQPACKReads(t *testing.T) {
	e := Event{ID: "7", Type: "Add", Data: []byte(`{"a":"b"}`)}
	f := NewFrame(e)
	fields, err := f.PUB()
	if err != nil {
		t.Fatal(err)
	}
	b := fields.AppendHTTP3(nil)
	typ, block, rest := readHTTP3Frame(t, b)
	if typ != http3FrameHeaders || len(rest) != 0 {
		t.Fatalf("frame type %d with %d bytes after it", typ, len(rest))
	}
	want := []qpack.HeaderField{{Name: ":status", Value: "105"}, {Name: "event", Value: fields.Event}, {Name: "event-data", Value: fields.EventData}}
	if got := decodeFieldSection(t, block); !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	if got := AppendHTTP3Headers(nil, 105, http.Header{FieldEventData: {fields.EventData}, FieldEvent: {fields.Event}}); string(got) != string(b) {
		t.Error("the encoding depends on the header map's order")
	}
}

func TestAppendHTTP3Data(t *testing.T) {
	b := AppendHTTP3Data([]byte("x"), make([]byte, 300))
	typ, payload, rest := readHTTP3Frame(t, b[1:])
	if b[0] != 'x' || typ != http3FrameData || len(payload) != 300 || len(rest) != 0 {
		t.Errorf("type %d, %d bytes, %d after", typ, len(payload), len(rest))
	}
}

func TestFrameEncodedIsMadeOncePerKey(t *testing.T) {
	f := NewFrame(Event{ID: "1", Data: []byte("x")})
	a, b := &EncodingKey{Name: "a"}, &EncodingKey{Name: "b"}
	calls := 0
	encode := func(name string) func(*Frame) any {
		return func(*Frame) any { calls++; return name }
	}
	if f.Encoded(a, encode("a")) != "a" || f.Encoded(a, encode("other")) != "a" || f.Encoded(b, encode("b")) != "b" {
		t.Error("Encoded returned another key's encoding, or made one twice")
	}
	if calls != 2 {
		t.Errorf("%d encodings made for two keys", calls)
	}
}
