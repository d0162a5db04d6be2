package conformance

import b64 "encoding/base64"

// defects are the ways a ScriptedServer can be broken on purpose: each makes
// it violate one requirement of the draft, so that the suite's own tests can
// show that the check of that requirement fails on it.
type defects struct {
	eventNotDictionary bool // Event is a String, not a Dictionary
	idNotString        bool // id is a Token/Integer, not a String
	idWithSpace        bool // id begins with a space
	noIDs              bool // events have no id
	pubWithoutEvent    bool // a 105 without the Event field
	extraPUBFields     bool // a 105 with a field other than Event and Event-Data
	eventDataNotItem   bool // Event-Data is the bare payload, not an sf-item
	printableAsBytes   bool // printable payloads as a Byte Sequence
	escapeNonASCII     bool // payloads rewritten with \u escapes for what is not ASCII, as a JSON encoder may
	refWithData        bool // Event-Data in an event sent by reference
	inlineLarge        bool // large payloads inline, never by reference
	dropOverLimit      bool // an event over the client's SETTINGS_MAX_HEADER_LIST_SIZE left out, the stream going on
	refNotFound        bool // references that do not resolve
	noAck              bool // no first 106
	lateAck            bool // the first 106 only with the first event
	ackNoSharing       bool // the first 106 without Subscription-Sharing
	ackCacheControl    bool // the first 106 with Cache-Control, as if RFC 9111 applied to it
	ackNoStartID       bool // the first 106 without the starting id
	duplicateIDs       bool // every event sent twice
	idsPerSubscriber   bool // each subscriber gets other ids
	ignoreLastEventID  bool // resumption starts from now
	silentGap          bool // an unknown Last-Event-ID starts from now, without a gap
	gapWrongID         bool // the gap's id is not where the stream continues
	gapAsType          bool // a gap is an event of type "gap" whose data is the URL, without the gap member
	gapWithoutPrev     bool // the gap does not name Last-Event-ID as its prev
	noPrev             bool // events do not name the event before them
	noKeepalive        bool // no 106 keepalives
	plainErrors        bool // errors in text/plain, not problem details
	endWith200         bool // an ended stream's subscriptions end with 200
	http10Interim      bool // SUB over HTTP/1.0 served as over HTTP/1.1
	http10NoHint       bool // the 505 says nothing of what to do instead
	writeAfterMore     bool // over HTTP/1.1, goes on writing after the client sent more (net/http's way)
	pubOnGET           bool // a GET answered with a 105
	noSSE              bool // no text/event-stream
	sseNoCache         bool // the SSE response without no-cache
	sseAltersData      bool // SSE data differs from the PUB's
	noPUBOverHTTP      int  // no 105 over this major version of HTTP
	noSettings         bool // no SETTINGS_ENABLE_SUB in HTTP/2's SETTINGS
	noEcho             bool // no Enable-SUB on the HTTP/1.1 106, even when negotiated
	echoUnasked        bool // Enable-SUB on the HTTP/1.1 106 of a request that did not negotiate
	ackUnmarked        bool // the acknowledging 106 without Enable-SUB, on every version
	keepaliveMarked    bool // Enable-SUB on the keepalive 106s too
}

func base64(b []byte) string { return b64.StdEncoding.EncodeToString(b) }
