package wire

import (
	"bytes"
	"strconv"
	"time"
)

// ContentTypeSSE is the media type of Server-Sent Events.
const ContentTypeSSE = "text/event-stream"

// SSE extension fields. The WHATWG event-stream parser ignores fields it does
// not know, so browsers are unaffected; subpub's parser reads them so that an
// event keeps its publish time and reference across SUB⇄SSE translation.
const (
	sseFieldTime = "t"    // milliseconds since the Unix epoch, as in PUB
	sseFieldRef  = "ref"  // URL of the payload, as in PUB
	sseFieldPrev = "prev" // id of the stream's event before this one, as in PUB
)

// AppendSSE appends e to dst as one text/event-stream frame:
//
//	id: 42
//	prev: 41
//	event: Update
//	t: 1763900000123
//	data: {"type":"Update",...}
//	<empty line>
//
// Each line of Data becomes a data line; CR and CRLF count as line breaks, as
// they do for every event-stream parser, so they arrive as LF. An event with
// empty Data still carries one empty data line so that it is dispatched. A
// gap is the event [SSEEventGap] whose data is its URL: an EventSource
// application has no other way to see it.
func AppendSSE(dst []byte, e *Event) []byte {
	if e.ID != "" {
		dst = appendSSEField(dst, "id", e.ID)
	}
	if e.Prev != "" {
		dst = appendSSEField(dst, sseFieldPrev, e.Prev)
	}
	data := e.Data
	switch {
	case e.Gap != "":
		dst = appendSSEField(dst, "event", SSEEventGap)
		data = []byte(e.Gap)
	case e.Type != "" && e.Type != TypeDefault:
		dst = appendSSEField(dst, "event", e.Type)
	}
	if !e.Time.IsZero() {
		dst = append(dst, sseFieldTime+": "...)
		dst = strconv.AppendInt(dst, e.Time.UnixMilli(), 10)
		dst = append(dst, '\n')
	}
	if e.Ref != "" {
		dst = appendSSEField(dst, sseFieldRef, e.Ref)
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			dst = append(dst, "data: "...)
			dst = append(dst, data...)
			dst = append(dst, '\n')
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// AppendSSERetry appends a retry field, which sets how long an EventSource
// waits before reconnecting.
func AppendSSERetry(dst []byte, d time.Duration) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	return append(dst, '\n', '\n')
}

// SSEKeepalive is a comment line: it keeps an idle stream alive and is
// ignored by every parser.
var SSEKeepalive = []byte(":\n")

// appendSSEField appends "name: value\n". Callers pass values without line
// breaks (ids and types are printable ASCII).
func appendSSEField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\n')
}
