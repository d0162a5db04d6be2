// Package budget keeps one account, for the whole process, of the bytes
// held for peers that read slower than they are written to: what an HTTP/2
// connection has queued for its writer, what an HTTP/1.1 or HTTP/3 write
// blocked on a slow peer holds. Each of those bounds itself (an HTTP/2
// connection's queue, a subscriber's lag), but a bound per peer is no bound
// for a process with fifty thousand of them: past the budget, the holder of
// the most is cut off, then the next, until the total is back under it.
//
// Only a holder that has made no progress (nothing of its credited) for a
// grace period is cut. A peer that reads at the rate it is written to holds
// a batch for the time of a write and is credited as each write ends; with
// thousands of them, the batches of one event may add up past the budget
// for a moment, and cutting the largest of those would cut a healthy peer
// for bytes about to be freed. The peers that stopped reading are the ones
// whose bytes stay.
package budget

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLimit is the budget origin and edge run with unless told
// otherwise (--max-queued-total): 256 MiB. Peers that read keep far less
// queued (a batch each for the time of a write: a few megabytes in all
// with twenty thousand subscribers at a hundred events a second), so it
// cuts only peers that stopped reading; and it is what 64 stalled HTTP/2
// connections hold at their own bound (4 MiB), where without it 200 of
// them held 800 MiB, a small server's whole memory.
const DefaultLimit = 256 << 20

// DefaultGrace is how long a holder must have made no progress (no credit,
// no flush of a long write: see Holder.Progressed) before it may be cut:
// one second, a thousand times what a write to a peer that reads takes.
// Longer lets stalled peers fill their own bounds first (a hundred of them
// filled 4 MiB queues in about a second), which the budget is there to
// prevent; the stall watchdog's 30 s is for a peer's own slowness.
const DefaultGrace = time.Second

// ErrOverBudget is the cause given to what a cut ends (the contexts of an
// HTTP/2 connection's requests), so that it can be told apart from a peer
// that left.
var ErrOverBudget = errors.New("cut off: the bytes queued for slow peers passed the process's budget")

// Budget is the account. The zero value is not usable: see New. A nil
// *Budget accounts nothing, and its holders are nil, whose methods do
// nothing.
type Budget struct {
	limit int64 // 0: account, never cut
	grace time.Duration

	queued    atomic.Int64 // charged to holders not cut
	releasing atomic.Int64 // charged to holders cut and not yet closed
	cuts      atomic.Int64

	mu      sync.Mutex // holders
	holders map[*Holder]struct{}
	// cutting is held by the one charge that cuts; the others go on.
	cutting sync.Mutex
	// recheck is armed while the total is past the budget and no holder
	// has been without progress for the grace yet: charges may have
	// stopped (the stalled peers' writers wait), so a timer looks again.
	recheck atomic.Bool
}

// New is a budget of limit bytes; 0 (or less) accounts without a limit, for
// the gauge alone. A holder may be cut once it has made no progress for
// grace (DefaultGrace, in a server); 0 cuts at once.
func New(limit int64, grace time.Duration) *Budget {
	return &Budget{limit: max(limit, 0), grace: max(grace, 0), holders: make(map[*Holder]struct{})}
}

// Limit is the budget in bytes; 0 if there is none.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Queued is the bytes charged to holders not cut off.
func (b *Budget) Queued() int64 {
	if b == nil {
		return 0
	}
	return b.queued.Load()
}

// Releasing is the bytes still charged to holders already cut off, which
// they free as they end.
func (b *Budget) Releasing() int64 {
	if b == nil {
		return 0
	}
	return b.releasing.Load()
}

// Cuts counts the holders cut off.
func (b *Budget) Cuts() int64 {
	if b == nil {
		return 0
	}
	return b.cuts.Load()
}

// Holder is one peer's share of the account: an HTTP/2 connection, an
// HTTP/1.1 or HTTP/3 subscription. Its methods are safe for concurrent use.
type Holder struct {
	b   *Budget
	cut func()

	mu     sync.Mutex
	n      int64 // charged and not credited
	isCut  bool  // n is in b.releasing, not b.queued
	closed bool
	size   atomic.Int64 // n while not cut, for choosing whom to cut
	// progress is when (UnixNano) the holder last had bytes credited, or
	// was charged with none outstanding.
	progress atomic.Int64
}

// Hold opens a holder. cut is called at most once, when the budget chooses
// it: it must make the holder's peer end and not wait for that (it may run
// on the goroutine of any holder's Charge, which may hold that holder's
// locks), and the peer's bytes are freed as it ends. Close the holder when
// the peer is done.
func (b *Budget) Hold(cut func()) *Holder {
	if b == nil {
		return nil
	}
	h := &Holder{b: b, cut: cut}
	b.mu.Lock()
	b.holders[h] = struct{}{}
	b.mu.Unlock()
	return h
}

// Charge counts n more bytes held for the peer; past the budget, holders
// are cut off, the largest first, until the total is back under it.
func (h *Holder) Charge(n int) {
	if h == nil || n <= 0 || !h.lockOpen() {
		return
	}
	b := h.b
	if h.n == 0 {
		h.progress.Store(time.Now().UnixNano())
	}
	over := h.account(int64(n)) > b.limit && b.limit > 0
	h.mu.Unlock()
	if over {
		b.enforce()
	}
}

// Credit counts n bytes of the peer's as freed (written, or dropped).
func (h *Holder) Credit(n int) {
	if h == nil || n <= 0 || !h.lockOpen() {
		return
	}
	defer h.mu.Unlock()
	h.account(-min(int64(n), h.n))
	h.progress.Store(time.Now().UnixNano())
}

// lockOpen locks h.mu and reports true if the holder is still open. For a
// closed holder it leaves h.mu unlocked and reports false: its charges and
// credits do nothing, and closing it again neither.
func (h *Holder) lockOpen() bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	return true
}

// account adds d (negative for a credit) to the holder's bytes and to the
// total they count in: the budget's queued bytes, or its releasing ones
// once the holder is cut. It returns the queued total after the change, 0
// for a holder cut. h.mu is held.
func (h *Holder) account(d int64) int64 {
	h.n += d
	if h.isCut {
		h.b.releasing.Add(d)
		return 0
	}
	h.size.Store(h.n)
	return h.b.queued.Add(d)
}

// Close credits what the holder still has charged and takes it out of the
// account; later charges and credits do nothing.
func (h *Holder) Close() {
	if h == nil || !h.lockOpen() {
		return
	}
	b := h.b
	h.closed = true
	h.account(-h.n)
	h.mu.Unlock()
	b.mu.Lock()
	delete(b.holders, h)
	b.mu.Unlock()
}

// Progressed records progress without a credit: part of what is charged
// reached the peer (a flush of a long write), so the holder is not stalled.
func (h *Holder) Progressed() {
	if h != nil {
		h.progress.Store(time.Now().UnixNano())
	}
}

// Queued is what the holder has charged and not credited.
func (h *Holder) Queued() int64 {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// enforce cuts the largest holders without progress off until the total
// is under the budget. One charge at a time does it; a charge that finds it being done
// leaves it to that one, which looks at the total again before it stops.
func (b *Budget) enforce() {
	for b.queued.Load() > b.limit {
		if !b.cutting.TryLock() {
			return
		}
		waiting := false
		for !waiting && b.queued.Load() > b.limit {
			if h := b.largest(time.Now()); h != nil {
				h.cutOff() // false if it was closed meanwhile: the next one
			} else {
				waiting = true
			}
		}
		b.cutting.Unlock()
		if waiting {
			// Past the budget, but every holder has moved within the
			// grace: look again once it has passed.
			if b.recheck.CompareAndSwap(false, true) {
				time.AfterFunc(max(b.grace, time.Millisecond), func() {
					b.recheck.Store(false)
					b.enforce()
				})
			}
			return
		}
	}
}

// largest is the holder not cut off with the most charged among those
// without progress for the grace, nil if none has any.
func (b *Budget) largest(now time.Time) *Holder {
	stale := now.Add(-b.grace).UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	var top *Holder
	var most int64
	for h := range b.holders {
		if n := h.size.Load(); n > most && (b.grace == 0 || h.progress.Load() <= stale) {
			top, most = h, n
		}
	}
	return top
}

// cutOff moves the holder's bytes from what counts against the budget to
// what is being released, and tells its peer to end. It reports false if
// the holder had been cut or closed meanwhile.
func (h *Holder) cutOff() bool {
	b := h.b
	h.mu.Lock()
	if h.isCut || h.closed {
		h.mu.Unlock()
		return false
	}
	h.isCut = true
	h.size.Store(0)
	b.queued.Add(-h.n)
	b.releasing.Add(h.n)
	h.mu.Unlock()
	b.cuts.Add(1)
	h.cut()
	return true
}
