package relay

import (
	"net/url"
	"time"

	"github.com/subpub/subpub/wire"
)

// An event sent by reference names the URL of its payload, which the relay
// fetches once (Relay.Resolve, through a cache) for every subscriber, and
// which SUB subscribers may fetch again through the relay. A ref naming
// another origin would have the relay, and each of its subscribers at the
// same moment, send requests wherever the publisher chose: the relay
// relays only refs on the origin of their stream. In place of an event
// with any other ref, its subscribers get a gap event standing for that
// event alone (its prev and id), naming the stream to resynchronize from,
// so that what they miss is said, not skipped; the relay counts it
// (Metrics.RefRefused) and logs it.

// SameOrigin reports whether ref, resolved against the stream's URI, has
// the stream's scheme and authority (RFC 6454 §4, with the authority as
// written).
func SameOrigin(streamURI, ref string) bool {
	base, err := url.Parse(streamURI)
	if err != nil {
		return false
	}
	u, err := base.Parse(ref)
	return err == nil && u.Scheme == base.Scheme && u.Host == base.Host
}

// refusingForeignRef is f, or, if f's ref names another origin than its
// stream's, the gap event that takes its place.
func (u *Upstream) refusingForeignRef(f *wire.Frame) *wire.Frame {
	if f.Ref == "" || SameOrigin(u.uri, f.Ref) {
		return f
	}
	r := u.relay
	r.metrics().RefRefused()
	r.eventLog.Warn("an event's ref names another origin than its stream's; relaying a gap instead", "ref", f.Ref, "id", f.ID)
	resync := "/"
	if su, err := url.Parse(u.uri); err == nil && su.Path != "" {
		resync = (&url.URL{Path: su.Path, RawQuery: su.RawQuery}).String()
	}
	when := f.Time
	if when.IsZero() {
		when = time.Now()
	}
	return wire.NewFrame(wire.Event{ID: f.ID, Prev: f.Prev, Gap: resync, Time: when.Truncate(time.Millisecond)})
}
