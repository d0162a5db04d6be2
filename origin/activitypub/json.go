package activitypub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"unicode/utf8"
)

// asContext is the JSON-LD context of every document the server writes.
const asContext = "https://www.w3.org/ns/activitystreams"

// doc is a JSON-LD document as decoded: numbers are json.Number, so that
// they are written back exactly as they were received.
type doc = map[string]any

// marshalJSON encodes v as compact JSON, with characters beyond ASCII as
// UTF-8. It is what an event carries: a PUB's Event-Data takes any bytes
// exactly (see wire.EncodePUB), so the payload a subscriber receives is
// byte for byte the one the server wrote.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("activitypub: encoding JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// marshalASCII encodes v as compact JSON in printable ASCII: every non-ASCII
// character, and DEL, is escaped as \uXXXX (a surrogate pair beyond the
// BMP). The server writes its documents (responses, the store) this way, so
// that they read the same whatever a client takes their charset for.
func marshalASCII(v any) ([]byte, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	// encoding/json escapes the other control characters and leaves DEL
	// and non-ASCII runes as they are (in UTF-8, invalid sequences
	// replaced); they can only occur inside strings, so escaping them in
	// place keeps the JSON valid.
	if !bytes.ContainsFunc(b, needsEscape) {
		return b, nil
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if !needsEscape(r) {
			out = append(out, b[0])
		} else if r <= 0xFFFF {
			out = appendUnicodeEscape(out, r)
		} else {
			r -= 0x10000
			out = appendUnicodeEscape(out, 0xD800+(r>>10))
			out = appendUnicodeEscape(out, 0xDC00+(r&0x3FF))
		}
		b = b[size:]
	}
	return out, nil
}

// needsEscape reports the runes encoding/json leaves unescaped that are
// not printable ASCII.
func needsEscape(r rune) bool {
	return r >= 0x7f
}

func appendUnicodeEscape(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// decodeDoc decodes a JSON object, rejecting anything after it.
func decodeDoc(data []byte) (doc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid JSON: data after the top-level value")
	}
	m, ok := v.(doc)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// idOf returns the id a property value refers to: the value itself if it is
// a string, its "id" if it is an object.
func idOf(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case doc:
		id, ok := v["id"].(string)
		return id, ok && id != ""
	}
	return "", false
}

// stringProp returns property key of d if it is a string.
func stringProp(d doc, key string) string {
	s, _ := d[key].(string)
	return s
}

// withContext returns a shallow copy of d with the Activity Streams context,
// as a top-level document is served.
func withContext(d doc) doc {
	out := maps.Clone(d)
	out["@context"] = asContext
	return out
}
