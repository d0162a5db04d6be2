package stream_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestPrivateStreamsShareNoHPACKEntryAcrossPrincipals subscribes, on one
// HTTP/2 connection, to streams of two principals (alice's and bob's
// private streams, each with its own credentials) and publishes the same
// payload on both: the guess of one principal equal to the other's secret,
// as a compression side channel needs it (RFC 7541 §7.1). It reads every
// header block as the bytes the server sent and follows the connection's
// dynamic table, and checks that no PUB of one principal's stream refers
// to an entry another principal's stream put there, and that a private
// stream's Event and Event-Data are never indexed at all.
//
// The negative control is the same connection with two public streams:
// the second stream's PUB is an index into the entry the first stream's
// made, the sharing that makes a PUB a few bytes; the checker sees it.
func TestPrivateStreamsShareNoHPACKEntryAcrossPrincipals(t *testing.T) {
	const payload = `{"type":"Note","content":"the secret is 4711"}`
	for _, tt := range []struct {
		name      string
		streams   map[uint32]subscription
		wantShare bool
	}{
		{"private streams of two principals", map[uint32]subscription{
			1: {"/private/alice", "alice"},
			3: {"/private/bob", "bob"},
			5: {"/private/bob", "bob"},
		}, false},
		{"public streams (negative control)", map[uint32]subscription{
			1: {"/public/news", "alice"},
			3: {"/public/sport", "bob"},
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := startTestOrigin(t, nil)
			rc := newRawH2(t, o.PlainAddr(), defaultWindow)
			tbl := &hpackTrace{t: t, dec: hpack.NewDecoder(defaultHeaderTableSize, nil), maxSize: defaultHeaderTableSize, owner: map[uint32]string{}}
			for _, id := range slices.Sorted(maps.Keys(tt.streams)) { // a client opens streams in order
				sub := tt.streams[id]
				tbl.owner[id] = sub.principal
				rc.requestPath(id, wire.MethodSUB, sub.path, [2]string{"authorization", "Bearer " + sub.principal})
			}
			acks := map[uint32]bool{}
			tbl.read(rc, func(id uint32, status string, _ []hpack.HeaderField) bool {
				if status == "106" {
					acks[id] = true
				}
				return len(acks) == len(tt.streams)
			})
			paths := map[string]bool{}
			for _, sub := range tt.streams {
				paths[sub.path] = true
			}
			const events = 3
			for range events {
				for path := range paths {
					o.PublishEvent(path, wire.Event{Type: "Create", Data: []byte(payload)})
				}
			}
			pubs := map[uint32]int{}
			tbl.read(rc, func(id uint32, status string, _ []hpack.HeaderField) bool {
				if status == "105" {
					pubs[id]++
				}
				for id := range tt.streams {
					if pubs[id] < events {
						return false
					}
				}
				return true
			})
			if tbl.crossPrincipal > 0 && !tt.wantShare {
				t.Errorf("%d PUB fields referred to another principal's dynamic-table entries", tbl.crossPrincipal)
			}
			if tt.wantShare && tbl.crossPrincipal == 0 {
				t.Errorf("no PUB of a public stream referred to the entry another stream made: the check cannot see sharing")
			}
			if !tt.wantShare && tbl.indexedPUBFields > 0 {
				t.Errorf("%d Event or Event-Data fields of private streams entered the dynamic table", tbl.indexedPUBFields)
			}
		})
	}
}

type subscription struct{ path, principal string }

// hpackTrace decodes the server's header blocks and follows its dynamic
// table (RFC 7541 §2.3.2, §4), knowing for each entry the stream, and so
// the principal, whose header block inserted it.
type hpackTrace struct {
	t       *testing.T
	dec     *hpack.Decoder
	maxSize int
	entries []traceEntry // newest first, as the dynamic table indexes them
	owner   map[uint32]string
	// crossPrincipal counts Event and Event-Data fields sent as an index
	// into an entry of another principal's stream; indexedPUBFields those
	// inserted into the table.
	crossPrincipal, indexedPUBFields int
}

type traceEntry struct {
	principal string
	size      int
}

// read reads frames until done, given each interim or final response's
// stream, :status and fields, says it has seen enough.
func (h *hpackTrace) read(rc *rawH2, done func(id uint32, status string, fields []hpack.HeaderField) bool) {
	h.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(testkit.Timeout))
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			h.t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				rc.fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if !f.HeadersEnded() {
				h.t.Fatal("a header block in CONTINUATION: not expected of these small events")
			}
			fields := h.block(f.StreamID, f.HeaderBlockFragment())
			status := ""
			if len(fields) > 0 && fields[0].Name == ":status" {
				status = fields[0].Value
			}
			if done(f.StreamID, status, fields) {
				return
			}
		case *http2.RSTStreamFrame:
			h.t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		}
	}
}

// block decodes one header block of stream id, following the table.
func (h *hpackTrace) block(id uint32, b []byte) []hpack.HeaderField {
	fields, err := h.dec.DecodeFull(b)
	if err != nil {
		h.t.Fatalf("stream %d: %v", id, err)
	}
	principal := h.owner[id]
	n := 0 // the field the representation at b is
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed header field (§6.1)
			var index uint64
			index, b = hpackInt(h.t, b, 7)
			if f := fields[n]; index > 61 && isPUBField(f.Name) {
				if e := h.entries[index-62]; e.principal != principal {
					h.crossPrincipal++
				}
			}
			n++
		case c&0xe0 == 0x20: // dynamic table size update (§6.3)
			var size uint64
			size, b = hpackInt(h.t, b, 5)
			h.maxSize = int(size)
			h.evict()
		default: // a literal (§6.2)
			prefix, inserts := uint8(4), false
			if c&0xc0 == 0x40 {
				prefix, inserts = 6, true
			}
			var nameIndex uint64
			nameIndex, b = hpackInt(h.t, b, prefix)
			if nameIndex == 0 {
				b = hpackSkipString(h.t, b)
			}
			b = hpackSkipString(h.t, b)
			f := fields[n]
			if inserts {
				h.entries = append([]traceEntry{{principal, len(f.Name) + len(f.Value) + 32}}, h.entries...)
				h.evict()
				if isPUBField(f.Name) && h.owner[id] != "" {
					h.indexedPUBFields++
				}
			}
			n++
		}
	}
	if n != len(fields) {
		h.t.Fatalf("stream %d: %d representations for %d fields", id, n, len(fields))
	}
	return fields
}

func (h *hpackTrace) evict() {
	size := 0
	for i, e := range h.entries {
		if size += e.size; size > h.maxSize {
			h.entries = h.entries[:i]
			return
		}
	}
}

func isPUBField(name string) bool { return name == "event" || name == "event-data" }

// hpackInt reads an integer with an n-bit prefix (RFC 7541 §5.1).
func hpackInt(t *testing.T, b []byte, n uint8) (uint64, []byte) {
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	b = b[1:]
	if v < max {
		return v, b
	}
	for shift := uint(0); ; shift += 7 {
		if len(b) == 0 {
			t.Fatal(fmt.Errorf("HPACK integer cut short"))
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b
		}
	}
}

// hpackSkipString skips a string literal (§5.2).
func hpackSkipString(t *testing.T, b []byte) []byte {
	n, b := hpackInt(t, b, 7)
	if uint64(len(b)) < n {
		t.Fatal("HPACK string cut short")
	}
	return b[n:]
}
