package conformance

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dunglas/httpsfv"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// gapDistance is how far past the newest decimal id the default GapID is:
// no server can have issued it yet, so it is unknown to it.
const gapDistance = 1_000_000_000

// The checks of event identifiers and resumption (sections "event-ids",
// "resuming", "gap").

func duplicates(list []string) []string {
	seen := map[string]bool{}
	var dup []string
	for _, id := range list {
		if seen[id] && id != "" {
			dup = append(dup, id)
		}
		seen[id] = true
	}
	return dup
}

func checkIDsUnique(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, _ []response, events []client.Event) []string {
		if dup := duplicates(ids(events)); len(dup) > 0 {
			return []string{fmt.Sprintf("ids %q came more than once in %q", dup, ids(events))}
		}
		return nil
	})
}

func checkIDsSameForAll(_ context.Context, s *suiteRun) Result {
	_, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	want := ids(events)
	others := append([]*recording(nil), s.main.subs...)
	if s.main.sse != nil {
		others = append(others, s.main.sse)
	}
	for _, r := range others {
		_, got, _, _ := r.snapshot()
		if !slices.Equal(ids(got), want) {
			return fail("%s %s received ids %q, another subscription %q", versionNames[r.Version], r.Mode, ids(got), want)
		}
	}
	return pass("%d subscriptions received ids %q", len(others), want)
}

// checkPrevChain follows the prev members of every subscription of the main
// round: the first names the first 106's position (SUB) or the id block the
// content began with (SSE), when there is one, and each other the event
// before it.
func checkPrevChain(_ context.Context, s *suiteRun) Result {
	res := perSubscription(s, func(_ *recording, responses []response, events []client.Event) []string {
		a, _ := ack(responses)
		start := ""
		if e, err := wire.DecodePUB(a.Header); err == nil {
			start = e.ID
		}
		return brokenChain(start, events)
	})
	if res.Status != Pass || s.main.sse == nil {
		return res
	}
	_, events, _, _ := s.main.sse.snapshot()
	if problems := brokenChain("", events); len(problems) > 0 {
		return fail("SSE: %s", strings.Join(firstOf(problems, 5), "; "))
	}
	res.Detail += ", and SSE"
	return res
}

// brokenChain says where events do not name the event before them as their
// prev, the first one start when it is not empty.
func brokenChain(start string, events []client.Event) []string {
	var problems []string
	last := start
	for _, e := range events {
		switch {
		case last == "":
		case e.Prev == "":
			problems = append(problems, fmt.Sprintf("event %q has no prev (the event before it is %q)", e.ID, last))
		case e.Prev != last:
			problems = append(problems, fmt.Sprintf("event %q names %q as its prev, but %q came before it", e.ID, e.Prev, last))
		}
		last = e.ID
	}
	return problems
}

// checkResumePrev resumes from the main round's first event: the first
// event delivered must name it as its prev.
func checkResumePrev(ctx context.Context, s *suiteRun) Result {
	r, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	from := events[0].ID
	got, err := s.resumeFirst(ctx, r.Version, from, 1)
	if err != nil {
		return fail("resuming from %q: %v", from, err)
	}
	if got[0].Prev != from {
		return fail("resuming from %q delivered %q first, whose prev is %q", from, got[0].ID, got[0].Prev)
	}
	return pass("resuming from %q delivered %q first, whose prev is %q", from, got[0].ID, got[0].Prev)
}

// publishMore makes the server publish n more small events.
func (s *suiteRun) publishMore(ctx context.Context, n int) error {
	for range n {
		if err := s.publishSized(ctx, 0); err != nil {
			return err
		}
	}
	return nil
}

// publishSized has the server publish the run's next event, with a
// payload of at least size bytes (small when size is 0).
func (s *suiteRun) publishSized(ctx context.Context, size int) error {
	s.mu.Lock()
	if s.seq < s.main.published {
		s.seq = s.main.published
	}
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	return s.cfg.Publisher.Publish(ctx, seq, size)
}

// checkResumeExactly publishes two events while nobody is subscribed, then
// resumes from the main round's second event: what arrives must be the
// round's events after it, then the two, each once.
func checkResumeExactly(ctx context.Context, s *suiteRun) Result {
	r, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	if err := s.publishMore(ctx, 2); err != nil {
		return fail("%v", err)
	}
	want := ids(events[2:])
	got, err := s.resumeFirst(ctx, r.Version, events[1].ID, len(want)+2)
	if err != nil {
		return fail("resuming from %q: %v (received %q)", events[1].ID, err, ids(got))
	}
	gotIDs := ids(got)
	switch {
	case !slices.Equal(gotIDs[:len(want)], want):
		return fail("resuming from %q delivered %q, want %q first", events[1].ID, gotIDs, want)
	case len(duplicates(gotIDs)) > 0 || slices.Contains(gotIDs[len(want):], events[1].ID) || slices.ContainsFunc(gotIDs[len(want):], func(id string) bool { return slices.Contains(ids(events), id) }):
		return fail("resuming from %q delivered %q: an event twice", events[1].ID, gotIDs)
	case got[len(want)].IsGap():
		return fail("resuming from %q delivered a gap event after the replay", events[1].ID)
	}
	return pass("resuming from %q delivered %q", events[1].ID, gotIDs)
}

// gapID is the Last-Event-ID the server cannot replay from.
func (s *suiteRun) gapID(events []client.Event) (string, bool) {
	if s.cfg.GapID != "" {
		return s.cfg.GapID, true
	}
	var newest uint64
	for _, e := range events {
		n, err := strconv.ParseUint(e.ID, 10, 64)
		if err != nil {
			return "", false
		}
		newest = max(newest, n)
	}
	return strconv.FormatUint(newest+gapDistance, 10), true
}

func checkGapFirst(ctx context.Context, s *suiteRun) Result {
	r, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	id, ok := s.gapID(events)
	if !ok {
		return skip("ids are not decimal: give an expired id (--gap-id) to check the gap event")
	}
	sub, err := s.follow(ctx, r.Version, client.ModeSUB, s.cfg.URL, id)
	if err != nil {
		return fail("%v", err)
	}
	if !sub.waitUntil(ctx, s.cfg.timeout(), hasEvents(1)) {
		// A server that begins silently sends nothing until it publishes.
		if err := s.publishMore(ctx, 1); err != nil {
			sub.stop()
			return fail("%v", err)
		}
		if !sub.waitUntil(ctx, s.cfg.timeout(), hasEvents(1)) {
			sub.stop()
			_, _, err, _ := sub.snapshot()
			return fail("resuming from %q: no event, not even a gap, within %s (%s)", id, s.cfg.timeout(), errString(err))
		}
	}
	_, got, _, _ := sub.snapshot()
	if !got[0].IsGap() {
		sub.stop()
		return fail("resuming from %q began with %s %q, not a gap event (an event with the gap member)", id, got[0].TypeName(), got[0].ID)
	}
	s.gapSub, s.gapFrom = sub, id // gap/2 and gap/3 go on with it
	return pass("resuming from %q began with a gap at %q to refetch %q", id, got[0].ID, got[0].Gap)
}

// checkGapContinues resumes from the gap's id and publishes: the event that
// follows the gap on gap/1's subscription must be the first on the new one.
func checkGapContinues(ctx context.Context, s *suiteRun) Result {
	sub := s.gapSub
	if sub == nil {
		return skip("no gap event to continue from (gap/1)")
	}
	defer sub.stop()
	_, got, _, _ := sub.snapshot()
	gap := got[0]
	if gap.ID == "" {
		return fail("the gap event has no id")
	}
	r, _, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	after, err := s.follow(ctx, r.Version, client.ModeSUB, s.cfg.URL, gap.ID)
	if err != nil {
		return fail("%v", err)
	}
	defer after.stop()
	if !after.waitUntil(ctx, s.cfg.timeout(), isOpen) {
		return fail("resuming from the gap's id %q: no acknowledgement", gap.ID)
	}
	if err := s.publishMore(ctx, 1); err != nil {
		return fail("%v", err)
	}
	if !sub.waitUntil(ctx, s.cfg.timeout(), hasEvents(2)) {
		return fail("nothing published after the gap arrived on its subscription")
	}
	_, got, _, _ = sub.snapshot()
	next := got[1]
	if !after.waitUntil(ctx, s.cfg.timeout(), hasEvents(1)) {
		_, _, err, _ := after.snapshot()
		return fail("resuming from the gap's id %q: nothing arrived, where %q followed the gap (%s)", gap.ID, next.ID, errString(err))
	}
	_, resumed, _, _ := after.snapshot()
	if resumed[0].ID != next.ID || resumed[0].IsGap() {
		return fail("resuming from the gap's id %q delivered %s %q first, where %q followed the gap", gap.ID, resumed[0].TypeName(), resumed[0].ID, next.ID)
	}
	return pass("%q followed the gap at %q, and resuming from %q delivers it first", next.ID, gap.ID, gap.ID)
}

// checkGapPrev looks at gap/1's gap: it names the Last-Event-ID it could
// not replay from as its prev, and has no type.
func checkGapPrev(_ context.Context, s *suiteRun) Result {
	if s.gapSub == nil {
		return skip("no gap event to look at (gap/1)")
	}
	_, got, _, _ := s.gapSub.snapshot()
	gap := got[0]
	if gap.Prev != s.gapFrom {
		return fail("the gap for Last-Event-ID %q names %q as its prev", s.gapFrom, gap.Prev)
	}
	if dict, err := httpsfv.UnmarshalDictionary(gap.Fields.Values(wire.FieldEvent)); err == nil {
		if _, typed := dict.Get("type"); typed {
			return fail("the gap has a type member: %s", gap.Fields.Values(wire.FieldEvent))
		}
	}
	return pass("the gap for Last-Event-ID %q names it as its prev", s.gapFrom)
}
