// Package wire is subpub's wire format, written once and shared by the
// origin, the edge and the client: an [Event] and its two encodings,
//
//   - a 105 (PUB) interim response, whose Event and Event-Data header fields
//     are Structured Fields (RFC 9651), and
//   - a text/event-stream (Server-Sent Events) frame.
//
// A [Frame] holds one event together with its encodings, each computed at most
// once, so that a server fanning an event out to many subscribers pays for the
// encoding once per format rather than once per subscriber.
package wire

import (
	"time"
)

// TypeGap is the type of the event a server sends instead of the events a
// subscriber asked for when it cannot replay them (an unknown or expired
// Last-Event-ID). Its data is the URL of a representation to refetch; its id
// is the position from which the stream continues. A gap is never silent.
const TypeGap = "gap"

// TypeDefault is the type of an event that names none, as in Server-Sent
// Events. [Event.Type] holds it as the empty string: both decoders read an
// absent type and an explicit "message" alike as "", and both encoders leave
// it out, so that an event has one representation whichever way it arrived.
const TypeDefault = "message"

// Event is one published event.
type Event struct {
	// ID identifies the event within its stream. Ids are opaque to clients;
	// a client resumes by sending the last one it saw as Last-Event-ID.
	// It is printable ASCII (an sf-string) so that it fits both encodings.
	ID string

	// Type names the kind of event, an sf-token such as an Activity Streams
	// activity type ("Add", "Update") or [TypeGap]. Empty means
	// [TypeDefault]; decoders never return TypeDefault itself.
	Type string

	// Data is the payload. It is empty when Ref is set and the payload was
	// too large to carry inline.
	Data []byte

	// Time is when the event was published, with millisecond precision, so
	// that every subscriber can measure end-to-end latency. Zero if unknown.
	Time time.Time

	// Ref is the URL of a representation holding the payload, set instead of
	// Data when the payload is too large for a header field. Intermediaries
	// fetch it with GET, which they cache, so N subscribers cost one fetch.
	Ref string
}

// TypeName is the event's type as a recipient sees it: [TypeDefault] when
// it names none.
func (e *Event) TypeName() string {
	if e.Type == "" {
		return TypeDefault
	}
	return e.Type
}

// canonicalType is the form [Event.Type] takes for a type read from the
// wire: the default type is the empty string.
func canonicalType(t string) string {
	if t == TypeDefault {
		return ""
	}
	return t
}

// Size estimates the memory an event occupies, for byte-bounded queues.
func (e *Event) Size() int {
	const overhead = 96 // struct, slice and string headers
	return overhead + len(e.ID) + len(e.Type) + len(e.Data) + len(e.Ref)
}
