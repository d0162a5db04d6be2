package load

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go/quicvarint"

	"github.com/subpub/subpub/wire"
)

// fieldSection strips an HTTP/3 HEADERS frame's type and length.
func fieldSection(t testing.TB, frame []byte) []byte {
	r := bytes.NewReader(frame)
	if typ, err := quicvarint.Read(r); err != nil || typ != h3FrameHeaders {
		t.Fatalf("not a HEADERS frame: %x", frame)
	}
	if _, err := quicvarint.Read(r); err != nil {
		t.Fatal(err)
	}
	return frame[len(frame)-r.Len():]
}

func TestQPACKFields(t *testing.T) {
	pub, err := wire.EncodePUB(&wire.Event{ID: "42", Type: "Add", Time: time.UnixMilli(1763900000123), Data: []byte(`{"t":5,"event":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		frame  []byte
		status int
		tMS    int64
		hasT   bool
	}{
		{"PUB", pub.AppendHTTP3(nil), 105, 1763900000123, true},
		{"106", wire.AppendHTTP3Headers(nil, 106, http.Header{"Cache-Control": {"public"}}), 106, 0, false},
		{"200", wire.AppendHTTP3Headers(nil, 200, http.Header{"Content-Type": {"text/event-stream"}}), 200, 0, false},
		{"204", wire.AppendHTTP3Headers(nil, 204, nil), 204, 0, false},
		{"Event-Data only", wire.AppendHTTP3Headers(nil, 105, http.Header{"Event-Data": {pub.Event}}), 105, 0, false},
	} {
		var q qpackFields
		if err := q.read(fieldSection(t, c.frame)); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if q.status != c.status || q.hasT != c.hasT || q.hasT && q.tMS != c.tMS {
			t.Errorf("%s: status %d, t %d (%v); want %d, %d (%v)", c.name, q.status, q.tMS, q.hasT, c.status, c.tMS, c.hasT)
		}
	}
	// Streams sharing a cache read each event's own time.
	cache := new(eventTimeCache)
	for i := range 6 {
		ms := int64(1763900000000 + i/2)
		p, err := wire.EncodePUB(&wire.Event{ID: "1", Time: time.UnixMilli(ms), Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		q := qpackFields{events: cache}
		if err := q.read(fieldSection(t, p.AppendHTTP3(nil))); err != nil || !q.hasT || q.tMS != ms {
			t.Errorf("with a cache, event %d: t %d (%v, %v), want %d", i, q.tMS, q.hasT, err, ms)
		}
	}

	var q qpackFields
	section := fieldSection(t, pub.AppendHTTP3(nil))
	q.read(section)
	if n := testing.AllocsPerRun(100, func() { q.read(section) }); n != 0 && !raceEnabled {
		t.Errorf("reading a PUB allocates %v times", n)
	}
}

// FuzzQPACKFields checks qpackFields against quic-go's QPACK decoder: what
// the decoder reads, qpackFields reads too, with the same status and time.
func FuzzQPACKFields(f *testing.F) {
	pub, _ := wire.EncodePUB(&wire.Event{ID: "1", Time: time.UnixMilli(99), Data: []byte("x")})
	f.Add(fieldSection(f, pub.AppendHTTP3(nil)))
	f.Add(fieldSection(f, wire.AppendHTTP3Headers(nil, 106, http.Header{"Vary": {"Authorization"}})))
	var plain bytes.Buffer // literal strings without Huffman coding
	plain.Write([]byte{0, 0, 0x5f, 0x09, 3, '1', '0', '5', 0x25, 'e', 'v', 'e', 'n', 't', 3, 't', '=', '7'})
	f.Add(plain.Bytes())
	f.Fuzz(func(t *testing.T, section []byte) {
		var q qpackFields
		err := q.read(section)
		status, tMS, hasT := 0, int64(0), false
		decode := qpack.NewDecoder().Decode(section)
		for {
			hf, derr := decode()
			if derr != nil {
				if derr.Error() != "EOF" {
					return // the decoder refuses it: nothing to compare
				}
				break
			}
			switch hf.Name {
			case ":status":
				status = parseStatus(hf.Value)
			case "event":
				tMS, hasT = eventTime(hf.Value)
			}
		}
		if err != nil {
			t.Fatalf("qpackFields: %v; the decoder reads it", err)
		}
		if q.status != status || q.hasT != hasT || hasT && q.tMS != tMS {
			t.Fatalf("qpackFields: status %d, t %d (%v); the decoder's %d, %d (%v)", q.status, q.tMS, q.hasT, status, tMS, hasT)
		}
	})
}
