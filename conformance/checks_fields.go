package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// The checks of the Event and Event-Data fields (sections "event-field",
// "event-data-field", "by-reference"), made on the field values exactly as
// received.

// inlineThreshold is the size of a 105 above which the draft recommends
// sending an event by reference.
const inlineThreshold = wire.RecommendedInlineLimit

// eachPUB applies inspect to every 105 of every SUB subscription, and
// names each problem it finds with the 105's number.
func eachPUB(s *suiteRun, inspect func(h http.Header) string) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		var problems []string
		for i, p := range pubs(responses) {
			if problem := inspect(p.Header); problem != "" {
				problems = append(problems, fmt.Sprintf("105 number %d: %s", i+1, problem))
			}
		}
		return problems
	})
}

// eachEventDictionary is eachPUB for the 105s whose Event field parses as
// a Dictionary: event-field/1 judges those whose does not.
func eachEventDictionary(s *suiteRun, inspect func(dict *httpsfv.Dictionary, h http.Header) string) Result {
	return eachPUB(s, func(h http.Header) string {
		dict, err := httpsfv.UnmarshalDictionary(h.Values(wire.FieldEvent))
		if err != nil {
			return ""
		}
		return inspect(dict, h)
	})
}

func checkEventDictionary(_ context.Context, s *suiteRun) Result {
	return eachPUB(s, func(h http.Header) string {
		lines := h.Values(wire.FieldEvent)
		if len(lines) == 0 {
			return "" // status-pub/1's concern
		}
		dict, err := httpsfv.UnmarshalDictionary(lines)
		if err != nil {
			return fmt.Sprintf("Event %q is not a Dictionary: %v", lines, err)
		}
		for _, name := range []string{"id", "ref"} {
			if _, err := stringMember(dict, name); err != nil {
				return fmt.Sprintf("Event %q: %v", lines, err)
			}
		}
		if m, ok := dict.Get("type"); ok {
			switch itemValue(m).(type) {
			case httpsfv.Token, string:
			default:
				return fmt.Sprintf("Event %q: type is neither a Token nor a String", lines)
			}
		}
		if m, ok := dict.Get("t"); ok {
			if _, ok := itemValue(m).(int64); !ok {
				return fmt.Sprintf("Event %q: t is not an Integer", lines)
			}
		}
		return ""
	})
}

// eachEventID is eachEventDictionary for the id member: inspect is given
// it and whether the Event has one. An id that is not a String is passed
// over: event-field/1 judges it.
func eachEventID(s *suiteRun, inspect func(id string, present bool) string) Result {
	return eachEventDictionary(s, func(dict *httpsfv.Dictionary, _ http.Header) string {
		if _, ok := dict.Get("id"); !ok {
			return inspect("", false)
		}
		id, err := stringMember(dict, "id")
		if err != nil {
			return ""
		}
		return inspect(id, true)
	})
}

func checkEventIDSyntax(_ context.Context, s *suiteRun) Result {
	return eachEventID(s, func(id string, present bool) string {
		switch {
		case !present:
			return ""
		case id == "":
			return "the id is empty"
		case strings.HasPrefix(id, " ") || strings.HasSuffix(id, " "):
			return fmt.Sprintf("the id %q begins or ends with a space", id)
		}
		return ""
	})
}

func checkEveryEventHasID(_ context.Context, s *suiteRun) Result {
	return eachEventID(s, func(_ string, present bool) string {
		if !present {
			return "no id"
		}
		return ""
	})
}

// eventData parses the Event-Data of h: its value, whether there is one, and
// why it is malformed.
func eventData(h http.Header) (any, bool, error) {
	lines := h.Values(wire.FieldEventData)
	if len(lines) == 0 {
		return nil, false, nil
	}
	item, err := httpsfv.UnmarshalItem(lines)
	if err != nil {
		return nil, true, err
	}
	return item.Value, true, nil
}

func checkEventDataItem(_ context.Context, s *suiteRun) Result {
	return eachPUB(s, func(h http.Header) string {
		v, present, err := eventData(h)
		switch v.(type) {
		case string, httpsfv.DisplayString, []byte:
			return ""
		}
		if !present {
			return ""
		}
		if err != nil {
			return fmt.Sprintf("Event-Data %.80q is not an Item: %v", h.Get(wire.FieldEventData), err)
		}
		return fmt.Sprintf("Event-Data %.80q is an Item of another type (%T)", h.Get(wire.FieldEventData), v)
	})
}

func checkPrintableAsString(_ context.Context, s *suiteRun) Result {
	return eachPUB(s, func(h http.Header) string {
		switch v := mustValue(eventData(h)).(type) {
		case []byte:
			if printableASCII(v) {
				return fmt.Sprintf("a printable payload (%.40q) is sent as a Byte Sequence", v)
			}
		case httpsfv.DisplayString:
			if printableASCII([]byte(v)) {
				return fmt.Sprintf("a printable payload (%.40q) is sent as a Display String", v)
			}
		}
		return ""
	})
}

func mustValue(v any, _ bool, _ error) any { return v }

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func checkNoDataWithRef(_ context.Context, s *suiteRun) Result {
	return eachEventDictionary(s, func(dict *httpsfv.Dictionary, h http.Header) string {
		if _, hasRef := dict.Get("ref"); hasRef && len(h.Values(wire.FieldEventData)) > 0 {
			return "both ref and Event-Data"
		}
		return ""
	})
}

func checkLargeByReference(_ context.Context, s *suiteRun) Result {
	refs := 0
	res := perSubscription(s, func(_ *recording, _ []response, events []client.Event) []string {
		var problems []string
		for _, e := range events {
			switch {
			case e.Ref != "":
				refs++
			case inlineSize(e) > inlineThreshold:
				problems = append(problems, fmt.Sprintf("event %q carries %d bytes inline, in a 105 of %d", e.ID, len(e.Data), inlineSize(e)))
			}
		}
		return problems
	})
	if res.Status == Pass && refs == 0 {
		return fail("no event was sent by reference, although one of %d bytes was published", largePayload)
	}
	return res
}

// checkReferenceResolves retrieves each reference and compares it with the
// payload the SSE subscription received inline for the same event, if it
// did.
func checkReferenceResolves(ctx context.Context, s *suiteRun) Result {
	r, events, err := s.main.reference()
	if err != nil {
		return fail("%v", err)
	}
	inline := map[string][]byte{}
	if s.main.sse != nil {
		_, sseEvents, _, _ := s.main.sse.snapshot()
		for _, e := range sseEvents {
			if e.Ref == "" {
				inline[e.ID] = e.Data
			}
		}
	}
	c, err := s.client(r.Version, client.ModeSUB)
	if err != nil {
		return fail("%v", err)
	}
	checked := 0
	for _, e := range events {
		if e.Ref == "" {
			continue
		}
		body, err := s.dereference(ctx, c, e.Ref)
		if err != nil {
			return fail("event %q: %v", e.ID, err)
		}
		if data, ok := inline[e.ID]; ok && string(data) != string(body) {
			return fail("event %q: GET %s returned %d bytes that differ from the %d the SSE stream carried inline", e.ID, e.Ref, len(body), len(data))
		}
		checked++
	}
	if checked == 0 {
		return skip("no event arrived by reference")
	}
	return pass("%d references retrieved", checked)
}

// dereference retrieves the payload an event's ref names, resolved
// against the target's URL: what a 200 to GET carries.
func (s *suiteRun) dereference(ctx context.Context, c *client.Client, ref string) ([]byte, error) {
	u, err := s.base.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("ref %q is not a URI-reference: %v", ref, err)
	}
	body, status, err := s.get(ctx, c, u.String())
	switch {
	case err != nil:
		return nil, fmt.Errorf("GET %s: %v", u, err)
	case status != http.StatusOK:
		return nil, fmt.Errorf("GET %s answered %d", u, status)
	}
	return body, nil
}

// maxBody bounds a response body the suite reads.
const maxBody = 4 << 20

// newRequest is a request for u with the run's fields.
func (s *suiteRun) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for name, values := range s.cfg.Header {
		req.Header[name] = values
	}
	return req, nil
}

// get retrieves u with the run's fields.
func (s *suiteRun) get(ctx context.Context, c *client.Client, u string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	req, err := s.newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return body, resp.StatusCode, err
}

// stringMember is a Dictionary member that must be a String, "" if absent.
func stringMember(dict *httpsfv.Dictionary, name string) (string, error) {
	m, ok := dict.Get(name)
	if !ok {
		return "", nil
	}
	v, ok := itemValue(m).(string)
	if !ok {
		return "", fmt.Errorf("%s is not a String", name)
	}
	return v, nil
}

// itemValue is the bare value of a Dictionary member, nil for an inner list.
func itemValue(m httpsfv.Member) any {
	if item, ok := m.(httpsfv.Item); ok {
		return item.Value
	}
	return nil
}

// inlineSize is the size of the 105 that carries e inline, as HTTP/1.1
// writes it.
func inlineSize(e client.Event) int {
	n, err := wire.InlineSize(&wire.Event{ID: e.ID, Type: e.Type, Data: e.Data, Time: e.Time})
	if err != nil {
		return len(e.Data) // an id or type PUB cannot carry: the payload alone
	}
	return n
}

// exactText is what checkExactBytes publishes: text beyond ASCII, in one,
// two, three and four bytes of UTF-8.
const exactText = "subpub conformance: caf\u00e9, \u65e5\u672c\u8a9e, \u2615, \U0001f310"

// checkExactBytes subscribes, has the server publish exactText (through a
// Publisher that can, such as a Note's content), and wants the payload
// that arrives to hold its UTF-8 bytes unchanged.
func checkExactBytes(ctx context.Context, s *suiteRun) Result {
	tp, ok := s.cfg.Publisher.(TextPublisher)
	if !ok {
		return skip("the publisher cannot publish a text of the suite's choosing (--publish-outbox or --publish-url can)")
	}
	version := client.HTTP11
	if _, ok := s.main.notOffered[client.HTTP2]; !ok {
		version = client.HTTP2
	}
	r, err := s.follow(ctx, version, client.ModeSUB, s.cfg.URL, "")
	if err != nil {
		return fail("%v", err)
	}
	defer r.stop()
	if !r.waitUntil(ctx, s.cfg.timeout(), isOpen) || !r.opened {
		responses, _, err, _ := r.snapshot()
		return fail("not acknowledged: %s (%s)", describe(responses), errString(err))
	}
	if err := tp.PublishText(ctx, exactText); err != nil {
		return fail("publishing: %v", err)
	}
	if !r.waitUntil(ctx, s.cfg.timeout(), hasEvents(1)) {
		return fail("the event published did not arrive within %s", s.cfg.timeout())
	}
	_, events, _, _ := r.snapshot()
	e := events[0]
	if e.Ref != "" {
		c, err := s.client(version, client.ModeSUB)
		if err != nil {
			return fail("%v", err)
		}
		if e.Data, err = s.dereference(ctx, c, e.Ref); err != nil {
			return fail("its payload: %v", err)
		}
	}
	if !bytes.Contains(e.Data, []byte(exactText)) {
		return fail("the payload %.300q does not hold the text published, %q, as its UTF-8 bytes", e.Data, exactText)
	}
	return pass("the payload holds the %d bytes published as they were", len(exactText))
}
