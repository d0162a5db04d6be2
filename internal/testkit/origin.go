package testkit

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Origin is a small origin serving streams from memory, on real TLS (h1, h2,
// h3) and cleartext listeners on loopback:
//
//	/public/NAME    shareable (Cache-Control: public, Vary: Authorization)
//	/private/NAME   only for "Authorization: Bearer NAME", private, until
//	                Revoke(NAME)
//	/events/SEQ     the payload of an event of /public/refs, for events
//	                sent by reference (GET)
//
// HEAD of a stream with the Accept of an event stream answers as a
// subscription would begin (200, or its refusal), without one, as subpub's
// origin does.
//
// Event ids are the log's sequence numbers, as at subpub's origin. It can be
// stopped and started again on the same ports with the same log, as a
// restarting origin with a durable log would.
type Origin struct {
	// Log holds every stream's events; Publish appends to it.
	Log *origin.MemoryLog
	// CA issued the servers' certificate; clients trust CA.CAFile.
	CA *host.LocalCA
	// Streamer serves the subscriptions of the current run. NewOrigin's
	// configure sets its fields before each run starts.
	Streamer *stream.Streamer
	// SSEOnly answers SUB with 405, as an origin that only speaks SSE.
	SSEOnly atomic.Bool

	// Subscriptions counts the subscriptions ever served, RefFetches the
	// GETs of /events/SEQ, Probes the HEADs of streams.
	Subscriptions, RefFetches, Probes atomic.Int64

	revoked sync.Map // names whose token is no longer accepted

	t         testing.TB
	hub       *origin.Hub
	group     *originGroup // the origins serving Log
	configure func(*stream.Streamer)
	srv       *host.Server
	addr      string
	plainAddr string
}

// NewOrigin starts an Origin; it stops with the test. configure, when not
// nil, sets the Streamer's fields (its Metrics, limits, timers) for every
// run; by default a Streamer keeps alive every second and has no
// per-client bound.
func NewOrigin(t testing.TB, configure func(*stream.Streamer)) *Origin {
	t.Helper()
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := &Origin{t: t, CA: ca, Log: &origin.MemoryLog{}, configure: configure, addr: "127.0.0.1:0", plainAddr: "127.0.0.1:0"}
	o.hub = &origin.Hub{Log: o.Log}
	o.group = &originGroup{members: []*Origin{o}}
	o.Start()
	t.Cleanup(o.Stop)
	return o
}

// originGroup is the origins serving one log, as origin processes on one
// database do: an event published through any reaches the subscribers of
// every one, with the same id.
type originGroup struct {
	mu      sync.Mutex // keeps the order of publications the same in every hub
	members []*Origin
}

// NewReplica starts another Origin serving o's log, with o's certificate
// authority, on ports of its own: a second origin process on the same
// database. Events published through either reach the subscribers of both,
// with the same ids, so a subscription resumes on one from an id the other
// gave. It stops with the test.
func (o *Origin) NewReplica(configure func(*stream.Streamer)) *Origin {
	o.t.Helper()
	r := &Origin{t: o.t, CA: o.CA, Log: o.Log, configure: configure, addr: "127.0.0.1:0", plainAddr: "127.0.0.1:0", group: o.group}
	r.hub = &origin.Hub{Log: o.Log}
	o.group.mu.Lock()
	o.group.members = append(o.group.members, r)
	o.group.mu.Unlock()
	r.Start()
	o.t.Cleanup(r.Stop)
	return r
}

// Start serves again after Stop, on the same ports.
func (o *Origin) Start() {
	o.t.Helper()
	o.Streamer = &stream.Streamer{KeepAlive: time.Second, MaxPerClient: -1}
	if o.configure != nil {
		o.configure(o.Streamer)
	}
	o.srv = &host.Server{Handler: o, Addr: o.addr, PlainAddr: o.plainAddr, TLSConfig: o.CA.TLSConfig(), Settings: stream.Settings(), OnShutdown: o.Streamer.Shutdown,
		QueuedBudget: o.Streamer.Budget} // the HTTP/2 queues and the Streamer's writers charge one account
	if err := o.srv.Start(); err != nil {
		o.t.Fatal(err)
	}
	o.addr, o.plainAddr = o.srv.TLSAddr().String(), o.srv.PlainListenAddr().String()
}

// Stop ends every subscription as a shutting-down server does and closes
// the listeners.
func (o *Origin) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	o.Shutdown(ctx)
}

// Shutdown is Stop with a deadline of the caller's, reporting what went
// wrong.
func (o *Origin) Shutdown(ctx context.Context) error { return o.srv.Shutdown(ctx) }

// PlainAddr is the cleartext listener's address, for raw requests.
func (o *Origin) PlainAddr() string { return o.plainAddr }

// URL is the TLS base URL.
func (o *Origin) URL() *url.URL { return &url.URL{Scheme: "https", Host: o.addr} }

// StreamURL is the URL of a stream's path over TLS, or over cleartext when
// plain is set.
func (o *Origin) StreamURL(path string, plain bool) string {
	if plain {
		return "http://" + o.plainAddr + path
	}
	return "https://" + o.addr + path
}

// Publish appends an event of type Add to stream path (such as
// "/public/a") and fans it out.
func (o *Origin) Publish(path, data string) origin.LogEvent {
	return o.PublishEvent(path, wire.Event{Type: "Add", Data: []byte(data)})
}

// PublishEvent appends e to stream path and fans it out.
func (o *Origin) PublishEvent(path string, e wire.Event) origin.LogEvent {
	o.group.mu.Lock()
	defer o.group.mu.Unlock()
	le := o.Log.Publish(o.hub, path, e)
	for _, peer := range o.group.members {
		if peer != o {
			peer.hub.Publish(path, le)
		}
	}
	return le
}

// Revoke stops accepting "Bearer NAME": requests with it get 401 from now
// on. Subscriptions already open with it go on, as at an origin that has
// not noticed yet.
func (o *Origin) Revoke(name string) { o.revoked.Store(name, true) }

// End ends stream path: its subscribers get 204 after what is left.
func (o *Origin) End(path string) { o.hub.End(path) }

// Active counts the subscriptions being served now.
func (o *Origin) Active() int { return o.Streamer.Active() }

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if seq, ok := strings.CutPrefix(r.URL.Path, "/events/"); ok && r.Method == http.MethodGet {
		o.serveRef(w, r, seq)
		return
	}
	kind, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if (kind != "public" && kind != "private") || name == "" {
		// Named by its absolute URL, as subpub's origin names a resource.
		stream.WriteProblem(w, http.StatusNotFound, "no such stream: https://"+r.Host+r.URL.Path)
		return
	}
	if o.SSEOnly.Load() && r.Method == wire.MethodSUB {
		w.Header().Set("Allow", "GET")
		stream.WriteProblem(w, http.StatusMethodNotAllowed, "subscribe with GET Accept: text/event-stream")
		return
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if _, revoked := o.revoked.Load(token); revoked {
			w.Header().Set("WWW-Authenticate", `Bearer realm="test", error="invalid_token"`)
			stream.WriteProblem(w, http.StatusUnauthorized, "the token has been revoked")
			return
		}
	}
	if kind == "private" && r.Header.Get("Authorization") != "Bearer "+name {
		status := http.StatusForbidden
		if r.Header.Get("Authorization") == "" {
			status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
		}
		stream.WriteProblem(w, status, "this stream is "+name+"'s")
		return
	}
	if r.Method == http.MethodHead {
		o.Probes.Add(1)
		w.Header().Set("Content-Type", wire.ContentTypeSSE)
		stream.SetSharing(w.Header(), wire.FormatSSE, kind == "public")
		w.Header().Set("Vary", "Authorization")
		return
	}
	o.serveStream(w, r, kind == "public")
}

// serveStream serves a subscription to the stream of r's path, resumed
// after Last-Event-ID, or refuses a request that is not one with 405.
func (o *Origin) serveStream(w http.ResponseWriter, r *http.Request, shareable bool) {
	format, err := stream.Negotiate(r)
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	if format == 0 {
		w.Header().Set("Allow", "GET, SUB")
		stream.WriteProblem(w, http.StatusMethodNotAllowed, "subscribe with SUB, or GET with Accept: text/event-stream")
		return
	}
	// The stream's newest event, which its next one names as its prev, or,
	// for a stream without one, the log's newest: as subpub's origin does.
	after := cmp.Or(o.Log.Head(r.URL.Path), o.Log.Last())
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if after, err = strconv.ParseUint(id, 10, 64); err != nil {
			stream.WriteProblem(w, http.StatusBadRequest, "Last-Event-ID: not an event id of this stream (decimal digits)")
			return
		}
	}
	o.Subscriptions.Add(1)
	feed := o.hub.Subscribe(r.Context(), r.URL.Path, after, nil)
	o.Streamer.Serve(w, r, format, stream.Subscription{Feed: feed, Shareable: shareable, Vary: []string{"Authorization"}})
}

func (o *Origin) serveRef(w http.ResponseWriter, r *http.Request, seq string) {
	o.RefFetches.Add(1)
	n, _ := strconv.ParseUint(seq, 10, 64)
	events, _ := o.Log.ReadAfter(r.Context(), "/public/refs", n-1, 1)
	if len(events) == 0 || events[0].Seq != n {
		stream.WriteProblem(w, http.StatusNotFound, "no such event")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600, immutable")
	w.Write(events[0].Event.Data)
}
