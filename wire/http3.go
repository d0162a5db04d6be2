package wire

import (
	"bytes"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go/quicvarint"
)

// HTTP/3 frame types (RFC 9114 §7.2).
const (
	http3FrameData    = 0x00
	http3FrameHeaders = 0x01
)

// AppendHTTP3Headers appends an HTTP/3 HEADERS frame carrying a response's
// status and fields (names in lower case, in sorted order), QPACK-encoded
// with the static table only. Without a dynamic table the encoding depends
// on nothing but the fields, so the HEADERS frame of an event is the same
// bytes on every stream of every connection: a server encodes it once and
// queues it for every subscriber.
func AppendHTTP3Headers(dst []byte, status int, h http.Header) []byte {
	var block bytes.Buffer
	enc := qpack.NewEncoder(&block)
	enc.WriteField(qpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		for _, v := range h[name] {
			enc.WriteField(qpack.HeaderField{Name: lower, Value: v})
		}
	}
	enc.Close()
	dst = quicvarint.Append(dst, http3FrameHeaders)
	dst = quicvarint.Append(dst, uint64(block.Len()))
	return append(dst, block.Bytes()...)
}

// AppendHTTP3 appends the 105 (PUB) interim response carrying the fields as
// an HTTP/3 HEADERS frame.
func (p PUBFields) AppendHTTP3(dst []byte) []byte {
	h := http.Header{FieldEvent: {p.Event}}
	if p.EventData != "" {
		h[FieldEventData] = []string{p.EventData}
	}
	return AppendHTTP3Headers(dst, StatusPUB, h)
}

// AppendHTTP3DataHeader appends the type and length of an HTTP/3 DATA frame
// whose payload, n bytes, follows.
func AppendHTTP3DataHeader(dst []byte, n int) []byte {
	dst = quicvarint.Append(dst, http3FrameData)
	return quicvarint.Append(dst, uint64(n))
}

// AppendHTTP3Data appends payload as one HTTP/3 DATA frame.
func AppendHTTP3Data(dst, payload []byte) []byte {
	return append(AppendHTTP3DataHeader(dst, len(payload)), payload...)
}
