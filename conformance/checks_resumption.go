package conformance

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/subpub/subpub/client"
)

// gapDistance is how far past the newest decimal id the default GapID is:
// no server can have issued it yet, so it is unknown to it.
const gapDistance = 1_000_000_000

// The checks of event identifiers and resumption (sections "event-ids",
// "resuming", "gap").
func resumptionChecks() []*Check {
	return []*Check{
		{ID: "event-ids/1", Section: "Event Identifiers", Level: MUST,
			Requirement: "Ids MUST be unique within a stream",
			run:         checkIDsUnique},
		{ID: "event-ids/2", Section: "Event Identifiers", Level: MUST,
			Requirement: "a stream's events MUST have the same ids for every subscriber (over every HTTP version, SUB and SSE)",
			run:         checkIDsSameForAll},
		{ID: "event-ids/3", Section: "Event Identifiers", Level: SHOULD,
			Requirement: "Ids increase with the order of the stream (checked where ids are decimal; stated without a keyword)",
			run:         checkIDsIncrease},
		{ID: "resuming/1", Section: "Resuming with Last-Event-ID", Level: MUST,
			Requirement: "A server that can replay the events published after that event sends them, in order, after its first 106 response; the client thereby receives every event exactly once (MUST NOT silently begin the subscription at a later point)",
			run:         checkResumeExactly},
		{ID: "gap/1", Section: "The Gap Event", Level: MUST,
			Requirement: "A server that cannot replay from the given id MUST say so with a gap event, as the first event of the subscription",
			run:         checkGapFirst},
		{ID: "gap/2", Section: "The Gap Event", Level: MUST,
			Requirement: "[The gap's] id: the position from which the stream continues; a client that resumes later with this id as Last-Event-ID receives [the events that follow]",
			run:         checkGapContinues},
	}
}

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

func checkIDsIncrease(_ context.Context, s *suiteRun) Result {
	_, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	var prev uint64
	for i, e := range events {
		n, err := strconv.ParseUint(e.ID, 10, 64)
		if err != nil {
			return skip("id %q is not decimal: ids are opaque, their order cannot be checked", e.ID)
		}
		if i > 0 && n <= prev {
			return fail("id %q follows %q in the stream %q", e.ID, events[i-1].ID, ids(events))
		}
		prev = n
	}
	return pass("ids %q", ids(events))
}

// publishMore makes the server publish n more small events.
func (s *suiteRun) publishMore(ctx context.Context, n int) error {
	for range n {
		s.mu.Lock()
		if s.seq < s.main.published {
			s.seq = s.main.published
		}
		s.seq++
		seq := s.seq
		s.mu.Unlock()
		if err := s.cfg.Publisher.Publish(ctx, seq, 0); err != nil {
			return err
		}
	}
	return nil
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
		return fail("resuming from %q began silently with %s %q, not a gap event", id, got[0].TypeName(), got[0].ID)
	}
	s.gapSub = sub // gap/2 goes on with it
	return pass("resuming from %q began with a gap at %q to refetch %q", id, got[0].ID, got[0].Data)
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
