package conformance

import (
	"testing"
)

func TestScriptedServerPassesEveryServerCheck(t *testing.T) {
	report := runServer(t, startScripted(t, defects{}), testTimeout)
	for _, res := range report.Results {
		if res.Status == Fail || (res.Status == Skip && res.ID != "http3/1" && res.ID != "negotiation/2") {
			t.Errorf("%s %s: %s", res.ID, res.Status, res.Detail)
		}
	}
	if t.Failed() {
		t.Log(text(report))
	}
}

// serverControls are the negative controls of the server checks: a server
// broken in one way, and the check that must fail on it.
var serverControls = []negativeControl[defects]{
	{"sub-semantics/1", defects{noAck: true}},
	{"sub-semantics/2", defects{pubOnGET: true}},
	{"status-pub/1", defects{pubWithoutEvent: true}},
	{"status-pub/2", defects{extraPUBFields: true}},
	{"first-106/1", defects{lateAck: true}},
	{"first-106/2", defects{ackNoSharing: true}},
	{"first-106/4", defects{ackCacheControl: true}},
	{"first-106/3", defects{ackNoStartID: true}},
	{"keepalive/1", defects{noKeepalive: true}},
	{"event-field/1", defects{eventNotDictionary: true}},
	{"event-field/1", defects{idNotString: true}},
	{"event-field/2", defects{idWithSpace: true}},
	{"event-field/3", defects{noIDs: true}},
	{"event-data-field/1", defects{eventDataNotItem: true}},
	{"event-data-field/2", defects{printableAsBytes: true}},
	{"event-data-field/3", defects{refWithData: true}},
	{"event-data-field/4", defects{escapeNonASCII: true}},
	{"by-reference/1", defects{inlineLarge: true}},
	{"by-reference/2", defects{refNotFound: true}},
	{"ending/1", defects{plainErrors: true}},
	{"ending/2", defects{endWith200: true}},
	{"event-ids/1", defects{duplicateIDs: true}},
	{"event-ids/2", defects{idsPerSubscriber: true}},
	{"event-ids/3", defects{noPrev: true}},
	{"resuming/1", defects{ignoreLastEventID: true}},
	{"resuming/2", defects{ignoreLastEventID: true}},
	{"gap/1", defects{silentGap: true}},
	{"gap/1", defects{gapAsType: true}},
	{"gap/2", defects{gapWrongID: true}},
	{"gap/3", defects{gapWithoutPrev: true}},
	{"sse/1", defects{noSSE: true}},
	{"sse-response/1", defects{sseNoCache: true}},
	{"sse-mapping/1", defects{sseAltersData: true}},
	{"http11/1", defects{http10Interim: true}},
	{"http11/2", defects{http10NoHint: true}},
	{"http11/3", defects{noPUBOverHTTP: 1}},
	{"http11/4", defects{writeAfterMore: true}},
	{"http2/1", defects{noPUBOverHTTP: 2}},
	{"http2/2", defects{dropOverLimit: true}},
	{"negotiation/1", defects{noSettings: true}},
	{"negotiation/3", defects{noEcho: true}},
	{"negotiation/4", defects{echoUnasked: true}},
	{"negotiation/5", defects{ackUnmarked: true}},
	{"negotiation/5", defects{keepaliveMarked: true}},
}

func TestEveryServerCheckFailsOnItsDefect(t *testing.T) {
	reports := concurrently(len(serverControls), func(i int) *Report {
		return runServer(t, startScripted(t, serverControls[i].cause), controlTimeout)
	})
	expectEachFails(t, serverControls, reports)
}

// TestEveryServerCheckHasANegativeControl: a check that cannot fail is a
// defect of the suite. http3/1 and negotiation/2 are the exceptions: the
// scripted server has no HTTP/3 to break (they are the same checks as
// http11/3 and http2/1, and negotiation/1, run over HTTP/3 against subpub's
// origin and edge).
func TestEveryServerCheckHasANegativeControl(t *testing.T) {
	expectEveryCheckControlled(t, ServerChecks(), serverControls, "http3/1", "negotiation/2")
}
