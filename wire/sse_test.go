package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestAppendSSE(t *testing.T) {
	tests := []struct {
		name  string
		event Event
		want  string
	}{
		{
			name:  "all fields",
			event: Event{ID: "42", Type: "Update", Data: []byte(`{"a":1}`), Time: time.UnixMilli(1763900000123)},
			want:  "id: 42\nevent: Update\nt: 1763900000123\ndata: {\"a\":1}\n\n",
		},
		{
			name:  "multi-line data with every kind of line break",
			event: Event{Data: []byte("a\nb\r\nc\rd")},
			want:  "data: a\ndata: b\ndata: c\ndata: d\n\n",
		},
		{
			name:  "data ending in a line break keeps it",
			event: Event{Data: []byte("a\n")},
			want:  "data: a\ndata: \n\n",
		},
		{
			name:  "empty data is still dispatched",
			event: Event{ID: "1"},
			want:  "id: 1\ndata: \n\n",
		},
		{
			name:  "reference",
			event: Event{ID: "9", Ref: "https://example.com/9"},
			want:  "id: 9\nref: https://example.com/9\ndata: \n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendSSE(nil, &tt.event))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSSEReader follows the WHATWG HTML "Interpreting an event stream" rules.
func TestSSEReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []Event
		lastID string
		retry  time.Duration
	}{
		{
			name:   "spec example: two data lines",
			stream: "data: YHOO\ndata: +2\ndata: 10\n\n",
			want:   []Event{{Data: []byte("YHOO\n+2\n10")}},
		},
		{
			name:   "spec example: ids persist across events",
			stream: ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			want: []Event{
				{ID: "1", Data: []byte("first event")},
				{ID: "", Data: []byte("second event")},
				{ID: "", Data: []byte(" third event")},
			},
		},
		{
			name:   "spec example: a field with no colon and an event without trailing data",
			stream: "data\n\ndata\ndata\n\ndata:",
			want:   []Event{{Data: []byte("")}, {Data: []byte("\n")}},
		},
		{
			name:   "BOM, CR and CRLF line ends",
			stream: "\xEF\xBB\xBFid: 7\revent: Add\r\ndata: x\r\r",
			want:   []Event{{ID: "7", Type: "Add", Data: []byte("x")}},
			lastID: "7",
		},
		{
			name:   "an id containing NUL is ignored",
			stream: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want:   []Event{{ID: "1", Data: []byte("a")}, {ID: "", Data: []byte("b")}},
			lastID: "1",
		},
		{
			name:   "an event without an id field has no id of its own; the stream's last id stays",
			stream: "id: 5\ndata: a\n\ndata: b\n\n",
			want:   []Event{{ID: "5", Data: []byte("a")}, {ID: "", Data: []byte("b")}},
			lastID: "5",
		},
		{
			name:   "retry only as digits",
			stream: "retry: 1500\n\nretry: 2s\n\nretry: -1\n\ndata: x\n\n",
			want:   []Event{{Data: []byte("x")}},
			retry:  1500 * time.Millisecond,
		},
		{
			name:   "an event type without data is not dispatched and does not leak",
			stream: "event: ping\n\ndata: x\n\n",
			want:   []Event{{Data: []byte("x")}},
		},
		{
			name:   "unknown fields are ignored; extension fields are read",
			stream: "foo: bar\nid: 3\nt: 1763900000123\nref: https://e/3\ndata: \n\n",
			want:   []Event{{ID: "3", Time: time.UnixMilli(1763900000123), Ref: "https://e/3", Data: []byte("")}},
			lastID: "3",
		},
		{
			name:   "a partial event at the end of the stream is discarded",
			stream: "data: whole\n\ndata: partial\n",
			want:   []Event{{Data: []byte("whole")}},
		},
	}
	for _, tt := range tests {
		for _, reader := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"byte by byte", iotest.OneByteReader},
		} {
			t.Run(tt.name+"/"+reader.name, func(t *testing.T) {
				d := NewSSEReader(reader.wrap(strings.NewReader(tt.stream)))
				got := readAll(t, d, func(e Event) Event { return e })
				if len(got) != len(tt.want) {
					t.Fatalf("got %d events %+v, want %d", len(got), got, len(tt.want))
				}
				for i := range got {
					assertSameEvent(t, got[i], tt.want[i])
				}
				if tt.lastID != "" && d.LastEventID() != tt.lastID {
					t.Errorf("LastEventID = %q, want %q", d.LastEventID(), tt.lastID)
				}
				if d.Retry() != tt.retry {
					t.Errorf("Retry = %v, want %v", d.Retry(), tt.retry)
				}
			})
		}
	}
}

// readAll reads d to the end of its stream and returns what keep makes of
// each event, called as soon as the event is read (so that it sees the
// reader's state for that event). Any error but io.EOF fails the test.
func readAll[T any](t *testing.T, d *SSEReader, keep func(Event) T) []T {
	t.Helper()
	var kept []T
	for {
		e, err := d.Next()
		if errors.Is(err, io.EOF) {
			return kept
		}
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, keep(e))
	}
}

// TestSSEReaderLastEventIDBuffer follows the last-event-ID buffer of the
// WHATWG event stream interpretation: each event carries the buffer's value
// for its recipient, while Event.ID stays the event's own id field (which
// a translation to PUB gives it).
func TestSSEReaderLastEventIDBuffer(t *testing.T) {
	type got struct{ own, carried string }
	tests := []struct {
		name   string
		seed   string // the buffer before the stream, as after a resumption
		stream string
		want   []got
		final  string
	}{
		{
			name:   "an event without an id after one with an id carries it",
			stream: "id: 5\ndata: a\n\ndata: b\n\n",
			want:   []got{{"5", "5"}, {"", "5"}},
			final:  "5",
		},
		{
			name:   "an id-only block dispatches nothing but sets the buffer",
			stream: "id: 7\n\ndata: a\n\n",
			want:   []got{{"", "7"}},
			final:  "7",
		},
		{
			name:   "an id-only block at the end of the stream still counts",
			stream: "id: 1\ndata: a\n\nid: 2\n\n",
			want:   []got{{"1", "1"}},
			final:  "2",
		},
		{
			name:   "an id containing NUL is ignored and leaves the buffer",
			stream: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want:   []got{{"1", "1"}, {"", "1"}},
			final:  "1",
		},
		{
			name:   "an empty id field clears the buffer",
			stream: "id: 1\ndata: a\n\nid\ndata: b\n\ndata: c\n\n",
			want:   []got{{"1", "1"}, {"", ""}, {"", ""}},
			final:  "",
		},
		{
			name:   "the last id field of an event wins",
			stream: "id: 1\nid: 2\ndata: a\n\n",
			want:   []got{{"2", "2"}},
			final:  "2",
		},
		{
			name:   "a resumed stream starts from the id resumed after",
			seed:   "41",
			stream: "data: a\n\nid: 42\ndata: b\n\n",
			want:   []got{{"", "41"}, {"42", "42"}},
			final:  "42",
		},
		{
			name:   "a partial event's id goes with it: it was never dispatched",
			stream: "id: 8\ndata: a\n\nid: 9\ndata: cut",
			want:   []got{{"8", "8"}},
			final:  "8",
		},
		{
			name:   "negative control: ids persist until replaced",
			stream: "id: 1\ndata: a\n\nid: 2\ndata: b\n\ndata: c\n\n",
			want:   []got{{"1", "1"}, {"2", "2"}, {"", "2"}},
			final:  "2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewSSEReader(strings.NewReader(tt.stream))
			d.SetLastEventID(tt.seed)
			events := readAll(t, d, func(e Event) got { return got{e.ID, d.LastEventID()} })
			if len(events) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %+v", len(events), events, tt.want)
			}
			for i := range events {
				if events[i] != tt.want[i] {
					t.Errorf("event %d: own id %q, carried %q; want %q, %q", i, events[i].own, events[i].carried, tt.want[i].own, tt.want[i].carried)
				}
			}
			if d.LastEventID() != tt.final {
				t.Errorf("LastEventID at the end = %q, want %q", d.LastEventID(), tt.final)
			}
		})
	}
}

// TestSSEReaderDispatchesWithoutWaitingForTheNextByte checks that an event
// ended by CR is dispatched at once, although a LF might still follow.
func TestSSEReaderDispatchesWithoutWaitingForTheNextByte(t *testing.T) {
	pr, pw := io.Pipe()
	d := NewSSEReader(pr)
	go pw.Write([]byte("data: x\r\r"))
	e, err := d.Next()
	if err != nil || string(e.Data) != "x" {
		t.Fatalf("Next = %+v, %v", e, err)
	}
	pw.Close()
}

func TestSSEReaderLimitsEventSize(t *testing.T) {
	for name, stream := range map[string]string{
		"a long line":           "data: " + strings.Repeat("x", 200) + "\n\n",
		"many short data lines": strings.Repeat("data: xxxxxxxxxx\n", 30) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			d := NewSSEReader(strings.NewReader(stream))
			d.MaxEventSize = 100
			if _, err := d.Next(); !errors.Is(err, ErrEventTooLarge) {
				t.Errorf("Next error = %v, want ErrEventTooLarge", err)
			}
		})
	}
}

func TestFrameEncodesOnceAndShares(t *testing.T) {
	f := NewFrame(Event{ID: "1", Type: "Add", Data: []byte("{}")})
	a, b := f.SSE(), f.SSE()
	if &a[0] != &b[0] {
		t.Error("SSE encoded twice")
	}
	p1, err := f.PUB()
	if err != nil {
		t.Fatal(err)
	}
	if p1.Event != `id="1", type=Add` {
		t.Errorf("PUB Event = %q", p1.Event)
	}
}

// prev is an extension field, and a gap the reserved event whose data is
// its URL; LastEventIDBefore is what the event's prev must name.
func TestSSEPrevAndGap(t *testing.T) {
	events := []Event{
		{ID: "4", Prev: "3", Type: "Add", Data: []byte("x")},
		{ID: "9", Prev: "4", Gap: "/users/alice/outbox"},
	}
	var stream []byte
	stream = append(stream, "id: 3\n\n"...) // where the stream starts
	for i := range events {
		stream = AppendSSE(stream, &events[i])
	}
	if want := "id: 9\nprev: 4\nevent: stream-gap\ndata: /users/alice/outbox\n\n"; !bytes.HasSuffix(stream, []byte(want)) {
		t.Errorf("stream %q does not end with the gap %q", stream, want)
	}
	d := NewSSEReader(bytes.NewReader(stream))
	for _, want := range events {
		got, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if want.Gap != "" {
			want.Data = []byte{}
		}
		assertSameEvent(t, got, want)
		if !got.Follows(d.LastEventIDBefore()) {
			t.Errorf("event %s: prev %s, but the last event ID before it was %s", got.ID, got.Prev, d.LastEventIDBefore())
		}
	}
}

func FuzzSSERoundTrip(f *testing.F) {
	f.Add("42", "Update", []byte("{\"a\":1}\nline two"), int64(1763900000123), "")
	f.Add("", "", []byte("\r\n\r"), int64(0), "https://example.com/x")
	f.Fuzz(func(t *testing.T, id, typ string, data []byte, ms int64, ref string) {
		if strings.ContainsAny(id+typ+ref, "\r\n\x00") {
			return // fields are single lines; ids with NUL are ignored by design
		}
		e := Event{ID: id, Type: typ, Data: data, Ref: ref}
		if ms > 0 && ms < 1e15 {
			e.Time = time.UnixMilli(ms)
		}
		encoded := AppendSSE(nil, &e)
		d := NewSSEReader(bytes.NewReader(encoded))
		got, err := d.Next()
		if err != nil {
			t.Fatalf("parsing %q: %v", encoded, err)
		}
		// Fields lose one leading space to the parser unless written after ": ",
		// which AppendSSE always does; line breaks all arrive as LF.
		want := e
		want.Data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		if len(encoded) >= 3 && bytes.HasPrefix(encoded, []byte("\xEF\xBB\xBF")) {
			return // a leading BOM is stripped by design
		}
		want.Type = canonicalType(typ)
		assertSameEvent(t, got, want)
	})
}

func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("id: 1\nevent: Add\ndata: x\n\n: keepalive\ndata: y\r\n\r\n"))
	f.Add([]byte("\xEF\xBB\xBFretry: 10\rdata\r\r"))
	f.Add([]byte("id: 3\n\nid: 4\nprev: 3\ndata: x\n\nid: 9\nprev: 4\nevent: stream-gap\ndata: /outbox\n\n"))
	f.Add([]byte("prev\nevent: stream-gap\ndata\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		d := NewSSEReader(bytes.NewReader(stream))
		d.MaxEventSize = 64
		for range 1000 {
			e, err := d.Next()
			if err != nil {
				return
			}
			if len(e.Data) > 64 {
				t.Fatalf("event of %d bytes passed a 64-byte limit", len(e.Data))
			}
			if strings.ContainsRune(e.ID, 0) {
				t.Fatalf("id %q contains NUL", e.ID)
			}
		}
	})
}

// TestSSEErrRefusesWhatTheStreamWouldChange checks that an event whose
// payload an event-stream parser would not give back byte for byte is
// refused rather than changed, and that the rest pass (the negative
// control: LF alone, and UTF-8 beyond ASCII, survive).
func TestSSEErrRefusesWhatTheStreamWouldChange(t *testing.T) {
	for data, refused := range map[string]bool{
		"a\nb":                 false,
		"caf\u00e9 \U0001F600": false,
		"a\r\nb":               true,
		"a\rb":                 true,
		"caf\xc3":              true,
	} {
		f := NewFrame(Event{ID: "1", Data: []byte(data)})
		if got := f.SSEErr() != nil; got != refused {
			t.Errorf("%q: refused %v, want %v", data, got, refused)
			continue
		}
		if refused {
			continue
		}
		got, err := NewSSEReader(bytes.NewReader(f.SSE())).Next()
		if err != nil || string(got.Data) != data {
			t.Errorf("%q: read back %q, %v", data, got.Data, err)
		}
	}
}
