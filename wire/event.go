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

// SSEEventGap is the event name that marks a gap event in
// text/event-stream, where an event has no member to say so: an
// EventSource application listens for it with addEventListener. In PUB a
// gap is marked by its own member ([Event.Gap]) and takes no type.
const SSEEventGap = "stream-gap"

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

	// Prev is the id of the event before this one in its stream, set by the
	// server that assigned the ids and relayed unchanged by intermediaries:
	// a recipient whose last event is not Prev has missed an event, or
	// received this one out of order. Empty for a stream's first event, or
	// from a server that does not say.
	Prev string

	// Gap, when set, makes the event a gap: the server could not deliver
	// the events after Prev up to and including ID (an unknown or expired
	// Last-Event-ID, say), and Gap is the URI-reference of a representation
	// to retrieve to resynchronize. A gap has no type and no payload.
	Gap string

	// Type names the kind of event, an sf-token such as an Activity Streams
	// activity type ("Add", "Update"). Empty means [TypeDefault]; decoders
	// never return TypeDefault itself.
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

// IsGap reports a gap event (see [Event.Gap]).
func (e *Event) IsGap() bool { return e.Gap != "" }

// Follows reports whether e may come right after the event last (its id,
// as the recipient's last event ID): when either is unknown (a fresh
// subscription, a server that sends no Prev) nothing can be told, and
// otherwise e must name last as its Prev.
func (e *Event) Follows(last string) bool {
	return e.Prev == "" || last == "" || e.Prev == last
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
	const overhead = 128 // struct, slice and string headers
	return overhead + len(e.ID) + len(e.Prev) + len(e.Gap) + len(e.Type) + len(e.Data) + len(e.Ref)
}
