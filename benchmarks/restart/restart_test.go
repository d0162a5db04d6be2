package restart

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// TestReaderCountsMissingAndRepeatedIDs: the check the report's "ids
// missing" and "ids repeated" come from finds both, and finds nothing in a
// stream that follows its resumption point (the negative control).
func TestReaderCountsMissingAndRepeatedIDs(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		ids                     []string
		wantSkipped, wantRepeat int64
	}{
		{"consecutive", []string{"5", "6", "7"}, 0, 0},
		{"one missing, one repeated", []string{"5", "7", "7"}, 1, 1},
		{"older than the resumption point", []string{"3", "5"}, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sse strings.Builder
			for _, id := range tt.ids {
				sse.WriteString("id: " + id + "\ndata: {}\n\n")
			}
			r := &reader{lag: 2}
			r.scan(bufio.NewReader(strings.NewReader(sse.String())), 4)
			if got := r.skipped.Load(); got != tt.wantSkipped {
				t.Errorf("skipped %d, want %d", got, tt.wantSkipped)
			}
			if got := r.repeated.Load(); got != tt.wantRepeat {
				t.Errorf("repeated %d, want %d", got, tt.wantRepeat)
			}
		})
	}
}

// TestReaderResumesFromTheEventItProcessed: a reader resumes lag events
// before the last it received, and from the oldest it has when it has
// fewer.
func TestReaderResumesFromTheEventItProcessed(t *testing.T) {
	r := &reader{lag: 2}
	for id := range uint64(5) {
		var prev uint64
		r.event(10+id, false, &prev)
	}
	if got := r.processed(); got != "12" {
		t.Errorf("after 10..14 with a lag of 2: resumes from %s, want 12", got)
	}
	short := &reader{lag: 5}
	var prev uint64
	short.event(10, false, &prev)
	if got := short.processed(); got != "10" {
		t.Errorf("after one event with a lag of 5: resumes from %s, want 10", got)
	}
}

// TestRestartStormSmoke runs a small storm through both edges: every
// subscriber comes back and receives every event after the one it resumed
// from exactly once, and the report has both modes.
func TestRestartStormSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an origin and edges")
	}
	rep, err := Run(t.Context(), Config{Subscribers: 40, Spread: 5, Rate: 10, Settle: 200 * time.Millisecond, Rounds: 1, Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != len(Modes) {
		t.Fatalf("%d phases, want %d", len(rep.Phases), len(Modes))
	}
	for _, p := range rep.Phases {
		if p.Back != 40 || p.Skipped != 0 || p.Repeated != 0 || p.OriginSubscriptions < 1 {
			t.Errorf("%s: %d back, %d ids missing, %d repeated, %d origin subscriptions", p.Mode, p.Back, p.Skipped, p.Repeated, p.OriginSubscriptions)
		}
	}
	if !strings.Contains(rep.Table(), "separate / shared") {
		t.Errorf("the table has no ratio row:\n%s", rep.Table())
	}
}
