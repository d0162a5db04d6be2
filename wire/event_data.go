package wire

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// EventDataForm is one of the Structured Field types Event-Data can carry a
// payload in, each of them byte for byte.
type EventDataForm int

const (
	// FormString is an sf-string: printable ASCII only, '"' and '\' escaped.
	FormString EventDataForm = iota
	// FormDisplayString is an sf-displaystring (RFC 9651 §3.3.8): UTF-8
	// text, each byte outside printable ASCII, and '%' and '"', as %xx.
	FormDisplayString
	// FormByteSequence is an sf-binary: any bytes, in base64.
	FormByteSequence
)

// EventDataForms names the forms, in the order of EventDataForm.
var EventDataForms = [...]string{"String", "Display String", "Byte Sequence"}

// EncodeEventData serializes a payload as the Event-Data item EncodePUB
// sends, in the form ChooseEventDataForm gives it.
func EncodeEventData(data []byte) string {
	v, _ := EncodeEventDataAs(data, ChooseEventDataForm(data))
	return v
}

// ChooseEventDataForm is the form EncodePUB gives a payload: a String when
// it is printable ASCII (as the draft asks, although a payload made mostly
// of '"' or '\\' would be shorter in base64), else the shorter of a
// Display String (if it is UTF-8) and a Byte Sequence, a Byte Sequence on
// a tie. The choice is made
// on the serialized length; header compression is not counted, since each
// hop compresses differently (the draft's payload table gives both).
func ChooseEventDataForm(data []byte) EventDataForm {
	if isPrintableASCII(string(data)) {
		return FormString
	}
	if utf8.Valid(data) && displayStringLen(data) < byteSequenceLen(data) {
		return FormDisplayString
	}
	return FormByteSequence
}

// EncodeEventDataAs serializes data in form; ok is false when the form
// cannot carry it (a String that is not printable ASCII, a Display String
// that is not UTF-8).
func EncodeEventDataAs(data []byte, form EventDataForm) (value string, ok bool) {
	var b strings.Builder
	switch form {
	case FormString:
		if !isPrintableASCII(string(data)) {
			return "", false
		}
		b.Grow(len(data) + 2 + len(data)/8)
		b.WriteByte('"')
		for _, c := range data {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	case FormDisplayString:
		if !utf8.Valid(data) {
			return "", false
		}
		const hex = "0123456789abcdef"
		b.Grow(displayStringLen(data))
		b.WriteString(`%"`)
		for _, c := range data {
			if displayStringEscapes(c) {
				b.WriteByte('%')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
				continue
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	case FormByteSequence:
		b.Grow(byteSequenceLen(data))
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(data))
		b.WriteByte(':')
	default:
		return "", false
	}
	return b.String(), true
}

// displayStringEscapes reports whether a Display String writes c as %xx
// (RFC 9651 §4.1.11).
func displayStringEscapes(c byte) bool {
	return c < 0x20 || c > 0x7e || c == '%' || c == '"'
}

func displayStringLen(data []byte) int {
	n := len(`%""`)
	for _, c := range data {
		if displayStringEscapes(c) {
			n += 3
		} else {
			n++
		}
	}
	return n
}

func byteSequenceLen(data []byte) int {
	return base64.StdEncoding.EncodedLen(len(data)) + 2
}
