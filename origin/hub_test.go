package origin

import (
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// testHub is a Hub replaying from a MemoryLog, which its test writes to.
type testHub struct {
	*Hub
	log *MemoryLog
}

// newTestHub is h replaying from a new MemoryLog.
func newTestHub(h *Hub) testHub {
	log := &MemoryLog{}
	h.Log = log
	return testHub{Hub: h, log: log}
}

// logEvent appends an event to stream key of the log and publishes it.
func (h testHub) logEvent(key string) LogEvent {
	return h.log.Publish(h.Hub, key, wire.Event{Type: "Add", Data: []byte("{}")})
}

func drain(t *testing.T, f stream.Feed, want int) []string {
	t.Helper()
	var ids []string
	deadline := time.After(5 * time.Second)
	buf := make([]*wire.Frame, 0, 7)
	for len(ids) < want {
		frames, wait, err := f.Next(buf[:0])
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		for _, fr := range frames {
			ids = append(ids, fr.ID)
		}
		if len(frames) == 0 {
			select {
			case <-wait:
			case <-deadline:
				t.Fatalf("timed out after %v", ids)
			}
		}
	}
	return ids
}

func assertIDs(t *testing.T, got []string, from, to int) {
	t.Helper()
	if len(got) != to-from+1 {
		t.Fatalf("got %d ids %v, want %d..%d", len(got), got, from, to)
	}
	for i, id := range got {
		if id != strconv.Itoa(from+i) {
			t.Fatalf("got %v, want %d..%d", got, from, to)
		}
	}
}

func TestHub(t *testing.T) {
	t.Run("a subscriber replays the log, then follows live events without gap or duplicate", func(t *testing.T) {
		h := newTestHub(&Hub{ReplayPage: 4})
		for range 10 {
			h.logEvent("s")
		}
		f := h.Subscribe(t.Context(), "s", 3, nil)
		defer f.Close()
		// Events published after subscribing but before the replay reaches
		// them are both in the log and in the ring.
		for range 5 {
			h.logEvent("s")
		}
		assertIDs(t, drain(t, f, 12), 4, 15)
		h.logEvent("s")
		assertIDs(t, drain(t, f, 1), 16, 16)
	})
	t.Run("an event committed before subscribing but published after is delivered once", func(t *testing.T) {
		h := newTestHub(&Hub{})
		e := h.log.Publish(nil, "s", wire.Event{})
		f := h.Subscribe(t.Context(), "s", 0, nil)
		defer f.Close()
		h.Publish("s", e)
		h.logEvent("s")
		assertIDs(t, drain(t, f, 2), 1, 2)
	})
	t.Run("a subscriber that lags behind the ring continues from the log", func(t *testing.T) {
		h := newTestHub(&Hub{RingEvents: 4})
		f := h.Subscribe(t.Context(), "s", 0, nil)
		defer f.Close()
		for range 20 {
			h.logEvent("s")
		}
		assertIDs(t, drain(t, f, 20), 1, 20)
	})
	t.Run("a first frame is served before the replay", func(t *testing.T) {
		h := newTestHub(&Hub{})
		h.logEvent("s")
		gap := wire.NewFrame(wire.Event{ID: "0", Gap: "/s"})
		f := h.Subscribe(t.Context(), "s", 0, gap)
		defer f.Close()
		got := drain(t, f, 2)
		if got[0] != "0" || got[1] != "1" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("streams are independent and topics go away with their last subscriber", func(t *testing.T) {
		h := newTestHub(&Hub{})
		a := h.Subscribe(t.Context(), "a", 0, nil)
		b := h.Subscribe(t.Context(), "b", 0, nil)
		h.logEvent("a")
		h.logEvent("b")
		if got := drain(t, a, 1); got[0] != "1" {
			t.Errorf("a got %v", got)
		}
		if got := drain(t, b, 1); got[0] != "2" {
			t.Errorf("b got %v", got)
		}
		a.Close()
		b.Close()
		if n := h.Subscribers("a") + h.Subscribers("b"); n != 0 {
			t.Errorf("%d subscribers left", n)
		}
	})
	for _, tc := range []struct {
		name string
		wake bool // Wake replaces the topic before the event and End
	}{
		{"End delivers what is left, then wire.ErrStreamEnded", false},
		{"End after Wake ends the subscribers of the replaced topic", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(&Hub{})
			f := h.Subscribe(t.Context(), "s", 0, nil)
			defer f.Close()
			if tc.wake {
				h.Wake("s")
			}
			h.logEvent("s")
			h.End("s")
			drain(t, f, 1)
			if _, _, err := f.Next(make([]*wire.Frame, 0, 4)); err != wire.ErrStreamEnded {
				t.Errorf("err = %v, want wire.ErrStreamEnded", err)
			}
		})
	}
	t.Run("Wake wakes a waiting subscriber, which carries on without gap or duplicate", func(t *testing.T) {
		h := newTestHub(&Hub{})
		f := h.Subscribe(t.Context(), "s", 0, nil)
		g := h.Subscribe(t.Context(), "s", 0, nil)
		h.logEvent("s")
		drain(t, f, 1)
		_, wait, err := f.Next(make([]*wire.Frame, 0, 4))
		if err != nil || wait == nil {
			t.Fatalf("an idle feed: wait %v, err %v", wait, err)
		}
		h.Wake("s")
		select {
		case <-wait:
		case <-time.After(5 * time.Second):
			t.Fatal("Wake did not wake the waiting subscriber")
		}
		h.logEvent("s")
		h.Wake("s") // again, with an event unread
		h.logEvent("s")
		assertIDs(t, drain(t, f, 2), 2, 3)
		assertIDs(t, drain(t, g, 3), 1, 3)
		if n := h.Subscribers("s"); n != 2 {
			t.Errorf("%d subscribers after Wake, want 2", n)
		}
		f.Close()
		g.Close()
		if n := h.Subscribers("s"); n != 0 {
			t.Errorf("%d subscribers left", n)
		}
		h.End("s")
		if h.topics["s"] != nil {
			t.Error("the topic outlived its subscribers")
		}
	})
}
