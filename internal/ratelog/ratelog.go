// Package ratelog bounds how fast lines a client can provoke reach the log:
// a client that resets twenty thousand streams must not write twenty
// thousand lines. Handler passes the first few records of a kind in each
// interval and drops the rest, and the next one it passes says how many it
// dropped; what a client does is counted in metrics, not in lines.
package ratelog

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Defaults of a Handler: at most DefaultBurst records of a kind per
// DefaultInterval.
const (
	DefaultInterval = time.Second
	DefaultBurst    = 5
)

// maxKinds bounds the kinds a Handler tracks; past it, it starts afresh.
const maxKinds = 4096

// Handler passes at most burst records of each kind (level and message,
// digits aside, so that addresses and ids in a message do not make each
// line a kind of its own) per interval to its inner handler. The first
// record it passes after dropping some carries their number as
// "suppressed".
type Handler struct {
	inner slog.Handler
	l     *limiter
}

type limiter struct {
	interval time.Duration
	burst    int
	mu       sync.Mutex
	kinds    map[string]*window
}

// window counts one kind's records in the current interval.
type window struct {
	start      time.Time
	passed     int
	suppressed int
}

// New wraps h; zero interval and burst mean the defaults.
func New(h slog.Handler, interval time.Duration, burst int) *Handler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	return &Handler{inner: h, l: &limiter{interval: interval, burst: burst, kinds: make(map[string]*window)}}
}

// Logger is l with its handler wrapped by New with the defaults.
func Logger(l *slog.Logger) *slog.Logger { return slog.New(New(l.Handler(), 0, 0)) }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	pass, suppressed := h.l.admit(r.Level, r.Message, r.Time)
	if !pass {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler: the derived handler shares the limits.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), l: h.l}
}

// WithGroup implements slog.Handler: the derived handler shares the limits.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), l: h.l}
}

// admit tells whether a record may pass and, if so, how many of its kind
// were dropped since the last that passed.
func (l *limiter) admit(level slog.Level, msg string, t time.Time) (bool, int) {
	if t.IsZero() {
		t = time.Now()
	}
	key := kind(level, msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.kinds[key]
	if w == nil {
		if len(l.kinds) >= maxKinds {
			clear(l.kinds)
		}
		w = &window{start: t}
		l.kinds[key] = w
	}
	if t.Sub(w.start) >= l.interval {
		w.start, w.passed = t, 0
	}
	if w.passed >= l.burst {
		w.suppressed++
		return false, 0
	}
	w.passed++
	suppressed := w.suppressed
	w.suppressed = 0
	return true, suppressed
}

// kind is a record's level and the first 64 bytes of its message without
// digits.
func kind(level slog.Level, msg string) string {
	var b strings.Builder
	b.WriteString(level.String())
	b.WriteByte(' ')
	for i := 0; i < len(msg) && b.Len() < 72; i++ {
		if c := msg[i]; c < '0' || c > '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
