package stream

import (
	"testing"

	"github.com/subpub/subpub/wire"
)

// TestWritersEncodeAnEventOnceForEverySubscriber checks that the HTTP/3
// HEADERS frame and the HTTP/2 fields of a PUB are made once per event and
// then shared, which is what makes a subscriber cheap.
func TestWritersEncodeAnEventOnceForEverySubscriber(t *testing.T) {
	f := wire.NewFrame(wire.Event{ID: "1", Type: "Add", Data: []byte("{}")})
	if a, b := http3PUB(f), http3PUB(f); &a[0] != &b[0] {
		t.Error("the HTTP/3 PUB was encoded twice")
	}
	if h2Fields(f, false) != h2Fields(f, false) || h2Fields(f, true) != h2Fields(f, true) || h2Fields(f, false) == h2Fields(f, true) {
		t.Error("the HTTP/2 fields were prepared twice")
	}
}
