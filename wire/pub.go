package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// MethodSUB is the request method that asks for a subscription.
const MethodSUB = "SUB"

// Interim status codes. Each is sent as a 1xx response on the SUB request's
// stream; the subscription ends with a final (2xx–5xx) response.
const (
	// StatusPUB carries one event in its Event and Event-Data fields.
	StatusPUB = 105
	// StatusNoOperation acknowledges a subscription as soon as it is
	// established (with metadata such as Cache-Control and Vary) and, sent
	// again later, keeps an idle subscription alive.
	StatusNoOperation = 106
)

// Field names of a PUB response.
const (
	FieldEvent     = "Event"
	FieldEventData = "Event-Data"
)

// Members of the Event dictionary.
const (
	memberID   = "id"   // sf-string
	memberType = "type" // sf-token (sf-string accepted)
	memberTime = "t"    // sf-integer: milliseconds since the Unix epoch
	memberRef  = "ref"  // sf-string: URL of the payload
	memberPrev = "prev" // sf-string: id of the stream's event before this one
	memberGap  = "gap"  // sf-string: a gap event's URL to resynchronize from
)

// ErrNoEventField reports a PUB response without an Event field.
var ErrNoEventField = errors.New("wire: PUB response has no Event field")

// PUBFields are the serialized field values of one PUB response.
type PUBFields struct {
	Event     string // the Event dictionary
	EventData string // the Event-Data item; empty when the event is by reference
}

// Set writes the fields into h, replacing whatever was there. It reuses
// the value slices a previous Set left, so that writing a batch of PUBs
// allocates nothing per event: callers must not let a header map that is
// still being written (an HTTP/2 interim response in flight) be Set again.
func (p PUBFields) Set(h http.Header) {
	setField(h, FieldEvent, p.Event)
	if p.EventData != "" {
		setField(h, FieldEventData, p.EventData)
	} else {
		delete(h, FieldEventData)
	}
}

func setField(h http.Header, name, value string) {
	if values := h[name]; len(values) == 1 {
		values[0] = value
		return
	}
	h[name] = []string{value}
}

// Clear removes the fields from h. net/http and quic-go leave the header map
// as it was after writing a 1xx response (RFC 8297), so a server clears the
// event fields after each PUB so that they leak into nothing else.
func (PUBFields) Clear(h http.Header) {
	delete(h, FieldEvent)
	delete(h, FieldEventData)
}

// Size is the number of bytes the two fields add to a response, before any
// header compression.
func (p PUBFields) Size() int {
	n := len(FieldEvent) + 2 + len(p.Event) + 2
	if p.EventData != "" {
		n += len(FieldEventData) + 2 + len(p.EventData) + 2
	}
	return n
}

// AppendHTTP1 appends the 105 (PUB) interim response carrying the fields as
// HTTP/1.1 sends it, status line to empty line, allocating nothing when dst
// has room.
func (p PUBFields) AppendHTTP1(dst []byte) []byte {
	dst = append(dst, "HTTP/1.1 105 PUB\r\n"...)
	dst = appendFieldLine(dst, FieldEvent, p.Event)
	if p.EventData != "" {
		dst = appendFieldLine(dst, FieldEventData, p.EventData)
	}
	return append(dst, "\r\n"...)
}

func appendFieldLine(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// EncodePUB serializes e as PUB fields.
//
// Event-Data carries the payload's bytes exactly, in one of three forms: an
// sf-string when the payload is printable ASCII (one extra byte per '"' or
// '\\'); for other UTF-8 text, an sf-displaystring
// (each byte outside printable ASCII, '%' and '"' as %xx) or, when that is
// longer, an sf-binary (base64, 4/3 the size); an sf-binary for anything
// else. No form rewrites the payload (as \u escapes would rewrite JSON), so
// a signed document keeps its signature.
func EncodePUB(e *Event) (PUBFields, error) {
	dict := httpsfv.NewDictionary()
	if e.ID != "" {
		if !validID(e.ID) {
			return PUBFields{}, fmt.Errorf("wire: event id %q is not printable ASCII without surrounding spaces", e.ID)
		}
		dict.Add(memberID, httpsfv.NewItem(e.ID))
	}
	if e.Prev != "" {
		if !validID(e.Prev) {
			return PUBFields{}, fmt.Errorf("wire: previous event id %q is not printable ASCII without surrounding spaces", e.Prev)
		}
		dict.Add(memberPrev, httpsfv.NewItem(e.Prev))
	}
	if e.Gap != "" {
		if !isPrintableASCII(e.Gap) {
			return PUBFields{}, fmt.Errorf("wire: gap URL %q is not printable ASCII", e.Gap)
		}
		dict.Add(memberGap, httpsfv.NewItem(e.Gap))
	}
	if e.Type != "" && e.Type != TypeDefault && e.Gap == "" {
		switch {
		case isToken(e.Type):
			dict.Add(memberType, httpsfv.NewItem(httpsfv.Token(e.Type)))
		case isPrintableASCII(e.Type):
			dict.Add(memberType, httpsfv.NewItem(e.Type))
		default:
			return PUBFields{}, fmt.Errorf("wire: event type %q is not printable ASCII", e.Type)
		}
	}
	if !e.Time.IsZero() {
		dict.Add(memberTime, httpsfv.NewItem(e.Time.UnixMilli()))
	}
	if e.Ref != "" {
		if !isPrintableASCII(e.Ref) {
			return PUBFields{}, fmt.Errorf("wire: event ref %q is not printable ASCII", e.Ref)
		}
		dict.Add(memberRef, httpsfv.NewItem(e.Ref))
	}
	if len(dict.Names()) == 0 {
		// An empty dictionary serializes to nothing, which is no field at
		// all: name the default type, which decoders read as no type.
		dict.Add(memberType, httpsfv.NewItem(httpsfv.Token(TypeDefault)))
	}
	var f PUBFields
	var err error
	if f.Event, err = httpsfv.Marshal(dict); err != nil {
		return PUBFields{}, fmt.Errorf("wire: encoding Event: %w", err)
	}
	if e.Ref == "" {
		f.EventData = EncodeEventData(e.Data)
	}
	return f, nil
}

// DecodePUB parses the Event and Event-Data fields of a PUB response.
// Unknown members of the Event dictionary are ignored, as RFC 9651 asks.
func DecodePUB(h http.Header) (Event, error) {
	var e Event
	eventLines := h[FieldEvent]
	if len(eventLines) == 0 {
		return e, ErrNoEventField
	}
	dict, err := httpsfv.UnmarshalDictionary(eventLines)
	if err != nil {
		return e, fmt.Errorf("wire: malformed Event field: %w", err)
	}
	if len(dict.Names()) == 0 {
		return e, ErrNoEventField // an empty field is no field (RFC 9651)
	}
	if e.ID, err = stringMember(dict, memberID); err != nil {
		return e, err
	}
	if e.Ref, err = stringMember(dict, memberRef); err != nil {
		return e, err
	}
	if e.Prev, err = stringMember(dict, memberPrev); err != nil {
		return e, err
	}
	if e.Gap, err = stringMember(dict, memberGap); err != nil {
		return e, err
	}
	if m, ok := dict.Get(memberType); ok {
		switch v := itemValue(m).(type) {
		case httpsfv.Token:
			e.Type = canonicalType(string(v))
		case string:
			e.Type = canonicalType(v)
		default:
			return e, fmt.Errorf("wire: Event member %q is not a token or string", memberType)
		}
	}
	if e.Gap != "" {
		e.Type = "" // a gap is marked by its member, not by a type
	}
	if m, ok := dict.Get(memberTime); ok {
		ms, ok := itemValue(m).(int64)
		if !ok {
			return e, fmt.Errorf("wire: Event member %q is not an integer", memberTime)
		}
		e.Time = time.UnixMilli(ms)
	}
	if dataLines := h[FieldEventData]; len(dataLines) > 0 {
		item, err := httpsfv.UnmarshalItem(dataLines)
		if err != nil {
			return e, fmt.Errorf("wire: malformed Event-Data field: %w", err)
		}
		switch v := item.Value.(type) {
		case string:
			e.Data = []byte(v)
		case httpsfv.DisplayString:
			e.Data = []byte(v)
		case []byte:
			e.Data = v
		default:
			return e, errors.New("wire: Event-Data is not a string, display string or byte sequence")
		}
	}
	return e, nil
}

// joinFieldLines combines the lines of a field as RFC 9110 §5.3 allows, so
// that a relayed field keeps the value it was parsed from.
func joinFieldLines(lines []string) string {
	if len(lines) == 1 {
		return lines[0]
	}
	return strings.Join(lines, ", ")
}

func stringMember(dict *httpsfv.Dictionary, name string) (string, error) {
	m, ok := dict.Get(name)
	if !ok {
		return "", nil
	}
	s, ok := itemValue(m).(string)
	if !ok {
		return "", fmt.Errorf("wire: Event member %q is not a string", name)
	}
	return s, nil
}

// itemValue is the bare value of a dictionary member, or nil for an inner list.
func itemValue(m httpsfv.Member) any {
	if item, ok := m.(httpsfv.Item); ok {
		return item.Value
	}
	return nil
}

// validID reports whether s can be an event id: printable ASCII, not
// empty, without a leading or trailing space, which would not survive as
// the value of Last-Event-ID.
func validID(s string) bool {
	return s != "" && isPrintableASCII(s) && s[0] != ' ' && s[len(s)-1] != ' '
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether s is an sf-token (RFC 9651 §3.3.4).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c == '*' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is a tchar, ':' or '/'.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

// RecommendedInlineLimit is the size, as HTTP/1.1 writes it, of the largest
// 105 (PUB) response the draft recommends carrying a payload inline in:
// 4 KiB, the smallest header buffer of common proxies (nginx's
// proxy_buffer_size is one page), so that no hop needs more than one buffer
// or, over HTTP/2, a CONTINUATION frame (the default frame size is 16 KiB).
// A larger event goes by reference.
const RecommendedInlineLimit = 4 << 10

// InlineSize is the size of the 105 (PUB) response that would carry e's
// payload inline, as HTTP/1.1 writes it, status line and empty line
// included; HPACK and QPACK write less. An event without a publication
// time is counted with one, which its server adds when it publishes it.
// A server compares it with its inline limit to choose between Event-Data
// and ref.
func InlineSize(e *Event) (int, error) {
	inline := *e
	inline.Ref = ""
	if inline.Time.IsZero() {
		inline.Time = time.UnixMilli(1e12) // as many digits as any t this century
	}
	f, err := EncodePUB(&inline)
	if err != nil {
		return 0, err
	}
	return len("HTTP/1.1 105 PUB\r\n") + f.Size() + len("\r\n"), nil
}
