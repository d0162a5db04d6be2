package chaos

import (
	"fmt"
	"sort"
)

// Received is one event as a subscriber received it: its id, and whether
// it was a gap event (the server could not replay; the id is where the
// stream continues). The origin's event ids are its log's sequence numbers,
// increasing within a stream, which is what lets a gap's id be placed among
// the events it stands for.
type Received struct {
	ID  uint64
	Gap bool
}

// Verdict is what the checker found in one subscriber's events, measured
// against the events the origin's log holds for the stream.
type Verdict struct {
	// Expected counts the events of the log the subscriber should have
	// received; Delivered those it received (once at least).
	Expected  int `json:"expected"`
	Delivered int `json:"delivered"`
	// Lost are expected events neither received nor covered by a gap.
	Lost int `json:"lost"`
	// Duplicated counts receptions of an event already received.
	Duplicated int `json:"duplicated"`
	// Reordered counts events received after an event that follows them
	// in the log.
	Reordered int `json:"reordered"`
	// Unexpected counts events that are not in the log's list (another
	// stream's, or from before the subscriber began).
	Unexpected int `json:"unexpected"`
	// Gaps counts gap events; GapCovered the expected events they stand
	// for, which were not received.
	Gaps       int `json:"gaps"`
	GapCovered int `json:"gap_covered"`
	// First describes the first problem, for the report.
	First string `json:"first,omitempty"`
}

// OK reports every expected event received exactly once and in order, or
// stood for by an explicit gap, and nothing else received.
func (v Verdict) OK() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Reordered == 0 && v.Unexpected == 0
}

// note keeps the first problem's description.
func (v *Verdict) note(format string, args ...any) {
	if v.First == "" {
		v.First = fmt.Sprintf(format, args...)
	}
}

// Check compares what a subscriber received with the events it should
// have received, expected, in the log's (increasing) order.
func Check(expected []uint64, received []Received) Verdict {
	v := Verdict{Expected: len(expected)}
	position := make(map[uint64]int, len(expected))
	for i, id := range expected {
		position[id] = i
	}
	const (
		missing = iota
		seen
		covered
	)
	state := make([]uint8, len(expected))
	furthest := -1 // the furthest position received or covered so far
	for i, r := range received {
		if r.Gap {
			v.Gaps++
			// Everything up to the gap's id that has not come is stood
			// for by the gap: the stream continues after it.
			end := sort.Search(len(expected), func(j int) bool { return expected[j] > r.ID })
			for j := furthest + 1; j < end; j++ {
				if state[j] == missing {
					state[j] = covered
					v.GapCovered++
				}
			}
			furthest = max(furthest, end-1)
			continue
		}
		p, ok := position[r.ID]
		switch {
		case !ok:
			v.Unexpected++
			v.note("event %d (reception %d) is not one of the stream's expected events", r.ID, i+1)
		case state[p] == seen:
			v.Duplicated++
			v.note("event %d received again (reception %d)", r.ID, i+1)
		case p < furthest:
			v.Reordered++
			v.note("event %d received after event %d, which follows it", r.ID, expected[furthest])
			if state[p] == covered {
				v.GapCovered--
			}
			state[p] = seen
			v.Delivered++
		default:
			state[p] = seen
			v.Delivered++
			furthest = p
		}
	}
	for p, s := range state {
		if s == missing {
			v.Lost++
			v.note("event %d never received", expected[p])
		}
	}
	return v
}

// Add sums verdicts, keeping the first problem of the first that has one.
func (v Verdict) Add(o Verdict) Verdict {
	first := v.First
	if first == "" {
		first = o.First
	}
	return Verdict{
		Expected: v.Expected + o.Expected, Delivered: v.Delivered + o.Delivered,
		Lost: v.Lost + o.Lost, Duplicated: v.Duplicated + o.Duplicated,
		Reordered: v.Reordered + o.Reordered, Unexpected: v.Unexpected + o.Unexpected,
		Gaps: v.Gaps + o.Gaps, GapCovered: v.GapCovered + o.GapCovered, First: first,
	}
}
