package origin

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/subpub/subpub/wire"
)

// MemoryLog is a Log held in memory, for applications whose events need not
// survive a restart, and for tests and benchmarks. It keeps at most
// MaxPerStream events per stream (zero: all of them).
type MemoryLog struct {
	MaxPerStream int

	mu      sync.Mutex
	seq     uint64
	streams map[string][]LogEvent
}

// Publish appends an event to stream key and publishes it to h, holding the
// log's lock across both so that concurrent publishers keep the order the
// Hub requires. The event gets the next sequence number, as its id unless it
// has one, and the current time unless it has one; it names the stream's
// event before it as its Prev.
func (l *MemoryLog) Publish(h *Hub, key string, e wire.Event) LogEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams == nil {
		l.streams = make(map[string][]LogEvent)
	}
	l.seq++
	if e.ID == "" {
		e.ID = strconv.FormatUint(l.seq, 10)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	events := l.streams[key]
	if n := len(events); n > 0 && e.Prev == "" {
		e.Prev = events[n-1].Event.ID
	}
	le := LogEvent{Seq: l.seq, Event: e}
	events = append(events, le)
	if l.MaxPerStream > 0 && len(events) > l.MaxPerStream {
		events = append(events[:0:0], events[len(events)-l.MaxPerStream:]...)
	}
	l.streams[key] = events
	if h != nil {
		h.Publish(key, le)
	}
	return le
}

// Head is the sequence number of the newest event of stream key, 0 if it
// has none: where a subscription that starts now starts, as the id the
// next event of the stream names as its prev.
func (l *MemoryLog) Head(key string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if events := l.streams[key]; len(events) > 0 {
		return events[len(events)-1].Seq
	}
	return 0
}

// Last is the sequence number of the newest event of any stream.
func (l *MemoryLog) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// ReadAfter implements Log.
func (l *MemoryLog) ReadAfter(_ context.Context, key string, after uint64, limit int) ([]LogEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	events := l.streams[key]
	i := sort.Search(len(events), func(i int) bool { return events[i].Seq > after })
	end := min(len(events), i+limit)
	return append([]LogEvent(nil), events[i:end]...), nil
}
