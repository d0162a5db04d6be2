package stream

import (
	"net/http"

	"github.com/subpub/subpub/wire"
)

// A Feed is one subscriber's sequence of events: those after the position it
// was opened at, then live ones. The Streamer reads it from one goroutine.
type Feed interface {
	// Next appends ready frames to buf, at most cap(buf)-len(buf) of them.
	// When none is ready it returns a channel that is closed when some may
	// be. It returns an error when the feed cannot continue: wire.ErrStreamEnded,
	// ErrLagged, or a failure of the feed's source.
	Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error)

	// Close releases the feed. The Streamer calls it exactly once.
	Close()
}

// A PositionedFeed knows the id of the last event before its first one.
// The Streamer tells it to the client when the subscription starts, so
// that a client that loses the subscription before its first event can
// still resume from where it began.
type PositionedFeed interface {
	Feed
	// Position is that id, or "" when there is none (an empty stream).
	Position() string
}

// Subscription is what an application hands the Streamer to serve: a feed
// and the metadata the first 106 (or the SSE response) carries.
type Subscription struct {
	Feed Feed

	// Shareable tells intermediaries they may serve this stream to other
	// clients (Subscription-Sharing: shared) rather than to these
	// credentials alone (Subscription-Sharing: per-credential). A stream
	// that is not shareable is private: its PUBs are never indexed in
	// HPACK (see h2Fields).
	Shareable bool

	// Vary names the request fields, besides the target URI, that select
	// the stream, as the Vary response field does for GET.
	Vary []string

	// crossOrigin is what a CORS middleware put in the response header
	// before Serve (see crossOriginFields).
	crossOrigin http.Header
	// acknowledgement marks the first 106 as this hop's acknowledgement
	// (see acknowledgementFields).
	acknowledgement http.Header
}

// TopicFeed reads a Topic through a cursor, optionally preceded by frames
// already known (a replay or a gap signal).
type TopicFeed struct {
	Cursor  *Cursor
	Pending []*wire.Frame // served before the cursor
	OnClose func()
	// Start is the id of the last event before the feed's first, if known.
	Start string
}

// Position implements PositionedFeed.
func (f *TopicFeed) Position() string { return f.Start }

// Next implements Feed.
func (f *TopicFeed) Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error) {
	if len(f.Pending) > 0 {
		n := min(len(f.Pending), cap(buf)-len(buf))
		buf = append(buf, f.Pending[:n]...)
		f.Pending = f.Pending[n:]
		return buf, nil, nil
	}
	buf, _, wait, err := f.Cursor.Frames(buf, 0)
	return buf, wait, err
}

// Close implements Feed.
func (f *TopicFeed) Close() {
	if f.OnClose != nil {
		f.OnClose()
	}
}

// LiveCursor implements LiveFeed.
func (f *TopicFeed) LiveCursor() *Cursor {
	if len(f.Pending) > 0 {
		return nil
	}
	return f.Cursor
}
