package conformance

import (
	"context"
	"strings"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// The checks of the text/event-stream mapping (sections "sse",
// "sse-response", "sse-mapping").

func (s *suiteRun) sseOpened() (responses []response, events []client.Event, ok bool, why string) {
	if s.main.sse == nil {
		return nil, nil, false, errString(s.main.err)
	}
	responses, events, err, opened := s.main.sse.snapshot()
	if !opened {
		return nil, nil, false, describe(responses) + " (" + errString(err) + ")"
	}
	return responses, events, true, ""
}

func checkSSEOffered(_ context.Context, s *suiteRun) Result {
	responses, _, ok, why := s.sseOpened()
	if !ok {
		return fail("GET with Accept: text/event-stream: %s", why)
	}
	final := responses[len(responses)-1]
	return pass("%d, Content-Type %s", final.Status, final.Header.Get("Content-Type"))
}

// besideSUB is the check that compare makes of what the main round's SSE
// response received beside what its reference SUB subscription did, for
// the checks that the one corresponds to the other. It skips where there
// is no SSE response.
func besideSUB(compare func(sse []response, sseEvents []client.Event, sub []response, subEvents []client.Event) Result) checkFunc {
	return func(_ context.Context, s *suiteRun) Result {
		responses, sseEvents, ok, why := s.sseOpened()
		if !ok {
			return skip("no SSE response: %s", why)
		}
		r, events, err := s.main.reference()
		if err != nil {
			return fail("%v", err)
		}
		subResponses, _, _, _ := r.snapshot()
		return compare(responses, sseEvents, subResponses, events)
	}
}

func checkSSEFields(responses []response, _ []client.Event, subResponses []response, _ []client.Event) Result {
	a, _ := ack(subResponses)
	h := responses[len(responses)-1].Header
	cc := strings.ToLower(strings.Join(h.Values("Cache-Control"), ", "))
	switch {
	case sharing(h) != sharing(a.Header):
		return fail("the SSE response has Subscription-Sharing %q, the first 106 %q", h.Get(wire.FieldSubscriptionSharing), a.Header.Get(wire.FieldSubscriptionSharing))
	case !strings.EqualFold(strings.Join(h.Values("Vary"), ","), strings.Join(a.Header.Values("Vary"), ",")):
		return fail("the SSE response has Vary %q, the first 106 %q", h.Values("Vary"), a.Header.Values("Vary"))
	case !strings.Contains(cc, "no-cache"):
		return fail("the SSE response's Cache-Control %q has no no-cache", cc)
	case sharing(h) == wire.SharingPerCredential && !strings.Contains(cc, "private"):
		return fail("the SSE response of a per-credential stream has Cache-Control %q, without private", cc)
	}
	return pass("Subscription-Sharing %q, Cache-Control %q, Vary %q", sharing(h), cc, h.Values("Vary"))
}

func checkSSESameEvents(_ []response, sseEvents []client.Event, _ []response, events []client.Event) Result {
	if len(sseEvents) < len(events) {
		return fail("SSE delivered %d events (%q), SUB %d (%q)", len(sseEvents), ids(sseEvents), len(events), ids(events))
	}
	for i, e := range events {
		got := sseEvents[i]
		switch {
		case got.ID != e.ID || got.Type != e.Type:
			return fail("event %d: SSE id %q type %q, SUB id %q type %q", i+1, got.ID, got.TypeName(), e.ID, e.TypeName())
		case !got.Time.Equal(e.Time):
			return fail("event %q: SSE t %v, SUB t %v", e.ID, got.Time, e.Time)
		case got.Ref == "" && e.Ref == "" && string(got.Data) != string(e.Data):
			return fail("event %q: SSE data %.60q, SUB data %.60q", e.ID, got.Data, e.Data)
		}
	}
	return pass("%d events alike", len(events))
}
