package budget

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCutsLargestFirst charges holders past the budget and checks who is
// cut off, in which order, and what the account says after.
func TestCutsLargestFirst(t *testing.T) {
	tests := []struct {
		name    string
		limit   int64
		charges []int // one holder each, charged in this order
		cut     []int // the holders cut off, in order
		queued  int64
	}{
		{"under the budget", 100, []int{30, 30, 30}, nil, 90},
		{"the largest goes", 100, []int{10, 60, 20, 30}, []int{1}, 60},
		{"until it fits", 100, []int{50, 45, 40, 35}, []int{0, 1}, 75},
		{"the one charging may be the largest", 100, []int{10, 200}, []int{1}, 10},
		{"no limit: account only", 0, []int{500, 500}, nil, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.limit, 0)
			var order []int
			hs := make([]*Holder, len(tc.charges))
			for i := range hs {
				hs[i] = b.Hold(func() { order = append(order, i) })
			}
			for i, n := range tc.charges {
				hs[i].Charge(n)
			}
			if !equal(order, tc.cut) {
				t.Errorf("cut %v, want %v", order, tc.cut)
			}
			if got := b.Queued(); got != tc.queued {
				t.Errorf("queued %d, want %d", got, tc.queued)
			}
			if got := b.Cuts(); got != int64(len(tc.cut)) {
				t.Errorf("cuts %d, want %d", got, len(tc.cut))
			}
			var released int64
			for _, i := range tc.cut {
				released += int64(tc.charges[i])
			}
			if got := b.Releasing(); got != released {
				t.Errorf("releasing %d, want %d", got, released)
			}
			for _, h := range hs {
				h.Close()
			}
			if b.Queued() != 0 || b.Releasing() != 0 {
				t.Errorf("after every holder closed: queued %d, releasing %d", b.Queued(), b.Releasing())
			}
		})
	}
}

// TestCutHolderIsNotCutAgain: what a cut holder queues while it ends counts
// as being released, not against the budget, so that it does not make the
// budget cut a second peer for bytes the first is about to free.
func TestCutHolderIsNotCutAgain(t *testing.T) {
	b := New(100, 0)
	cuts := 0
	big := b.Hold(func() { cuts++ })
	small := b.Hold(func() { t.Error("the small holder was cut") })
	small.Charge(40)
	big.Charge(101)
	big.Charge(500) // still ending
	if cuts != 1 {
		t.Fatalf("cut %d times, want 1", cuts)
	}
	if b.Queued() != 40 || b.Releasing() != 601 {
		t.Fatalf("queued %d releasing %d, want 40 and 601", b.Queued(), b.Releasing())
	}
	big.Credit(600)
	big.Close()
	if b.Releasing() != 0 {
		t.Fatalf("releasing %d after the cut holder closed", b.Releasing())
	}
	small.Credit(40)
	if b.Queued() != 0 {
		t.Fatalf("queued %d after every credit", b.Queued())
	}
}

// TestCreditNeverBelowZero: crediting more than was charged (a holder that
// drops what it never charged) leaves the account whole.
func TestCreditNeverBelowZero(t *testing.T) {
	b := New(100, 0)
	h := b.Hold(func() {})
	h.Charge(10)
	h.Credit(50)
	if h.Queued() != 0 || b.Queued() != 0 {
		t.Fatalf("holder %d, budget %d, want 0", h.Queued(), b.Queued())
	}
}

// TestNilBudget: no budget costs nothing and does nothing.
func TestNilBudget(t *testing.T) {
	var b *Budget
	h := b.Hold(func() { t.Error("cut without a budget") })
	h.Charge(1 << 30)
	h.Credit(1)
	h.Close()
	if b.Queued() != 0 || b.Limit() != 0 || b.Cuts() != 0 || h.Queued() != 0 {
		t.Fatal("a nil budget accounted something")
	}
}

// TestConcurrentCharges: many holders charging and crediting at once keep
// the account exact (run with -race), and the total never stays past the
// budget by more than what charges in flight add.
func TestConcurrentCharges(t *testing.T) {
	const holders, rounds, chunk = 16, 2000, 64
	b := New(holders*chunk*4, 0)
	var cuts atomic.Int64
	var wg sync.WaitGroup
	for range holders {
		h := b.Hold(func() { cuts.Add(1) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer h.Close()
			for i := range rounds {
				h.Charge(chunk)
				if i%3 != 0 { // a third never written: the queue grows
					h.Credit(chunk)
				}
			}
		}()
	}
	wg.Wait()
	if b.Queued() != 0 || b.Releasing() != 0 {
		t.Fatalf("queued %d, releasing %d after every holder closed", b.Queued(), b.Releasing())
	}
	if cuts.Load() == 0 {
		t.Fatal("queues growing past the budget cut no one")
	}
	if cuts.Load() != b.Cuts() {
		t.Fatalf("%d cut callbacks, %d cuts counted", cuts.Load(), b.Cuts())
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOnlyHoldersWithoutProgressAreCut: past the budget, a holder credited
// within the grace (a peer that reads, between two writes) is passed over
// for a smaller one without progress; when every holder has moved within
// the grace, no one is cut until it has passed, and then the one that
// still has not moved is.
func TestOnlyHoldersWithoutProgressAreCut(t *testing.T) {
	const grace = time.Second
	b := New(100, grace)
	cut := make(chan string, 4)
	stalled := b.Hold(func() { cut <- "stalled" })
	busy := b.Hold(func() { cut <- "busy" })
	stalled.Charge(40)
	time.Sleep(2 * grace)
	busy.Charge(200)
	busy.Credit(10) // progress
	busy.Charge(10)
	if got := <-cut; got != "stalled" {
		t.Fatalf("cut %q first, want the one without progress", got)
	}
	// Only the busy one is left, past the budget, and it moved just now:
	// it is cut only once the grace has passed without progress.
	select {
	case got := <-cut:
		t.Fatalf("cut %q within the grace", got)
	case <-time.After(grace / 4):
	}
	select {
	case got := <-cut:
		if got != "busy" {
			t.Fatalf("cut %q, want busy", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a holder without progress past the grace was never cut")
	}
	stalled.Close()
	busy.Close()
}
