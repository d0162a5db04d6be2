package conformance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// The checks of the SUB method's semantics (section "sub-semantics").

func checkNoPUBBeforeAck(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		for i, resp := range interims(responses) {
			switch resp.Status {
			case wire.StatusNoOperation:
				return nil
			case wire.StatusPUB:
				return []string{"interim response " + itoa(i+1) + " is a 105 before any 106"}
			}
		}
		if len(pubs(responses)) == 0 && len(responses) > 0 {
			return []string{"no 106 and no 105: the answer was " + itoa(responses[len(responses)-1].Status)}
		}
		return nil
	})
}

// checkNoPUBToGET asks for the target with GET (not for an event stream)
// and counts the 105s that come before the final response.
func checkNoPUBToGET(ctx context.Context, s *suiteRun) Result {
	c, err := s.client(client.HTTPAuto, client.ModeSUB)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, err := s.newRequest(httptrace.WithClientTrace(ctx, trace), http.MethodGet, s.cfg.URL)
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Accept", "application/json, */*;q=0.1")
	resp, err := c.RoundTrip(req)
	if err != nil {
		return skip("GET %s: %v", s.cfg.URL, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if slices.Contains(got, wire.StatusPUB) {
		return fail("GET was answered with interim responses %v before %d", got, resp.StatusCode)
	}
	return pass("GET: %d, interim responses %v", resp.StatusCode, got)
}

// The checks of interim responses (sections "status-pub", "first-106",
// "keepalive").

func checkPUBHasEvent(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		var problems []string
		for i, p := range pubs(responses) {
			if strings.TrimSpace(strings.Join(p.Header.Values(wire.FieldEvent), "")) == "" {
				problems = append(problems, "105 number "+itoa(i+1)+" has no Event field")
			}
		}
		return problems
	})
}

func checkPUBOnlyEventFields(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		var problems []string
		for i, p := range pubs(responses) {
			for name := range p.Header {
				if name != wire.FieldEvent && name != wire.FieldEventData {
					problems = append(problems, "105 number "+itoa(i+1)+" has "+name)
				}
			}
		}
		return problems
	})
}

func checkAckBeforePublishing(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(r *recording, responses []response, events []client.Event) []string {
		_, _, err, opened := r.snapshot()
		if !opened {
			if len(responses) > 0 {
				return []string{"no 106 before the final response " + itoa(responses[len(responses)-1].Status)}
			}
			return []string{"no 106 within " + s.cfg.timeout().String() + " (" + errString(err) + ")"}
		}
		a, ok := ack(responses)
		switch {
		case !ok:
			return []string{"the subscription was established without a 106"}
		case s.main.publishing.IsZero() || !a.At.Before(s.main.publishing):
			return []string{"the first 106 came only once events were published"}
		}
		return nil
	})
}

// ack is the first 106 among responses.
func ack(responses []response) (response, bool) {
	for _, resp := range responses {
		if resp.Status == wire.StatusNoOperation {
			return resp, true
		}
	}
	return response{}, false
}

func checkAckSharing(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		a, ok := ack(responses)
		if !ok {
			return []string{"no 106"}
		}
		if sharing(a.Header) == "" {
			return []string{"the first 106 has Subscription-Sharing " + quote(a.Header.Get(wire.FieldSubscriptionSharing)) + ", neither shared nor per-credential"}
		}
		return nil
	})
}

func checkAckNoCacheControl(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		if a, ok := ack(responses); ok && len(a.Header.Values("Cache-Control")) > 0 {
			return []string{"the first 106 has Cache-Control " + quote(a.Header.Get("Cache-Control"))}
		}
		return nil
	})
}

// sharing is the Subscription-Sharing value of h ("shared" or
// "per-credential"), or "" when it has none that the draft defines.
func sharing(h http.Header) string {
	shared, ok := wire.ParseSharing(h)
	if !ok {
		return ""
	}
	return wire.SharingValue(shared)
}

// checkAckStartID checks the first 106's Event field, then resumes from the
// id it names and expects the main round's first event first.
func checkAckStartID(ctx context.Context, s *suiteRun) Result {
	r, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	responses, _, _, _ := r.snapshot()
	a, _ := ack(responses)
	lines := a.Header.Values(wire.FieldEvent)
	if len(lines) == 0 {
		return fail("%s: the first 106 has no Event field", versionNames[r.Version])
	}
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return fail("%s: the first 106's Event %q is not a Dictionary: %v", versionNames[r.Version], lines, err)
	}
	if names := dict.Names(); len(names) != 1 || names[0] != "id" {
		return fail("%s: the first 106's Event has members %v, not only id", versionNames[r.Version], names)
	}
	start, _ := stringMember(dict, "id")
	got, err := s.resumeFirst(ctx, r.Version, start, 1)
	if err != nil {
		return fail("resuming from the first 106's id %q: %v", start, err)
	}
	if got[0].ID != events[0].ID {
		return fail("resuming from the first 106's id %q delivered %q first, not the subscription's first event %q", start, got[0].ID, events[0].ID)
	}
	return pass("the first 106 says %q; resuming from it delivers %q first", start, events[0].ID)
}

// resumeFirst subscribes over version after lastID and returns the first n
// events.
func (s *suiteRun) resumeFirst(ctx context.Context, version, lastID string, n int) ([]client.Event, error) {
	r, err := s.follow(ctx, version, client.ModeSUB, s.cfg.URL, lastID)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ok := r.waitUntil(ctx, s.cfg.timeout(), hasEvents(n))
	_, events, err, _ := r.snapshot()
	if !ok {
		return events, waitError(len(events), n, err, s.cfg.timeout())
	}
	return events[:n], nil
}

// checkKeepalives measures the silences of each subscription after its
// acknowledgement: between interim responses, and from the last to the end
// of the round.
func checkKeepalives(_ context.Context, s *suiteRun) Result {
	limit := s.cfg.keepAlive() + s.cfg.keepAliveTolerance()
	return perSubscription(s, func(r *recording, responses []response, _ []client.Event) []string {
		in := interims(responses)
		if len(in) == 0 {
			return []string{"no interim response"}
		}
		r.mu.Lock()
		end := r.stoppedAt
		r.mu.Unlock()
		var longest time.Duration
		keepalives := 0
		for i := range in {
			next := end
			if i+1 < len(in) {
				next = in[i+1].At
				if in[i+1].Status == wire.StatusNoOperation {
					keepalives++
				}
			}
			longest = max(longest, next.Sub(in[i].At))
		}
		if longest > limit || keepalives == 0 {
			return []string{"silent for " + longest.Round(time.Millisecond).String() + " with " + itoa(keepalives) + " keepalives (interval " + s.cfg.keepAlive().String() + ", tolerated " + limit.String() + ")"}
		}
		return nil
	})
}
