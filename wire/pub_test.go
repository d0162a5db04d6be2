package wire

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEncodePUB(t *testing.T) {
	published := time.UnixMilli(1763900000123)
	tests := []struct {
		name      string
		event     Event
		wantEvent string
		wantData  string
	}{
		{
			name:      "JSON payload is an sf-string with quotes escaped",
			event:     Event{ID: "42", Type: "Update", Data: []byte(`{"a":"b\\c"}`), Time: published},
			wantEvent: `id="42", type=Update, t=1763900000123`,
			wantData:  `"{\"a\":\"b\\\\c\"}"`,
		},
		{
			name:      "mostly-ASCII UTF-8 text is an sf-displaystring, its bytes as they are",
			event:     Event{ID: "7", Data: []byte("Meet at the caf\u00e9 at noon (100 % sure), then walk to the station.")},
			wantEvent: `id="7"`,
			wantData:  `%"Meet at the caf%c3%a9 at noon (100 %25 sure), then walk to the station."`,
		},
		{
			name:      "UTF-8 text shorter in base64 than as a display string is an sf-binary",
			event:     Event{ID: "7", Data: []byte("caf\xc3\xa9")},
			wantEvent: `id="7"`,
			wantData:  `:Y2Fmw6k=:`,
		},
		{
			name:      "a payload that is not UTF-8 is an sf-binary",
			event:     Event{ID: "8", Data: []byte("ab\xff\x00 long enough for a display string to win if it could")},
			wantEvent: `id="8"`,
			wantData:  `:YWL/ACBsb25nIGVub3VnaCBmb3IgYSBkaXNwbGF5IHN0cmluZyB0byB3aW4gaWYgaXQgY291bGQ=:`,
		},
		{
			name:      "a line break makes text a display string",
			event:     Event{ID: "9", Data: []byte("line one\nline two, then a third\r\n")},
			wantEvent: `id="9"`,
			wantData:  `%"line one%0aline two, then a third%0d%0a"`,
		},
		{
			name:      "a type that is not a token is an sf-string",
			event:     Event{ID: "1", Type: "two words", Data: []byte("x")},
			wantEvent: `id="1", type="two words"`,
			wantData:  `"x"`,
		},
		{
			name:      "an event by reference has no Event-Data",
			event:     Event{ID: "9", Type: "Create", Ref: "https://example.com/objects/9"},
			wantEvent: `id="9", type=Create, ref="https://example.com/objects/9"`,
		},
		{
			name:      "the default type is left out",
			event:     Event{ID: "4", Type: TypeDefault, Data: []byte("x")},
			wantEvent: `id="4"`,
			wantData:  `"x"`,
		},
		{
			name:      "an event with nothing else names the default type, so that the field is not empty",
			event:     Event{Data: []byte("0")},
			wantEvent: `type=message`,
			wantData:  `"0"`,
		},
		{
			name:      "empty data is an empty sf-string",
			event:     Event{ID: "3"},
			wantEvent: `id="3"`,
			wantData:  `""`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := EncodePUB(&tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if f.Event != tt.wantEvent || f.EventData != tt.wantData {
				t.Errorf("got Event: %s / Event-Data: %s\nwant Event: %s / Event-Data: %s", f.Event, f.EventData, tt.wantEvent, tt.wantData)
			}
			got, err := decodeSet(f)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.event
			want.Type = canonicalType(want.Type)
			assertSameEvent(t, got, want)
		})
	}
}

func TestEncodePUBRejectsWhatASCIIFieldsCannotCarry(t *testing.T) {
	for _, e := range []Event{
		{ID: "caf\xc3\xa9"},
		{ID: "1", Type: "line\nbreak"},
		{ID: "1", Ref: "https://example.com/\x00"},
	} {
		if _, err := EncodePUB(&e); err == nil {
			t.Errorf("EncodePUB(%+v) succeeded, want an error", e)
		}
	}
}

func TestDecodePUBErrors(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no Event field", http.Header{"Event-Data": {`"x"`}}, "no Event field"},
		{"Event not a dictionary", http.Header{"Event": {`"x"`}}, "malformed Event"},
		{"id not a string", http.Header{"Event": {`id=42`}}, `"id" is not a string`},
		{"type not a token", http.Header{"Event": {`type=1`}}, `"type" is not a token`},
		{"time not an integer", http.Header{"Event": {`t="now"`}}, `"t" is not an integer`},
		{"Event-Data a list", http.Header{"Event": {`id="1"`}, "Event-Data": {`"a", "b"`}}, "malformed Event-Data"},
		{"Event-Data a token", http.Header{"Event": {`id="1"`}, "Event-Data": {`abc`}}, "not a string, display string or byte sequence"},
		{"Event-Data a display string that is not UTF-8", http.Header{"Event": {`id="1"`}, "Event-Data": {`%"caf%c3"`}}, "malformed Event-Data"},
		{"Event-Data a display string with upper-case hex", http.Header{"Event": {`id="1"`}, "Event-Data": {`%"caf%C3%A9"`}}, "malformed Event-Data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePUB(tt.header)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodePUB error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodePUBIgnoresUnknownMembersAndRelaysThem(t *testing.T) {
	h := http.Header{"Event": {`id="5", type=Add, future=?1`}, "Event-Data": {`"{}"`}}
	f, err := FrameFromPUB(h)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "5" || f.Type != "Add" || string(f.Data) != "{}" {
		t.Errorf("decoded %+v", f.Event)
	}
	pub, _ := f.PUB()
	if pub.Event != `id="5", type=Add, future=?1` {
		t.Errorf("relayed Event field %q, want the received value", pub.Event)
	}
}

func TestPUBFieldsSetAndClearLeaveOtherFieldsAlone(t *testing.T) {
	h := http.Header{"Cache-Control": {"public"}}
	f := PUBFields{Event: `id="1"`, EventData: `"x"`}
	f.Set(h)
	PUBFields{Event: `id="2"`}.Set(h)
	if _, ok := h[FieldEventData]; ok {
		t.Error("Set of an event by reference left the previous Event-Data")
	}
	f.Clear(h)
	if len(h) != 1 || h.Get("Cache-Control") != "public" {
		t.Errorf("after Clear: %v", h)
	}
}

// TestTheDefaultTypeReadsAsNone checks that both codecs read an absent type
// and an explicit "message" as the same event, Type "", so that an event
// crosses SUB⇄SSE translation with one representation.
func TestTheDefaultTypeReadsAsNone(t *testing.T) {
	pubs := []string{`id="1"`, `id="1", type=message`, `id="1", type="message"`}
	for _, event := range pubs {
		e, err := DecodePUB(http.Header{FieldEvent: {event}, FieldEventData: {`"x"`}})
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "" || e.TypeName() != TypeDefault {
			t.Errorf("PUB Event: %s: Type %q, TypeName %q; want \"\" and %q", event, e.Type, e.TypeName(), TypeDefault)
		}
	}
	for _, stream := range []string{"id: 1\ndata: x\n\n", "id: 1\nevent: message\ndata: x\n\n"} {
		e, err := NewSSEReader(strings.NewReader(stream)).Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "" {
			t.Errorf("SSE %q: Type %q, want \"\"", stream, e.Type)
		}
	}
	if got := AppendSSE(nil, &Event{ID: "1", Type: TypeDefault, Data: []byte("x")}); string(got) != "id: 1\ndata: x\n\n" {
		t.Errorf("AppendSSE of the default type: %q", got)
	}
	if (&Event{Type: "Add"}).TypeName() != "Add" {
		t.Error("TypeName of a named type")
	}
}

// decodeSet decodes the event that fields carry once Set in a header of
// their own, as a recipient of the interim response reads it.
func decodeSet(fields PUBFields) (Event, error) {
	h := http.Header{}
	fields.Set(h)
	return DecodePUB(h)
}

func assertSameEvent(t *testing.T, got, want Event) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Ref != want.Ref || got.Prev != want.Prev || got.Gap != want.Gap ||
		!bytes.Equal(got.Data, want.Data) || !got.Time.Equal(want.Time.Truncate(time.Millisecond)) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func FuzzPUBRoundTrip(f *testing.F) {
	f.Add("42", "Update", []byte(`{"type":"Note","content":"hi \"there\""}`), int64(1763900000123), "")
	f.Add("", "", []byte{0, 1, 2, 255}, int64(0), "https://example.com/x")
	f.Add("43", "Create", []byte(`{"content":"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 100%"}`), int64(1), "")
	f.Add("44", "", []byte("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87"), int64(0), "")
	f.Add("45", "", []byte("a\r\nb\x7f%\""), int64(0), "")
	f.Fuzz(func(t *testing.T, id, typ string, data []byte, ms int64, ref string) {
		e := Event{ID: id, Type: typ, Data: data, Ref: ref}
		if ms > 0 && ms < 1e15 {
			e.Time = time.UnixMilli(ms)
		}
		fields, err := EncodePUB(&e)
		if err != nil {
			return // not representable: ids, types and refs must be printable ASCII
		}
		got, err := decodeSet(fields)
		if err != nil {
			t.Fatalf("decoding what EncodePUB produced (%+v): %v", fields, err)
		}
		if ref != "" {
			e.Data = nil // carried by reference
		}
		if len(e.Data) == 0 {
			e.Data, got.Data = nil, nil
		}
		e.Type = canonicalType(e.Type) // the default type reads back as none
		assertSameEvent(t, got, e)
	})
}

func FuzzDecodePUB(f *testing.F) {
	f.Add(`id="1", type=Add, t=1`, `"{}"`)
	f.Add(`id="x";a=1, ref="u"`, `:AAE=:`)
	f.Add(`type=*tok, t=-5`, ``)
	f.Add(`id="3", prev="2", type=Add`, `"{}"`)
	f.Add(`id="9", prev="1", gap="/outbox", type=Add`, `""`)
	f.Add(`id="9", prev=2`, `""`)
	f.Add(`prev=" 2 "`, ``)
	f.Add(`id="2"`, `%"caf%c3%a9 %22%25"`)
	f.Add(`id="3"`, `%"%f0%9f%98%80"`)
	f.Add(`id="4"`, `%"bad%c3"`)
	f.Add(`id="5"`, `%"%"`)
	f.Fuzz(func(t *testing.T, event, data string) {
		h := http.Header{FieldEvent: {event}}
		if data != "" {
			h[FieldEventData] = []string{data}
		}
		e, err := DecodePUB(h)
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same event.
		fields, err := EncodePUB(&e)
		if err != nil && (strings.TrimSpace(e.ID) != e.ID || strings.TrimSpace(e.Prev) != e.Prev) {
			return // accepted when read, never sent: ids with surrounding spaces
		}
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", e, err)
		}
		again, err := decodeSet(fields)
		if err != nil {
			t.Fatalf("decoding re-encoded %+v: %v", fields, err)
		}
		if e.Ref != "" {
			e.Data = nil
		}
		if len(e.Data) == 0 {
			e.Data, again.Data = nil, nil
		}
		assertSameEvent(t, again, e)
	})
}

// The members that let a recipient check the order of a stream, and the
// gap's, read back as written; a gap takes no type.
func TestPUBPrevAndGap(t *testing.T) {
	for _, tc := range []struct {
		event Event
		field string
	}{
		{Event{ID: "8", Prev: "7", Type: "Add", Data: []byte("x")}, `id="8", prev="7", type=Add`},
		{Event{ID: "9", Prev: "2", Gap: "/users/alice/outbox"}, `id="9", prev="2", gap="/users/alice/outbox"`},
		{Event{ID: "9", Prev: "2", Gap: "/outbox", Type: "Add"}, `id="9", prev="2", gap="/outbox"`},
	} {
		fields, err := EncodePUB(&tc.event)
		if err != nil {
			t.Fatal(err)
		}
		if fields.Event != tc.field {
			t.Errorf("Event: %s, want %s", fields.Event, tc.field)
		}
		got, err := decodeSet(fields)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.event
		if want.Gap != "" {
			want.Type, want.Data = "", nil
			got.Data = nil
		}
		assertSameEvent(t, got, want)
	}
	for _, bad := range []string{`id="1", prev=2`, `id="1", prev=""`, `id="1", gap=?1`} {
		if _, err := DecodePUB(http.Header{FieldEvent: {bad}}); err == nil && !strings.Contains(bad, `""`) {
			t.Errorf("%s: decoded without error", bad)
		}
	}
	if _, err := EncodePUB(&Event{ID: "1", Prev: " 0"}); err == nil {
		t.Error("a prev with a leading space encoded without error")
	}
}

func TestFollows(t *testing.T) {
	for _, tc := range []struct {
		prev, last string
		want       bool
	}{
		{"7", "7", true},
		{"6", "7", false},
		{"", "7", true}, // a server that does not say
		{"7", "", true}, // a recipient that knows no position
	} {
		e := Event{ID: "8", Prev: tc.prev}
		if got := e.Follows(tc.last); got != tc.want {
			t.Errorf("prev %q after %q: %v, want %v", tc.prev, tc.last, got, tc.want)
		}
	}
}

func TestPUBFieldsAppendHTTP1IsAnInterimResponseHTTPReads(t *testing.T) {
	for _, e := range []Event{
		{ID: "7", Type: "Add", Data: []byte(`{"type":"Note","content":"a \"quoted\" word"}`)},
		{ID: "8", Type: "Delete", Ref: "/events/8"},
	} {
		fields, err := EncodePUB(&e)
		if err != nil {
			t.Fatal(err)
		}
		raw := fields.AppendHTTP1(nil)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if resp.StatusCode != StatusPUB {
			t.Errorf("status %d, want %d", resp.StatusCode, StatusPUB)
		}
		got, err := DecodePUB(resp.Header)
		if err != nil {
			t.Fatal(err)
		}
		assertSameEvent(t, got, e)
		if len(raw) != pubStatusLine+fields.Size()+2 {
			t.Errorf("%d bytes, want the status line, Size() and the empty line: %d", len(raw), pubStatusLine+fields.Size()+2)
		}
		buf := make([]byte, 0, 4096)
		if allocs := testing.AllocsPerRun(100, func() { fields.AppendHTTP1(buf) }); allocs != 0 {
			t.Errorf("%v allocations into a buffer with room, want 0", allocs)
		}
	}
}

const pubStatusLine = len("HTTP/1.1 105 PUB\r\n")

// TestEventDataCarriesExactBytes checks every form on payloads each can
// carry: what is decoded is the payload, byte for byte, and a form that
// cannot carry a payload says so rather than changing it.
func TestEventDataCarriesExactBytes(t *testing.T) {
	payloads := map[string][]byte{
		"ASCII JSON":       []byte(`{"type":"Note","content":"a \"quoted\" back\\slash"}`),
		"escaped JSON":     []byte(`{"content":"caf\u00e9"}`),
		"UTF-8 JSON":       []byte(`{"content":"café, 日本語, 😀"}`),
		"line breaks":      []byte("a\r\nb\rc\n"),
		"percent and DEL":  []byte("100% \x7f"),
		"not UTF-8":        {0xff, 0xfe, 0, 'a'},
		"empty":            {},
		"truncated UTF-8":  []byte("caf\xc3"),
		"a NUL in ASCII":   []byte("a\x00b"),
		"overlong UTF-8 /": {0xc0, 0xaf},
	}
	for name, data := range payloads {
		for form, formName := range EventDataForms {
			value, ok := EncodeEventDataAs(data, EventDataForm(form))
			canCarry := map[EventDataForm]bool{
				FormString:        isPrintableASCII(string(data)),
				FormDisplayString: utf8.Valid(data),
				FormByteSequence:  true,
			}[EventDataForm(form)]
			if ok != canCarry {
				t.Errorf("%s as %s: ok = %v, want %v", name, formName, ok, canCarry)
				continue
			}
			if !ok {
				continue
			}
			got, err := DecodePUB(http.Header{FieldEvent: {`id="1"`}, FieldEventData: {value}})
			if err != nil {
				t.Errorf("%s as %s (%s): %v", name, formName, value, err)
				continue
			}
			if !bytes.Equal(got.Data, data) {
				t.Errorf("%s as %s (%s): decoded %q, want %q", name, formName, value, got.Data, data)
			}
		}
		// What EncodePUB picks is a String for printable ASCII, else the
		// shortest form that carries it.
		chosen := EncodeEventData(data)
		if isPrintableASCII(string(data)) {
			if v, _ := EncodeEventDataAs(data, FormString); chosen != v {
				t.Errorf("%s: EncodePUB sends %s, not the String %s", name, chosen, v)
			}
			continue
		}
		for form := range EventDataForms {
			if v, ok := EncodeEventDataAs(data, EventDataForm(form)); ok && len(v) < len(chosen) {
				t.Errorf("%s: EncodePUB sends %s, but %s is shorter: %s", name, chosen, EventDataForms[form], v)
			}
		}
	}
}

// TestInlineSizeIsTheHTTP1Response checks InlineSize against the bytes
// AppendHTTP1 writes, with and without a publication time.
func TestInlineSizeIsTheHTTP1Response(t *testing.T) {
	for _, e := range []Event{
		{ID: "12", Type: "Add", Data: []byte(`{"a":"b"}`), Time: time.UnixMilli(1763900000123)},
		{ID: "13", Data: []byte("caf\xc3\xa9 and more text to make a display string"), Time: time.UnixMilli(1763900000123)},
		{ID: "14", Type: "Update", Data: []byte{0xff, 1}, Ref: "/events/14", Time: time.UnixMilli(1763900000123)},
	} {
		got, err := InlineSize(&e)
		if err != nil {
			t.Fatal(err)
		}
		inline := e
		inline.Ref = ""
		f, _ := EncodePUB(&inline)
		if want := len(f.AppendHTTP1(nil)); got != want {
			t.Errorf("InlineSize(%+v) = %d, the response is %d bytes", e, got, want)
		}
		untimed := e
		untimed.Time = time.Time{}
		if n, _ := InlineSize(&untimed); n != got {
			t.Errorf("without a time, InlineSize = %d, want %d (counted with one)", n, got)
		}
	}
}
