package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/subpub/subpub/wire"
)

// Per-hop negotiation of SUB (see wire.SettingEnableSUB), in ModeAuto.
//
// Each SUB attempt must be acknowledged by its next hop: a 106 carrying
// Enable-SUB, which a server that implements SUB sends on HTTP/2 and
// HTTP/3, and on HTTP/1.1 in answer to the Enable-SUB the client sends
// listed in Connection (an intermediary that does not implement SUB removes
// that request field, so the server does not mark its 106). A 106 without
// the mark is a keepalive, or another hop's: it establishes nothing.
//
// What the client can see of the hop depends on the HTTP version:
//
//   - HTTP/3: quic-go gives the server's SETTINGS. Without
//     SETTINGS_ENABLE_SUB the client does not send SUB at all.
//   - HTTP/2: net/http's transport keeps the server's SETTINGS to itself,
//     so the client relies on the mark of the 106 and on the timers. An
//     HTTP/2 intermediary that does not implement SUB but forwards interim
//     responses unchanged passes the origin's mark on; one that speaks
//     HTTP/1.1 to the origin sends no Enable-SUB there, and the origin's
//     106 is not marked.
//   - HTTP/1.1: the request field and its echo.
//
// The fallback to SSE (a GET with Accept: text/event-stream and the same
// Last-Event-ID) happens when no acknowledgement arrives within
// AcknowledgeTimeout, when a 105 arrives before one (a hop relays interim
// responses without having negotiated: the events may not even be this
// subscription's), when the attempt fails before an acknowledgement with a
// final 5xx or a broken response (ErrFailedBeforeAcknowledgement), or when
// an acknowledged attempt hears nothing more until the keepalive timeout or
// the connection's failure (a hop that passed the acknowledgement on but
// not what follows). Any other failure of an attempt is retried with SUB.

// ErrNotAcknowledged reports a SUB attempt whose next hop did not
// acknowledge it within the acknowledgement timeout.
var ErrNotAcknowledged = errors.New("the next hop did not acknowledge SUB (no 106 with Enable-SUB) in time")

// ErrUnacknowledgedEvent reports a 105 (PUB) received before any
// acknowledgement: some hop relays interim responses without implementing
// SUB.
var ErrUnacknowledgedEvent = errors.New("a 105 (PUB) arrived before the next hop acknowledged SUB")

// ErrSilentAfterAcknowledgement reports an acknowledged SUB attempt after
// whose acknowledgement nothing arrived (no event, no keepalive) before the
// keepalive timeout or the connection's failure: an intermediary passed the
// acknowledgement on, but not what follows it.
var ErrSilentAfterAcknowledgement = errors.New("nothing followed the acknowledgement")

// brokenOff reports an attempt that ended without the server saying
// anything of it: the keepalive timeout, or a connection that failed. A
// final response, the stream's end, a malformed event, or the subscriber
// leaving are not.
func brokenOff(err error) bool {
	var se *wire.StatusError
	switch {
	case err == nil, errors.As(err, &se), errors.Is(err, wire.ErrStreamEnded), errors.Is(err, ErrMalformedEvent),
		errors.Is(err, context.Canceled), errors.Is(err, ErrNotAcknowledged):
		return false
	}
	return true
}

// ErrFailedBeforeAcknowledgement reports a SUB attempt that failed after
// its request went out and before any acknowledgement, in a way that says
// more of the path than of the resource: a final 500, 502, 503 or 504 (a
// proxy that cannot forward SUB, Varnish's 503), or a broken or malformed
// response (an HTTP/2 proxy that ends the stream with a 1xx, as Traffic
// Server does). A final 4xx is the resource's answer and is not one.
var ErrFailedBeforeAcknowledgement = errors.New("SUB failed before the next hop acknowledged it")

// failedBeforeAcknowledgement reports whether an attempt that was never
// acknowledged failed as ErrFailedBeforeAcknowledgement says. A connection
// closed before any response at all (answered is false and the error an
// EOF) is the server's, or a wrong port's, as for any request: it is not
// the path's.
func failedBeforeAcknowledgement(err error, sent, answered bool) bool {
	var se *wire.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return sent && brokenOff(err) && (answered || FailureOf(err) != FailureEmptyReply)
}

// ErrSUBNotEnabled reports an HTTP/3 server whose SETTINGS do not enable
// SUB: SUB is not sent to it.
var ErrSUBNotEnabled = errors.New("the server's HTTP/3 SETTINGS do not enable SUB (no SETTINGS_ENABLE_SUB)")

// errNoSettings reports an HTTP/3 connection whose SETTINGS did not arrive
// within the acknowledgement timeout.
var errNoSettings = errors.New("no HTTP/3 SETTINGS from the server in time")

// negotiationFailed reports an attempt that shows that the path does not
// carry SUB, whatever the server behind it does: ModeAuto then subscribes
// with SSE.
func negotiationFailed(err error) bool {
	for _, e := range []error{ErrNotAcknowledged, ErrUnacknowledgedEvent, ErrSilentAfterAcknowledgement, ErrSUBNotEnabled, errNoSettings} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// negotiateHTTP1 adds the HTTP/1.1 negotiation to a SUB request, once its
// connection is known to be HTTP/1.1 (httptrace's GotConn, before the
// transport writes the request): net/http's HTTP/2 transport refuses a
// request whose Connection names anything but close or keep-alive.
func negotiateHTTP1(h http.Header) { wire.SetHopEnablesSUB(h) }

// http3EnablesSUB waits, at most timeout, for the server's HTTP/3 SETTINGS
// and reports whether they enable SUB.
func http3EnablesSUB(ctx context.Context, cc *http3.ClientConn, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cc.ReceivedSettings():
	case <-t.C:
		return errNoSettings
	case <-ctx.Done():
		return ctx.Err()
	}
	if cc.Settings().Other[wire.SettingEnableSUB] != 1 {
		return ErrSUBNotEnabled
	}
	return nil
}
