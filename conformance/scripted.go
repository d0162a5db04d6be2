package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/host/h2"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Defaults of a ScriptedServer.
const (
	// DefaultScriptedKeepAlive is the scripted server's keepalive
	// interval: short, so that a run need not wait the fifteen seconds
	// the draft recommends.
	DefaultScriptedKeepAlive = time.Second
	// DefaultScriptedInlineLimit is the size of a 105 above which it sends
	// an event by reference, the draft's recommended threshold.
	DefaultScriptedInlineLimit = inlineThreshold
	// maxPublishBody bounds the payload of a POST to /publish.
	maxPublishBody = 1 << 20
	// extensionMember is a member of Event the draft does not define,
	// which the scripted server puts in every event so that the suite can
	// see whether an intermediary relays what it does not understand.
	extensionMember = "x-conformance=?1"
)

// ScriptedServer is a small SUB and SSE server with streams in memory, on
// a cleartext listener (HTTP/1.1 and HTTP/2 with prior knowledge). The
// suite serves it as the upstream of an intermediary under test, and
// publishes on it directly, so that it knows exactly what the intermediary
// was given; it is also a complete server in the origin role.
//
//	/public/NAME    a stream anyone may subscribe to (Subscription-Sharing: shared)
//	/private/NAME   a stream per bearer token (Subscription-Sharing: per-credential):
//	                each token sees only the events published for it
//	/events/ID      the payload of an event sent by reference
//	POST /publish?stream=/public/NAME   publishes the body as an event
//
// Event ids are decimal sequence numbers, increasing across all streams.
type ScriptedServer struct {
	// KeepAlive is the interval of 106 keepalives and SSE comments.
	// Default DefaultScriptedKeepAlive.
	KeepAlive time.Duration
	// InlineLimit: events whose 105 would be larger (see wire.InlineSize)
	// go by reference. Default
	// DefaultScriptedInlineLimit.
	InlineLimit int

	mu            sync.Mutex
	seq           uint64
	streams       map[string]*scriptedStream
	payloads      map[string][]byte // by event id, the events sent by reference
	lose          map[string]bool   // by key, the next event is lost once (see loseOnce)
	lost          map[string]bool   // by event id, lost on the next SUB subscription to write it
	subscriptions map[string]int    // by path, every subscription ever served
	subscribers   int

	srv  *host.Server
	base string // the URL it serves at, once listening

	// defects break the server on purpose, for the suite's own tests: a
	// check must fail on the defect it targets.
	defects defects
}

// scriptedStream is one stream's events and the subscribers waiting for
// more.
type scriptedStream struct {
	events []wire.Event
	seqs   []uint64
	ended  bool
	wake   chan struct{} // closed and replaced when the stream changes
}

// Start listens on addr ("127.0.0.1:0" for any port) and serves until
// Close.
//
// It serves HTTP/1.1 and h2c (prior knowledge) as host.Server does, and so
// advertises SETTINGS_ENABLE_SUB on HTTP/2 (stream.Settings).
func (s *ScriptedServer) Start(addr string) error {
	s.srv = &host.Server{Handler: s, PlainAddr: addr}
	if !s.defects.noSettings {
		s.srv.Settings = stream.Settings()
	}
	if err := s.srv.Start(); err != nil {
		return fmt.Errorf("scripted upstream: %w", err)
	}
	s.base = "http://" + s.srv.PlainListenAddr().String()
	return nil
}

// Close stops serving: every subscription ends abruptly.
func (s *ScriptedServer) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// URL is the server's base URL.
func (s *ScriptedServer) URL() string { return s.base }

// Subscriptions counts the subscriptions (SUB and SSE) ever served for
// path, whatever their credentials.
func (s *ScriptedServer) Subscriptions(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscriptions[path]
}

// Publish publishes an event with data on the public stream path and
// returns it as sent, with its id.
func (s *ScriptedServer) Publish(path string, data []byte) wire.Event {
	return s.publish(path, wire.Event{Type: "Add", Data: data})
}

// PublishPrivate publishes an event on the private stream path of the
// bearer token.
func (s *ScriptedServer) PublishPrivate(path, token string, data []byte) wire.Event {
	return s.publish(privateKey(path, "Bearer "+token), wire.Event{Type: "Add", Data: data})
}

// End ends the public stream path: its subscriptions end with 204, and
// later ones get 410.
func (s *ScriptedServer) End(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(path)
	st.ended = true
	close(st.wake)
	st.wake = make(chan struct{})
}

func privateKey(path, authorization string) string { return path + "\x00" + authorization }

func (s *ScriptedServer) publish(key string, e wire.Event) wire.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.ID = s.idOf(s.seq)
	e.Time = time.Now().Truncate(time.Millisecond)
	if n, _ := wire.InlineSize(&e); n > setting.Or(s.InlineLimit, DefaultScriptedInlineLimit) {
		if s.payloads == nil {
			s.payloads = map[string][]byte{}
		}
		s.payloads[e.ID] = e.Data
		e.Ref = "/events/" + e.ID
	}
	st := s.stream(key)
	if n := len(st.events); n > 0 {
		e.Prev = st.events[n-1].ID
	}
	if s.lose[key] {
		delete(s.lose, key)
		if s.lost == nil {
			s.lost = map[string]bool{}
		}
		s.lost[e.ID] = true
	}
	st.events = append(st.events, e)
	st.seqs = append(st.seqs, s.seq)
	close(st.wake)
	st.wake = make(chan struct{})
	return e
}

// stream is the stream of key, made if new. s.mu is held.
func (s *ScriptedServer) stream(key string) *scriptedStream {
	if s.streams == nil {
		s.streams = map[string]*scriptedStream{}
	}
	st := s.streams[key]
	if st == nil {
		st = &scriptedStream{wake: make(chan struct{})}
		s.streams[key] = st
	}
	return st
}

// loseOnce makes the next event published on the public stream path be
// lost on the first SUB subscription that would write it, as a proxy that
// drops one 105 on the way would: a subscription that resumes from before
// it receives it.
func (s *ScriptedServer) loseOnce(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lose == nil {
		s.lose = map[string]bool{}
	}
	s.lose[path] = true
}

// takeLost reports whether the event id is to be lost now, and if so,
// not again.
func (s *ScriptedServer) takeLost(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lost[id] {
		return false
	}
	delete(s.lost, id)
	return true
}

// position is the sequence number of the newest event of key (0 if none),
// and whether a subscriber whose last event was seq can be replayed to
// without missing anything: seq is an event of key (or 0 for an empty
// stream).
func (s *ScriptedServer) position(key string, seq uint64) (head uint64, replayable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(key)
	if n := len(st.seqs); n > 0 {
		head = st.seqs[n-1]
	}
	return head, slices.Contains(st.seqs, seq)
}

// after returns the events of key after sequence number seq, the newest
// sequence number, whether the stream ended, and what to wait on for more.
func (s *ScriptedServer) after(key string, seq uint64) ([]wire.Event, []uint64, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stream(key)
	i := 0
	for i < len(st.seqs) && st.seqs[i] <= seq {
		i++
	}
	return append([]wire.Event(nil), st.events[i:]...), append([]uint64(nil), st.seqs[i:]...), st.ended, st.wake
}

func (s *ScriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/publish" && r.Method == http.MethodPost:
		s.servePublish(w, r)
		return
	case strings.HasPrefix(r.URL.Path, "/events/") && r.Method == http.MethodGet:
		s.servePayload(w, strings.TrimPrefix(r.URL.Path, "/events/"))
		return
	}
	kind, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if (kind != "public" && kind != "private") || name == "" {
		s.problem(w, http.StatusNotFound, "no stream at "+r.URL.Path+": streams are /public/NAME and /private/NAME")
		return
	}
	key, public := r.URL.Path, kind == "public"
	if !public {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "Bearer ") || len(auth) == len("Bearer ") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scripted"`)
			s.problem(w, http.StatusUnauthorized, "a private stream needs Authorization: Bearer TOKEN")
			return
		}
		key = privateKey(r.URL.Path, auth)
	}
	if r.Method == http.MethodHead {
		// What a GET for the event stream would begin with, for an
		// intermediary confirming a credential.
		s.streamFields(w.Header(), public, wire.FormatSSE)
		w.Header().Set("Content-Type", wire.ContentTypeSSE)
		return
	}
	format, err := stream.Negotiate(r)
	var se *wire.StatusError
	if errors.As(err, &se) && se.Status == http.StatusHTTPVersionNotSupported {
		switch {
		case s.defects.http10Interim:
			format, err = wire.FormatPUB, nil
		case s.defects.http10NoHint:
			s.problem(w, se.Status, "not supported")
			return
		}
	}
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	switch {
	case format == 0 && r.Method == http.MethodGet && s.defects.pubOnGET:
		s.writePUB(w, r.ProtoMajor, wire.Event{ID: "0", Type: "Add"}, 0)
		w.Write([]byte("not a stream\n"))
		return
	case format == 0, format == wire.FormatSSE && s.defects.noSSE:
		w.Header().Set("Allow", "GET, HEAD, SUB")
		s.problem(w, http.StatusMethodNotAllowed, "subscribe with SUB, or GET with Accept: text/event-stream")
		return
	}
	lastID, err := wire.LastEventID(r.Header)
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	s.mu.Lock()
	ended := s.stream(key).ended
	s.mu.Unlock()
	if ended {
		s.problem(w, http.StatusGone, "this stream has ended")
		return
	}
	head, _ := s.position(key, 0)
	from, gap := head, false
	if lastID != "" && !s.defects.ignoreLastEventID {
		seq, ok := s.seqOf(lastID)
		_, replayable := s.position(key, seq)
		switch {
		case !ok:
			s.problem(w, http.StatusBadRequest, "Last-Event-ID: not an id of this server (decimal digits)")
			return
		case replayable:
			from = seq
		case s.defects.silentGap:
		default:
			gap = true
		}
	}
	s.mu.Lock()
	if s.subscriptions == nil {
		s.subscriptions = map[string]int{}
	}
	s.subscriptions[r.URL.Path]++
	s.subscribers++
	offset := uint64(0)
	if s.defects.idsPerSubscriber {
		offset = uint64(s.subscribers) * 1000
	}
	s.mu.Unlock()
	sub := &scriptedSubscription{s: s, w: w, r: r, key: key, public: public, from: from, offset: offset, announce: lastID == ""}
	if gap {
		sub.gap = &wire.Event{Prev: lastID, Gap: r.URL.Path, Time: time.Now().Truncate(time.Millisecond)}
		if head != 0 {
			sub.gap.ID = s.idOf(head)
		}
		switch {
		case s.defects.gapWrongID:
			sub.gap.ID = "0"
		case s.defects.gapAsType:
			sub.gap.Gap, sub.gap.Type, sub.gap.Data = "", "gap", []byte(r.URL.Path)
		case s.defects.gapWithoutPrev:
			sub.gap.Prev = ""
		}
	}
	switch {
	case format == wire.FormatSSE:
		sub.serveSSE()
	case r.ProtoMajor == 1 && !s.defects.writeAfterMore:
		hs, r, err := takeOverHTTP1(w, r)
		if err != nil {
			return
		}
		defer hs.Close()
		sub.w, sub.r = hs, r
		sub.serveSUB()
	default:
		sub.serveSUB()
	}
}

// idOf is the event id of a sequence number.
func (s *ScriptedServer) idOf(seq uint64) string {
	return strconv.FormatUint(seq, 10)
}

func (s *ScriptedServer) seqOf(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// streamFields are the fields describing a stream: the first 106's, or the
// SSE response's.
func (s *ScriptedServer) streamFields(h http.Header, public bool, format wire.Format) {
	if !(format == wire.FormatPUB && s.defects.ackNoSharing) {
		h.Set(wire.FieldSubscriptionSharing, wire.SharingValue(public))
	}
	switch {
	case format == wire.FormatSSE && !s.defects.sseNoCache:
		stream.SetSharing(h, format, public)
	case format == wire.FormatPUB && s.defects.ackCacheControl:
		h.Set("Cache-Control", "public")
	}
	h.Set("Vary", "Authorization")
}

func (s *ScriptedServer) problem(w http.ResponseWriter, status int, detail string) {
	if s.defects.plainErrors {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, detail+"\n")
		return
	}
	stream.WriteProblem(w, status, detail)
}

func (s *ScriptedServer) servePublish(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("stream")
	if !strings.HasPrefix(path, "/public/") || len(path) == len("/public/") {
		s.problem(w, http.StatusBadRequest, "?stream= must name a public stream, /public/NAME")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublishBody))
	if err != nil {
		s.problem(w, http.StatusRequestEntityTooLarge, "the payload is larger than 1 MiB")
		return
	}
	e := s.Publish(path, data)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, e.ID+"\n")
}

func (s *ScriptedServer) servePayload(w http.ResponseWriter, id string) {
	s.mu.Lock()
	data, ok := s.payloads[id]
	s.mu.Unlock()
	if !ok || s.defects.refNotFound {
		s.problem(w, http.StatusNotFound, "no event "+id+" sent by reference")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600, immutable")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

// scriptedSubscription is one subscription being served.
type scriptedSubscription struct {
	s        *ScriptedServer
	w        http.ResponseWriter
	r        *http.Request
	key      string
	public   bool
	from     uint64      // the last sequence number delivered
	offset   uint64      // added to ids (the idsPerSubscriber defect)
	announce bool        // the first 106 says where the stream starts
	gap      *wire.Event // sent first, when the server cannot replay
}

// serveSUB writes the acknowledgement, then events and keepalives, until
// the client leaves or the stream ends (204).
func (sub *scriptedSubscription) serveSUB() {
	s, w, h := sub.s, sub.w, sub.w.Header()
	acked := false
	writeAck := func() {
		s.streamFields(h, sub.public, wire.FormatPUB)
		if sub.announce && !s.defects.ackNoStartID {
			h.Set(wire.FieldEvent, `id="`+s.idOf(sub.from)+`"`)
		}
		s.markAcknowledgement(h, sub.r)
		w.WriteHeader(wire.StatusNoOperation)
		for _, name := range []string{"Cache-Control", wire.FieldSubscriptionSharing, "Vary", wire.FieldEvent, wire.FieldEnableSUB, "Connection"} {
			h.Del(name)
		}
		acked = true
	}
	if !s.defects.noAck && !s.defects.lateAck {
		writeAck()
	}
	if sub.gap != nil {
		if !acked && s.defects.lateAck {
			writeAck()
		}
		s.writePUB(w, sub.r.ProtoMajor, *sub.gap, 0)
	}
	keepalive := time.NewTimer(setting.Or(s.KeepAlive, DefaultScriptedKeepAlive))
	defer keepalive.Stop()
	for {
		events, seqs, ended, wake := s.after(sub.key, sub.from)
		for i, e := range events {
			if !acked && s.defects.lateAck {
				writeAck()
			}
			sub.from = seqs[i]
			if s.takeLost(e.ID) {
				continue
			}
			if err := s.writePUB(w, sub.r.ProtoMajor, e, sub.offset); err != nil && !s.defects.dropOverLimit {
				// An event held inline, over the client's
				// SETTINGS_MAX_HEADER_LIST_SIZE: end, saying so.
				s.problem(w, http.StatusBadGateway, err.Error())
				return
			}
			if s.defects.duplicateIDs {
				s.writePUB(w, sub.r.ProtoMajor, e, sub.offset)
			}
			acked = true // noAck: keepalives from now on
			sub.from = seqs[i]
		}
		if len(events) > 0 {
			keepalive.Reset(setting.Or(s.KeepAlive, DefaultScriptedKeepAlive))
		}
		if ended {
			if s.defects.endWith200 {
				w.WriteHeader(http.StatusOK)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		select {
		case <-wake:
		case <-keepalive.C:
			// Before the acknowledgement, a keepalive would be one.
			if acked && !s.defects.noKeepalive {
				if s.defects.keepaliveMarked {
					h.Set(wire.FieldEnableSUB, wire.EnableSUBValue)
				}
				w.WriteHeader(wire.StatusNoOperation)
				h.Del(wire.FieldEnableSUB)
			}
			keepalive.Reset(setting.Or(s.KeepAlive, DefaultScriptedKeepAlive))
		case <-sub.r.Context().Done():
			return
		}
	}
}

// markAcknowledgement marks the acknowledging 106 as the draft says (see
// stream's acknowledgementFields), but for what the defects change.
func (s *ScriptedServer) markAcknowledgement(h http.Header, r *http.Request) {
	switch {
	case s.defects.ackUnmarked:
	case r.ProtoMajor >= 2:
		h.Set(wire.FieldEnableSUB, wire.EnableSUBValue)
	case wire.HopEnablesSUB(r.Header) && !s.defects.noEcho, s.defects.echoUnasked:
		wire.SetHopEnablesSUB(h)
	}
}

// writePUB writes e as a 105 (PUB) in HTTP version major, with what the
// defects change. Over HTTP/2 it returns host/h2's error for a PUB over the
// client's SETTINGS_MAX_HEADER_LIST_SIZE, which is not sent.
func (s *ScriptedServer) writePUB(w http.ResponseWriter, major int, e wire.Event, offset uint64) error {
	if offset > 0 {
		seq, _ := s.seqOf(e.ID)
		e.ID = s.idOf(seq + offset)
		if e.Prev != "" {
			seq, _ := s.seqOf(e.Prev)
			e.Prev = s.idOf(seq + offset)
		}
	}
	d := &s.defects
	if e.Ref == "" || d.inlineLarge {
		e.Ref = ""
		if data, ok := s.payloadOf(e); ok {
			e.Data = data
		}
	} else {
		e.Data = nil
	}
	if d.escapeNonASCII {
		q := strconv.QuoteToASCII(string(e.Data))
		e.Data = []byte(q[1 : len(q)-1])
	}
	if d.noIDs {
		e.ID = ""
	}
	if d.noPrev {
		e.Prev = ""
	}
	fields, err := wire.EncodePUB(&e)
	if err != nil {
		return nil
	}
	h := w.Header()
	event := fields.Event + ", " + extensionMember
	switch {
	case d.eventNotDictionary:
		event = strconv.Quote(e.ID)
	case d.idNotString && e.ID != "":
		event = strings.Replace(event, `id="`+e.ID+`"`, "id="+e.ID, 1)
	case d.idWithSpace && e.ID != "":
		event = strings.Replace(event, `id="`+e.ID+`"`, `id=" `+e.ID+`"`, 1)
	}
	if !d.pubWithoutEvent {
		h.Set(wire.FieldEvent, event)
	}
	data := fields.EventData
	switch {
	case d.eventDataNotItem && data != "":
		data = string(e.Data)
	case d.printableAsBytes && data != "":
		data = ":" + base64(e.Data) + ":"
	case d.refWithData && e.Ref != "":
		data = `""`
	}
	if data != "" {
		h.Set(wire.FieldEventData, data)
	}
	if d.extraPUBFields {
		h.Set("X-Event-Sequence", e.ID)
	}
	var refused error // host/h2 refuses a PUB over the client's limit, and says so
	if d.noPUBOverHTTP != major || e.IsGap() {
		if iw, ok := w.(h2.InterimWriter); ok {
			refused = iw.WriteInterim(wire.StatusPUB, h)
		} else {
			w.WriteHeader(wire.StatusPUB)
		}
	}
	for _, name := range []string{wire.FieldEvent, wire.FieldEventData, "X-Event-Sequence"} {
		h.Del(name)
	}
	return refused
}

// payloadOf is the payload of an event sent by reference.
func (s *ScriptedServer) payloadOf(e wire.Event) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.payloads[strings.TrimPrefix(e.Ref, "/events/")]
	return data, ok
}

// serveSSE writes the stream as text/event-stream until the client leaves;
// an ended stream ends the content.
func (sub *scriptedSubscription) serveSSE() {
	s, w := sub.s, sub.w
	s.streamFields(w.Header(), sub.public, wire.FormatSSE)
	w.Header().Set("Content-Type", wire.ContentTypeSSE)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf []byte
	if sub.announce {
		buf = append(buf, "id: "+s.idOf(sub.from)+"\n\n"...)
	}
	if sub.gap != nil {
		buf = wire.AppendSSE(buf, sub.gap)
	}
	keepalive := time.NewTicker(setting.Or(s.KeepAlive, DefaultScriptedKeepAlive))
	defer keepalive.Stop()
	for {
		events, seqs, ended, wake := s.after(sub.key, sub.from)
		for i, e := range events {
			if data, ok := s.payloadOf(e); ok {
				e.Data, e.Ref = data, "" // inline, for EventSource
			}
			if s.defects.sseAltersData {
				e.Data = append([]byte("altered "), e.Data...)
			}
			buf = wire.AppendSSE(buf, &e)
			sub.from = seqs[i]
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			rc.Flush()
			buf = buf[:0]
		}
		if ended {
			return
		}
		select {
		case <-wake:
		case <-keepalive.C:
			buf = append(buf, wire.SSEKeepalive...)
		case <-sub.r.Context().Done():
			return
		}
	}
}

// ScriptedPublisher publishes on a ScriptedServer's public stream directly,
// for a run of the suite in the same process; it ends streams of its own.
type ScriptedPublisher struct {
	Server *ScriptedServer
	// Path is the stream the run subscribes to, /public/NAME.
	Path string
	ends int
}

func (p *ScriptedPublisher) Publish(_ context.Context, seq, size int) error {
	p.Server.Publish(p.Path, []byte(payload(seq, size)))
	return nil
}

// PublishText publishes text as an event's payload.
func (p *ScriptedPublisher) PublishText(_ context.Context, text string) error {
	p.Server.Publish(p.Path, []byte(text))
	return nil
}

func (p *ScriptedPublisher) NewStream(context.Context) (string, error) {
	p.ends++
	return p.Server.URL() + p.Path + "-ending-" + strconv.Itoa(p.ends), nil
}

func (p *ScriptedPublisher) EndStream(_ context.Context, u string) error {
	p.Server.End(strings.TrimPrefix(u, p.Server.URL()))
	return nil
}

// event returns the event with the given id, as published.
func (s *ScriptedServer) event(id string) wire.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.streams {
		for _, e := range st.events {
			if e.ID == id {
				return e
			}
		}
	}
	return wire.Event{}
}
