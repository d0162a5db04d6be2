package conformance

import (
	"context"

	"github.com/subpub/subpub/client"
)

// The catalogue of every check, in the order of the draft's sections. The
// checks themselves are in the files of their sections.

// ServerChecks are the checks of a server in the origin role, in the order
// of the draft's sections.
func ServerChecks() []*Check {
	return []*Check{
		must("sub-semantics/1", checkNoPUBBeforeAck,
			"A server MUST NOT send a 105 (PUB) response before the 106 (No Operation) response that acknowledges the subscription"),
		must("sub-semantics/2", checkNoPUBToGET,
			"[A server] MUST NOT send 105 (PUB) in response to any method other than SUB"),

		must("status-pub/1", checkPUBHasEvent,
			"A 105 (PUB) response MUST contain the Event field"),
		should("status-pub/2", checkPUBOnlyEventFields,
			"A sender SHOULD NOT send fields other than Event and Event-Data in a 105 (PUB) response"),

		must("first-106/1", checkAckBeforePublishing,
			"A server MUST send a 106 (No Operation) response as soon as it has established a subscription (before any event is published)"),
		must("first-106/2", checkAckSharing,
			`The server MUST send Subscription-Sharing, with the value "shared" or "per-credential" [in the first 106]`),
		should("first-106/3", checkAckStartID,
			"A server that knows where the subscription starts and received no Last-Event-ID SHOULD send an Event field with only an id member: the identifier of the last event before the first one the subscription will deliver"),
		should("first-106/4", checkAckNoCacheControl,
			"Cache-Control has no meaning in an interim response: a server SHOULD NOT send it in the first 106"),

		should("keepalive/1", checkKeepalives,
			"A server SHOULD send a 106 (No Operation) response whenever a subscription has been idle for a period (the keepalive interval configured)"),

		must("event-field/1", checkEventDictionary,
			"The Event field is a Dictionary; id, ref are Strings, type a Token or String, t an Integer (a member with a value of the wrong type is an error)"),
		must("event-field/2", checkEventIDSyntax,
			"[id] MUST NOT be empty and MUST NOT begin or end with a space character"),
		should("event-field/3", checkEveryEventHasID,
			"servers SHOULD give every event an id"),

		must("event-data-field/1", checkEventDataItem,
			"The Event-Data field is an Item: a String, a Display String or a Byte Sequence, whose content is the payload"),
		should("event-data-field/2", checkPrintableAsString,
			"If every byte of the payload is printable ASCII, the sender SHOULD serialize the payload as a String"),
		must("event-data-field/3", checkNoDataWithRef,
			"A sender MUST NOT send Event-Data in an event that has a ref member"),
		must("event-data-field/4", checkExactBytes,
			"A sender MUST NOT alter the payload to fit a form: for instance, it does not rewrite the characters of JSON text as \\u escapes"),

		should("by-reference/1", checkLargeByReference,
			"a server SHOULD send by reference every event whose 105 (PUB) response would exceed a configured threshold (4096 bytes, as HTTP/1.1 serializes it, RECOMMENDED)"),
		must("by-reference/2", checkReferenceResolves,
			"the server omits Event-Data and sets the ref member of Event to the URI of a resource whose representation is the payload"),

		should("ending/1", checkRefusalProblem,
			"Final responses with a status code of 400 or more SHOULD carry a problem detail [RFC9457]; a server that will not establish the subscription answers with a final response and no interim response"),
		must("ending/2", checkEndWith204,
			"204 (No Content): the stream has ended and will carry no more events; a later request to subscribe is answered as a request for the resource would be (404, 410)"),

		must("event-ids/1", checkIDsUnique,
			"Ids MUST be unique within a stream"),
		must("event-ids/2", checkIDsSameForAll,
			"a stream's events MUST have the same ids for every subscriber (over every HTTP version, SUB and SSE)"),
		must("event-ids/3", checkPrevChain,
			"The server MUST send the prev member in every event that has a predecessor in the stream: the id of the event before it (for the first event of a subscription, the position its first 106 announced), over SUB and SSE"),

		must("resuming/1", checkResumeExactly,
			"A server that can replay the events published after that event sends them, in order, after its first 106 response; the client thereby receives every event exactly once (MUST NOT silently begin the subscription at a later point)"),
		must("resuming/2", checkResumePrev,
			"The first event of a resumed subscription names the Last-Event-ID as its prev, so that the client can tell that nothing was skipped"),

		must("gap/1", checkGapFirst,
			"A server that cannot replay from the given id MUST say so with a gap event, as the first event of the subscription"),
		must("gap/2", checkGapContinues,
			"[The gap's] id: the position from which the stream continues; a client that resumes later with this id as Last-Event-ID receives [the events that follow]"),
		must("gap/3", checkGapPrev,
			"[The gap's] prev: the Last-Event-ID that could not be replayed from; a gap has no type member"),

		should("sse/1", checkSSEOffered,
			"A server that supports SUB for a resource SHOULD also make the same stream available to a GET request whose Accept field prefers text/event-stream"),

		should("sse-response/1", besideSUB(checkSSEFields),
			`[The 200 response] carries the Subscription-Sharing and Vary fields that the first 106 response to SUB would carry, and Cache-Control with the "no-cache" directive, and "private" for a per-credential stream`),

		should("sse-mapping/1", besideSUB(checkSSESameEvents),
			"The same stream: each event's id, type (event), t and payload (data) correspond to its 105 (PUB) fields"),

		must("http11/1", checkHTTP10Refused,
			"a server MUST NOT send a 1xx response to an HTTP/1.0 client; a server that receives SUB in an HTTP/1.0 request answers 505 (HTTP Version Not Supported)"),
		should("http11/2", checkHTTP10Hint,
			"[The 505] SHOULD indicate in the problem detail that the client can use a later version of HTTP, or GET for text/event-stream"),
		must("http11/3", over(client.HTTP11, checkVersionDelivers),
			deliverySequence+", over HTTP/1.1"),
		must("http11/4", checkNothingAfterMore,
			"In HTTP/1.1, a server that receives anything more (a request pipelined behind the subscription, or bytes arriving later) MUST NOT send anything more on the connection, and closes it"),

		must("http2/1", over(client.HTTP2, checkVersionDelivers),
			deliverySequence+", over HTTP/2"),
		must("http2/2", checkHeaderListLimit,
			"A server MUST NOT send an interim response whose field section exceeds the SETTINGS_MAX_HEADER_LIST_SIZE advertised by the client; it sends such events by reference, or ends the subscription where it cannot"),

		must("http3/1", over(client.HTTP3, checkVersionDelivers),
			deliverySequence+", over HTTP/3"),

		must("negotiation/1", over(client.HTTP2, checkSetting),
			"A server that serves SUB on an HTTP/2 connection MUST send SETTINGS_ENABLE_SUB with the value 1 in its SETTINGS"),
		must("negotiation/2", over(client.HTTP3, checkSetting),
			"A server that serves SUB on an HTTP/3 connection MUST send SETTINGS_ENABLE_SUB with the value 1 in its SETTINGS"),
		must("negotiation/3", checkEcho,
			"On HTTP/1.1, a server that receives SUB with Enable-SUB named in Connection MUST send Enable-SUB, named in Connection, on the 106 that acknowledges the subscription"),
		must("negotiation/4", checkNoEchoUnasked,
			"On HTTP/1.1, a server MUST NOT send Enable-SUB in answer to a request that did not negotiate it (the field absent, or not named in Connection)"),
		must("negotiation/5", checkAcknowledgementMarked,
			"The 106 that acknowledges a subscription carries Enable-SUB; a server MUST NOT send Enable-SUB on any other 106"),
	}
}

// IntermediaryChecks are the checks of an intermediary, in the order of the
// draft's sections.
func IntermediaryChecks() []*Check {
	return []*Check{
		must("interim-handling/1", checkInterimRelayed,
			"Section 15.2 of RFC9110 requires a proxy to forward 1xx responses: the 106 and every 105 reach the subscriber, in order (twenty of them, past the limits some proxies have)"),

		should("detecting-loss/1", checkUpstreamLossResumed,
			"An intermediary SHOULD check the prev members of the events of its upstream subscriptions, and resubscribe upstream with Last-Event-ID when one does not name the last event received (an event lost between the upstream and the intermediary reaches the subscriber, in order)"),

		must("tiers/1", checkEventUnchanged,
			"Intermediaries MUST NOT change the id, prev, type, t or gap members of Event, nor the Event-Data field, and MUST relay members of Event that they do not understand"),

		may("collapsing-key/1", checkCollapsed,
			"An intermediary MAY serve all the subscriptions to one stream from one upstream subscription (five identical subscriptions, one upstream)"),
		must("collapsing-key/2", checkPrivateNotShared,
			"A stream whose acknowledgement says Subscription-Sharing: per-credential MUST NOT be served to a subscriber that presents different credentials"),
		must("collapsing-key/3", checkAckFieldsRelayed,
			"The intermediary relays the Subscription-Sharing and Vary fields of the upstream first 106 response in the first 106 response it sends to each subscriber"),

		must("ring/1", checkReplay,
			"A subscriber that resumes with a Last-Event-ID the intermediary retains receives the events that follow it, then the shared stream: every event exactly once (MUST NOT skip events silently)"),
		must("ring/2", checkCatchUp,
			"A subscriber that resumes with a Last-Event-ID that is not among the retained events is caught up from upstream and continues on the shared stream: every event exactly once, no gap (MUST NOT skip events silently)"),
		should("ring/3", checkCatchUpShared,
			"An intermediary SHOULD share catch-up subscriptions: subscribers that resume together from one Last-Event-ID it does not retain cost the upstream one catch-up subscription"),

		must("slow/1", checkSlowSubscriber,
			"A slow subscriber MUST NOT be allowed to delay delivery to other subscribers"),
	}
}

// deliverySequence is the requirement that http11/3, http2/1 and http3/1
// test, each over its version.
const deliverySequence = "A successful response to SUB consists of a 106 (No Operation) interim response that acknowledges the subscription, then one 105 (PUB) per event, in the order of the stream"

// sectionTitles are the titles of the draft's sections that have checks,
// by anchor.
var sectionTitles = map[string]string{
	// The sections of ServerChecks.
	"sub-semantics":    "The SUB Method: Semantics",
	"status-pub":       "1NN (PUB)",
	"first-106":        "The Acknowledgement",
	"keepalive":        "Keepalives",
	"event-field":      "Event",
	"event-data-field": "Event-Data",
	"by-reference":     "Event Size and Events by Reference",
	"ending":           "Ending a Subscription",
	"event-ids":        "Event Identifiers",
	"resuming":         "Resuming with Last-Event-ID",
	"gap":              "The Gap Event",
	"sse":              "Mapping to and from text/event-stream",
	"sse-response":     "Response to GET",
	"sse-mapping":      "Correspondence",
	"http11":           "HTTP/1.1",
	"http2":            "HTTP/2",
	"http3":            "HTTP/3",
	"negotiation":      "Negotiating SUB on Each Hop",

	// The sections of IntermediaryChecks.
	"interim-handling": "Handling of Interim Responses",
	"detecting-loss":   "Detecting Loss",
	"tiers":            "Chains of Intermediaries",
	"collapsing-key":   "Identifying a Stream",
	"ring":             "Retaining Events",
	"slow":             "Slow Subscribers",
}

// checkFunc makes a check against the run's target.
type checkFunc func(ctx context.Context, s *suiteRun) Result

// must, should and may make the check id of a MUST, SHOULD or MAY
// requirement (quoted or named in the draft's words) that run tests.
func must(id string, run checkFunc, requirement string) *Check {
	return newCheck(id, MUST, run, requirement)
}

func should(id string, run checkFunc, requirement string) *Check {
	return newCheck(id, SHOULD, run, requirement)
}

func may(id string, run checkFunc, requirement string) *Check {
	return newCheck(id, MAY, run, requirement)
}

// newCheck is the check id with the title of its section. An id whose
// anchor has no title is a mistake in the catalogue, and panics.
func newCheck(id string, level Level, run checkFunc, requirement string) *Check {
	c := &Check{ID: id, Level: level, Requirement: requirement, run: run}
	title, ok := sectionTitles[c.SectionAnchor()]
	if !ok {
		panic("conformance: check " + id + " is in no known section")
	}
	c.Section = title
	return c
}

// over is the check that check makes over one HTTP version.
func over(version string, check func(ctx context.Context, s *suiteRun, version string) Result) checkFunc {
	return func(ctx context.Context, s *suiteRun) Result { return check(ctx, s, version) }
}
