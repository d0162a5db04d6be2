package chaos

import "testing"

// TestCheckerReportsEachDefect feeds the checker sequences with a lost, a
// duplicated, a reordered and an unexpected event (its negative controls),
// and with gap events, which stand for what they cover and nothing more.
func TestCheckerReportsEachDefect(t *testing.T) {
	expected := []uint64{3, 5, 8, 9, 12}
	ev := func(ids ...uint64) []Received {
		var rs []Received
		for _, id := range ids {
			rs = append(rs, Received{ID: id})
		}
		return rs
	}
	gap := func(id uint64) Received { return Received{ID: id, Gap: true} }
	for _, tt := range []struct {
		name     string
		received []Received
		want     Verdict
		ok       bool
	}{
		{"every event once, in order", ev(3, 5, 8, 9, 12), Verdict{Delivered: 5}, true},
		{"one lost", ev(3, 5, 9, 12), Verdict{Delivered: 4, Lost: 1}, false},
		{"the last lost", ev(3, 5, 8, 9), Verdict{Delivered: 4, Lost: 1}, false},
		{"one duplicated", ev(3, 5, 5, 8, 9, 12), Verdict{Delivered: 5, Duplicated: 1}, false},
		{"a replay from the start", ev(3, 5, 8, 3, 5, 8, 9, 12), Verdict{Delivered: 5, Duplicated: 3}, false},
		{"two swapped", ev(3, 8, 5, 9, 12), Verdict{Delivered: 5, Reordered: 1}, false},
		{"one from another stream", ev(3, 4, 5, 8, 9, 12), Verdict{Delivered: 5, Unexpected: 1}, false},
		{"nothing", nil, Verdict{Lost: 5}, false},
		{"a gap standing for what was missed", append(append(ev(3), gap(9)), ev(12)...), Verdict{Delivered: 2, Gaps: 1, GapCovered: 3}, true},
		{"a gap whose id is not an event of the stream", append(append(ev(3, 5), gap(10)), ev(12)...), Verdict{Delivered: 3, Gaps: 1, GapCovered: 2}, true},
		{"a gap that covers less than was missed", append(append(ev(3), gap(5)), ev(12)...), Verdict{Delivered: 2, Gaps: 1, GapCovered: 1, Lost: 2}, false},
		{"an event the gap stood for arriving after it", append(append(ev(3), gap(8)), ev(5, 9, 12)...), Verdict{Delivered: 4, Gaps: 1, GapCovered: 1, Reordered: 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(expected, tt.received)
			tt.want.Expected = len(expected)
			first := got.First
			got.First = ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", got.OK(), tt.ok)
			}
			if !tt.ok && first == "" {
				t.Errorf("a failed verdict says nothing of its first problem")
			}
		})
	}
}
