package load

import "time"

// Window is the measured part of a point, in the milliseconds of the events'
// publish times (the `t` member): events published in [StartMS, EndMS)
// count, those of the warm-up and the drain do not. The publisher makes sure
// that no publication straddles either bound (see Publisher), so every
// event is in or out of the window without ambiguity.
type Window struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

func (w Window) contains(ms int64) bool { return ms >= w.StartMS && ms < w.EndMS }

// Duration is the window's length.
func (w Window) Duration() time.Duration { return time.Duration(w.EndMS-w.StartMS) * time.Millisecond }

// WindowAt is the window that starts after warmup from now and lasts length,
// on millisecond bounds.
func WindowAt(now time.Time, warmup, length time.Duration) Window {
	start := now.Add(warmup).UnixMilli() + 1
	return Window{StartMS: start, EndMS: start + length.Milliseconds()}
}
