package stream

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/subpub/subpub/wire"
)

func frame(seq int) *wire.Frame {
	return wire.NewFrame(wire.Event{ID: strconv.Itoa(seq), Type: "Add", Data: []byte("{}")})
}

// seqOf is the sequence number a test frame carries as its id.
func seqOf(t *testing.T, f *wire.Frame) uint64 {
	seq, err := strconv.ParseUint(f.ID, 10, 64)
	if err != nil {
		t.Fatalf("frame id %q", f.ID)
	}
	return seq
}

// publishFrames publishes the frames of sequence numbers first to last.
func publishFrames(top *Topic, first, last int) {
	for i := first; i <= last; i++ {
		top.Publish(frame(i), uint64(i))
	}
}

func readAll(t *testing.T, c *Cursor) ([]uint64, error) {
	t.Helper()
	var seqs []uint64
	for {
		frames, _, wait, err := c.Frames(make([]*wire.Frame, 0, 3), 0)
		for _, f := range frames {
			seqs = append(seqs, seqOf(t, f))
		}
		if err != nil || (wait != nil && len(frames) == 0) {
			return seqs, err
		}
	}
}

// readLagged reads c and fails the test unless the reading ends with
// ErrLagged.
func readLagged(t *testing.T, c *Cursor) {
	t.Helper()
	if _, err := readAll(t, c); !errors.Is(err, ErrLagged) {
		t.Errorf("err = %v, want ErrLagged", err)
	}
}

func TestTopic(t *testing.T) {
	t.Run("a cursor from the head reads only later frames, in order, in batches", func(t *testing.T) {
		top := NewTopic(16, 0)
		top.Publish(frame(1), 1)
		c := top.Head()
		publishFrames(top, 2, 8)
		got, err := readAll(t, c)
		if err != nil || len(got) != 7 || got[0] != 2 || got[6] != 8 {
			t.Errorf("read %v, %v", got, err)
		}
	})
	t.Run("a cursor whose frames left the ring lags", func(t *testing.T) {
		top := NewTopic(4, 0)
		c := top.Head()
		publishFrames(top, 1, 5)
		readLagged(t, c)
	})
	t.Run("the ring is bounded in bytes", func(t *testing.T) {
		size := frame(10).Size() // the largest of the ten
		top := NewTopic(100, 3*size)
		publishFrames(top, 1, 10)
		if top.held() != 3 {
			t.Errorf("held %d frames, want 3", top.held())
		}
	})
	t.Run("a cursor past its own lag bound lags before the ring evicts", func(t *testing.T) {
		top := NewTopic(100, 0)
		c := top.Head()
		c.SetMaxLag(uint64(2 * frame(1).Size()))
		publishFrames(top, 1, 4)
		readLagged(t, c)
	})
	t.Run("a cursor resuming from far back may catch up, and lags only if it falls further behind", func(t *testing.T) {
		top := NewTopic(100, 0)
		publishFrames(top, 1, 10)
		c, _ := top.After("1") // nine frames behind
		c.SetMaxLag(uint64(2 * frame(10).Size()))
		if got, err := readAll(t, c); err != nil || len(got) != 9 {
			t.Errorf("read %v, %v; want the nine frames", got, err)
		}
		c2, _ := top.After("1")
		c2.SetMaxLag(uint64(2 * frame(10).Size()))
		publishFrames(top, 11, 14)
		readLagged(t, c2) // four frames further behind
	})
	t.Run("After finds a held id and not an evicted one", func(t *testing.T) {
		top := NewTopic(3, 0)
		publishFrames(top, 1, 5)
		if _, ok := top.After("2"); ok {
			t.Error("found evicted id 2")
		}
		c, ok := top.After("3")
		if !ok {
			t.Fatal("did not find id 3")
		}
		if got, _ := readAll(t, c); len(got) != 2 || got[0] != 4 {
			t.Errorf("after 3 read %v", got)
		}
	})
	t.Run("close lets subscribers drain, then reports the error", func(t *testing.T) {
		top := NewTopic(8, 0)
		c := top.Head()
		top.Publish(frame(1), 1)
		top.Close(wire.ErrStreamEnded)
		top.Publish(frame(2), 2) // ignored
		got, err := readAll(t, c)
		if len(got) != 1 || !errors.Is(err, wire.ErrStreamEnded) {
			t.Errorf("read %v, %v", got, err)
		}
	})
}

// TestTopicConcurrentSubscribers publishes while many cursors read; run with
// -race.
func TestTopicConcurrentSubscribers(t *testing.T) {
	const events, readers = 2000, 8
	top := NewTopic(events, 0)
	var wg sync.WaitGroup
	for range readers {
		c := top.Head()
		wg.Go(func() {
			var last uint64
			buf := make([]*wire.Frame, 0, 64)
			for last < events {
				frames, _, wait, err := c.Frames(buf[:0], 0)
				if err != nil {
					t.Error(err)
					return
				}
				for _, f := range frames {
					if seq := seqOf(t, f); seq != last+1 {
						t.Errorf("read %d after %d", seq, last)
						return
					} else {
						last = seq
					}
				}
				if wait != nil {
					<-wait
				}
			}
		})
	}
	publishFrames(top, 1, events)
	wg.Wait()
}
