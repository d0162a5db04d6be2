package client_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// negotiationTimeout is the acknowledgement timeout of these tests' clients:
// short, so that a fallback after it does not make the tests slow. It is
// not a bound on anything measured.
const negotiationTimeout = 300 * time.Millisecond

// autoWays are the ways ModeAuto subscribes: SUB first, on each version.
var autoWays = []testkit.Way{
	{Name: "auto over HTTP/1.1", Options: client.Options{HTTP: client.HTTP11}},
	{Name: "auto over HTTP/2", Options: client.Options{HTTP: client.HTTP2}},
	{Name: "auto over HTTP/3", Options: client.Options{HTTP: client.HTTP3}},
}

// serveLoopback serves h (HTTP/1.1 and h2c) on a loopback port until the
// test ends and returns its base URL.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &protocols}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// frontOf serves, on a loopback port until the test ends, a reverse proxy
// to o that implements no SUB (net/http/httputil's, which forwards interim
// responses and removes the fields a request's Connection names). Unless
// sub is nil, the front answers SUB requests itself with sub, as the
// intermediary each test stands for; every other request, the fallback's
// SSE request among them, reaches o. It returns the front's base URL.
func frontOf(t *testing.T, o *testkit.Origin, sub http.HandlerFunc) string {
	t.Helper()
	up, _ := url.Parse("http://" + o.PlainAddr())
	next := httputil.NewSingleHostReverseProxy(up)
	if sub == nil {
		return serveLoopback(t, next)
	}
	return serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != wire.MethodSUB {
			next.ServeHTTP(w, r)
			return
		}
		sub(w, r)
	}))
}

// publishBacklog publishes an event to /public/a for subscriptions to
// resume after, then n more after it: it returns the first's id and the
// ids of the n, which a subscription resuming after the first receives.
func publishBacklog(o *testkit.Origin, n int) (first string, backlog []string) {
	first = o.Publish("/public/a", "1").Event.ID
	for i := range n {
		backlog = append(backlog, o.Publish("/public/a", strconv.Itoa(i+2)).Event.ID)
	}
	return first, backlog
}

// expectFallback waits for f's fallback to SSE, checks that its reason is
// want, and returns the reason.
func expectFallback(t *testing.T, f *testkit.Follower, want error) error {
	t.Helper()
	reason := testkit.Receive(t, f.Fallbacks, "the fallback to SSE")
	if !errors.Is(reason, want) {
		t.Errorf("fell back because %v, want %v", reason, want)
	}
	return reason
}

// expectEvents waits for the events want, in order and once each, and
// checks that every event arrived in format.
func expectEvents(t *testing.T, f *testkit.Follower, want []string, format wire.Format) {
	t.Helper()
	got := f.WaitCount(t, len(want))
	if !slices.Equal(got, want) {
		t.Fatalf("got events %v, want %v", got, want)
	}
	for _, e := range f.Events() {
		if e.Format != format {
			t.Fatalf("event %s came as %v, want %v", e.ID, e.Format, format)
		}
	}
}

// Where every hop implements SUB, the negotiation succeeds on each version
// and nothing falls back: the control for the tests below.
func TestAutoModeUsesSUBWhereTheServerNegotiatesIt(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	for _, w := range autoWays {
		t.Run(w.Name, func(t *testing.T) {
			first := o.Publish("/public/a", "1").Event.ID
			opts := w.Options
			opts.CAFile, opts.AcknowledgeTimeout = o.CA.CAFile, negotiationTimeout
			c := testkit.NewClient(t, opts)
			f := testkit.Follow(t, c, o.StreamURL("/public/a", false), first, nil)
			open := f.WaitOpen(t)
			if open.Format != wire.FormatPUB || !wire.EnablesSUB(open.Header) {
				t.Fatalf("opened as %v with %v, want PUB acknowledged with Enable-SUB", open.Format, open.Header)
			}
			// Silent for longer than the acknowledgement timeout: an
			// acknowledged subscription does not time out on it.
			time.Sleep(2 * negotiationTimeout)
			id := o.Publish("/public/a", "2").Event.ID
			expectEvents(t, f, []string{id}, wire.FormatPUB)
			select {
			case reason := <-f.Fallbacks:
				t.Fatalf("fell back to SSE: %v", reason)
			default:
			}
		})
	}
}

// A reverse proxy that does not implement SUB (net/http/httputil's, which
// forwards interim responses and removes the fields a request's Connection
// names): the origin's 106 is not marked, the client falls back to SSE
// from the same Last-Event-ID and receives every event once, in order.
func TestAutoModeFallsBackToSSEThroughAProxyThatDoesNotNegotiate(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	proxy := frontOf(t, o, nil)
	first, backlog := publishBacklog(o, 2)

	c := testkit.NewClient(t, client.Options{HTTP: client.HTTP11, AcknowledgeTimeout: negotiationTimeout})
	f := testkit.Follow(t, c, proxy+"/public/a", first, nil)
	// The proxy relays the origin's 105s, unmarked 106 first: they are
	// not taken for this subscription's.
	expectFallback(t, f, client.ErrUnacknowledgedEvent)
	live := o.Publish("/public/a", "4").Event.ID
	expectEvents(t, f, append(backlog, live), wire.FormatSSE)

	// The control: ModeSUB through the same proxy gets the same events as
	// PUB, so the proxy relays them and the fallback is the negotiation's.
	forced := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11})
	g := testkit.Follow(t, forced, proxy+"/public/a", first, nil)
	expectEvents(t, g, append(backlog, live), wire.FormatPUB)
}

// swallower answers SUB with an unmarked 106 and then nothing, as a proxy
// does that takes the 106 for the final response (on HTTP/1.1, written on
// the connection itself) or forwards no further interim responses.
func swallower(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte("HTTP/1.1 106 No Operation\r\nCache-Control: public\r\nContent-Length: 0\r\n\r\n"))
		<-r.Context().Done()
		return
	}
	w.Header().Set("Cache-Control", "public")
	w.WriteHeader(wire.StatusNoOperation) // written at once, unflushed
	<-r.Context().Done()
}

// With no acknowledgement at all, the client gives up SUB after the
// acknowledgement timeout, over HTTP/1.1 and over HTTP/2, where net/http's
// transport keeps the server's SETTINGS to itself and the mark of the 106
// and the timer are all the client has.
func TestAutoModeFallsBackToSSEWhenNoAcknowledgementArrives(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	front := frontOf(t, o, swallower)
	first, backlog := publishBacklog(o, 1)
	for _, version := range []string{client.HTTP11, client.HTTP2} {
		t.Run(version, func(t *testing.T) {
			c := testkit.NewClient(t, client.Options{HTTP: version, AcknowledgeTimeout: negotiationTimeout})
			f := testkit.Follow(t, c, front+"/public/a", first, nil)
			expectFallback(t, f, client.ErrNotAcknowledged)
			expectEvents(t, f, backlog, wire.FormatSSE)
		})
	}
	// The control: ModeSUB takes the unmarked 106 for an acknowledgement
	// and waits, without falling back.
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11, AcknowledgeTimeout: negotiationTimeout})
	f := testkit.Follow(t, c, front+"/public/a", first, nil)
	if open := f.WaitOpen(t); open.Format != wire.FormatPUB {
		t.Fatalf("ModeSUB opened as %v", open.Format)
	}
	time.Sleep(2 * negotiationTimeout)
	if len(f.Events()) != 0 || len(f.Fallbacks) != 0 {
		t.Fatalf("ModeSUB got %d events, %d fallbacks", len(f.Events()), len(f.Fallbacks))
	}
}

// An HTTP/3 server whose SETTINGS do not enable SUB is not sent SUB at all:
// the client subscribes with SSE at once.
func TestAutoModeUsesSSEWithAnHTTP3ServerWhoseSettingsDoNotEnableSUB(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	srv := &host.Server{Handler: o, Addr: "127.0.0.1:0", TLSConfig: o.CA.TLSConfig()} // no Settings
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	first, backlog := publishBacklog(o, 1)
	c := testkit.NewClient(t, client.Options{HTTP: client.HTTP3, CAFile: o.CA.CAFile, AcknowledgeTimeout: testkit.Timeout})
	f := testkit.Follow(t, c, "https://"+srv.TLSAddr().String()+"/public/a", first, nil)
	expectFallback(t, f, client.ErrSUBNotEnabled)
	expectEvents(t, f, backlog, wire.FormatSSE)
	if o.Subscriptions.Load() != 1 {
		t.Errorf("the server served %d subscriptions, want the SSE one only", o.Subscriptions.Load())
	}
}

// silentAfterAck acknowledges SUB properly, marked, and then sends nothing,
// not even keepalives: an intermediary that passed the acknowledgement on
// and nothing after it.
func silentAfterAck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public")
	w.Header().Set(wire.FieldEnableSUB, wire.EnableSUBValue)
	w.WriteHeader(wire.StatusNoOperation) // written at once, unflushed
	<-r.Context().Done()
}

func TestAutoModeFallsBackToSSEWhenNothingFollowsTheAcknowledgement(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	front := frontOf(t, o, silentAfterAck)
	first, backlog := publishBacklog(o, 1)
	c := testkit.NewClient(t, client.Options{HTTP: client.HTTP2, KeepAliveTimeout: negotiationTimeout})
	f := testkit.Follow(t, c, front+"/public/a", first, nil)
	expectFallback(t, f, client.ErrSilentAfterAcknowledgement)
	expectEvents(t, f, backlog, wire.FormatSSE)
}

// refusing answers SUB with status, as a proxy does that cannot forward
// it (Varnish's 503), or as the resource does (404).
func refusing(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }
}

// A final 5xx to SUB before any acknowledgement says more of the path
// than of the resource: the client falls back to SSE. A 404 is the
// resource's answer, and ends the subscription (the control).
func TestAutoModeFallsBackToSSEOnAServerErrorBeforeTheAcknowledgement(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	first, backlog := publishBacklog(o, 1)
	for _, status := range []int{http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			front := frontOf(t, o, refusing(status))
			c := testkit.NewClient(t, client.Options{HTTP: client.HTTP11})
			f := testkit.Follow(t, c, front+"/public/a", first, nil)
			reason := expectFallback(t, f, client.ErrFailedBeforeAcknowledgement)
			var se *wire.StatusError
			if !errors.As(reason, &se) || se.Status != status {
				t.Errorf("fell back because %v, want it with %d", reason, status)
			}
			expectEvents(t, f, backlog, wire.FormatSSE)
		})
	}
	front := frontOf(t, o, refusing(http.StatusNotFound))
	c := testkit.NewClient(t, client.Options{HTTP: client.HTTP11})
	f := testkit.Follow(t, c, front+"/public/a", first, nil)
	err := testkit.Receive(t, f.Done, "the end of the subscription")
	var se *wire.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound || len(f.Fallbacks) != 0 {
		t.Errorf("404: ended with %v after %d fallbacks, want the 404 and none", err, len(f.Fallbacks))
	}
}

// A response that breaks off before any acknowledgement (an unmarked 106,
// then the connection closes, as a proxy that took it for a final response
// without a length does) is the path's failure too: the client falls back.
func TestAutoModeFallsBackToSSEWhenTheResponseBreaksOffBeforeTheAcknowledgement(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	front := frontOf(t, o, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		conn.Write([]byte("HTTP/1.1 106 No Operation\r\n\r\n"))
		conn.Close()
	})
	first, backlog := publishBacklog(o, 1)
	c := testkit.NewClient(t, client.Options{HTTP: client.HTTP11})
	f := testkit.Follow(t, c, front+"/public/a", first, nil)
	expectFallback(t, f, client.ErrFailedBeforeAcknowledgement)
	expectEvents(t, f, backlog, wire.FormatSSE)
}
