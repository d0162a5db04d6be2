package survey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// How the events of one way of subscribing are counted.
const (
	// Notes is how many notes are published while a subscriber follows
	// the stream through a proxy.
	Notes = 100
	// settle is how long the subscriber is given to be subscribed, through
	// the proxy, before the notes are published: a proxy that buffers the
	// response never tells it that it is.
	settle = time.Second
	// quiet is how long to wait, after the last note, for the events still
	// on their way.
	quiet = 3 * time.Second
	// acknowledgeTimeout is the auto ways' client's wait for the proxy to
	// acknowledge SUB before it falls back to SSE: shorter than the
	// client's default, to keep the survey short; an origin on loopback
	// acknowledges within milliseconds.
	acknowledgeTimeout = 2 * time.Second
	// autoKeepAliveTimeout is how long the auto ways' client lets an
	// acknowledged subscription stay silent before it falls back to SSE
	// (a proxy that passed the 106 on and nothing after it). The notes are
	// published a second after the acknowledgement, so a working path is
	// never silent that long while they flow.
	autoKeepAliveTimeout = 4 * time.Second
	// settleAuto bounds the auto ways' wait for the client to settle on
	// SUB or SSE before the notes are published: the acknowledgement
	// timeout, and the Retry-After that a proxy's 503 may ask the client
	// to wait before it falls back (Varnish says 5 seconds).
	settleAuto = acknowledgeTimeout + 10*time.Second
)

// Way is a way of subscribing through a proxy.
type Way struct {
	Mode client.Mode
	// HTTP is client.HTTP11 or client.HTTP2.
	HTTP string
	// BesideSUB keeps a SUB over HTTP/1.1 open through the proxy, by
	// another client, while this subscriber counts: a proxy that takes
	// the SUB's 106 for its final response may then mistake that stream's
	// bytes for another response.
	BesideSUB bool
}

// Ways are the ways every proxy is tried: SUB and SSE, over HTTP/1.1 and
// HTTP/2, SSE while a SUB is open, and the client's default (SUB, falling
// back to SSE where the proxy does not negotiate SUB) over HTTP/1.1 and
// HTTP/2.
var Ways = []Way{
	{Mode: client.ModeSUB, HTTP: client.HTTP11},
	{Mode: client.ModeSUB, HTTP: client.HTTP2},
	{Mode: client.ModeSSE, HTTP: client.HTTP11},
	{Mode: client.ModeSSE, HTTP: client.HTTP2},
	{Mode: client.ModeSSE, HTTP: client.HTTP11, BesideSUB: true},
	{Mode: client.ModeAuto, HTTP: client.HTTP11},
	{Mode: client.ModeAuto, HTTP: client.HTTP2},
}

func (w Way) String() string {
	proto := "h1"
	if w.HTTP == client.HTTP2 {
		proto = "h2"
	}
	mode := strings.ToUpper(w.Mode.String())
	if w.Mode == client.ModeAuto {
		mode = "SUB→SSE"
	}
	s := mode + " " + proto
	if w.BesideSUB {
		s += " beside a SUB"
	}
	return s
}

// Count is what one subscriber received through a proxy.
type Count struct {
	Way string `json:"way"`
	// Received is how many of the Notes published reached the subscriber.
	Received int `json:"received"`
	// Skipped says why the way was not tried (the proxy does not offer it).
	Skipped string `json:"skipped,omitempty"`
	// Opened says whether the subscriber was ever told it was subscribed
	// (a 106, or the SSE response).
	Opened bool `json:"opened"`
	// Ended says how the subscription ended: "open" if it was still open
	// at the end, else the final status or the error.
	Ended string `json:"ended"`
	// Acknowledged says, for SUB, that the 106 which reached the
	// subscriber was marked as its hop's acknowledgement (Enable-SUB,
	// named in Connection over HTTP/1.1): the negotiation's signal came
	// through the proxy.
	Acknowledged bool `json:"acknowledged"`
	// FellBack says, for the client's default way, why it gave up SUB for
	// SSE ("" if it did not); Format is how the events arrived.
	FellBack string `json:"fell_back,omitempty"`
	Format   string `json:"format,omitempty"`
}

// url is where a subscriber reaches the public stream through f in way w,
// or "" if f does not offer it.
func (f *Front) url(w Way, path string) string {
	switch {
	case w.HTTP == client.HTTP11:
		return "http://" + f.Plain + path
	case f.TLS != "":
		return "https://" + f.TLS + path
	case f.H2C:
		return "http://" + f.Plain + path
	}
	return ""
}

// fallbackRetryDelay is how long the subscriber that negotiates (the
// client's default mode) waits before it tries once more a request that
// failed.
const fallbackRetryDelay = 100 * time.Millisecond

// CountEvents follows the public stream through f in way w while Notes
// notes are published at the origin, and counts those that arrive. The
// subscriber does not reconnect: the count is what one subscription
// through the proxy carries; only the one that negotiates (and may fall
// back to SSE) tries a failed request once more.
func CountEvents(ctx context.Context, o *Origin, f *Front, w Way) Count {
	result := Count{Way: w.String()}
	target := f.url(w, publicStream)
	if target == "" {
		result.Skipped = "no HTTP/2"
		return result
	}
	keepAliveTimeout, after := time.Duration(-1), quiet
	reconnect := client.Reconnect{Disabled: true}
	if w.Mode == client.ModeAuto {
		keepAliveTimeout, after = autoKeepAliveTimeout, quiet+autoKeepAliveTimeout
		// The fallback's request may go out on the connection a proxy
		// is closing after the final response that caused it (Varnish
		// over HTTP/2 does); a client that falls back retries that once.
		reconnect = client.Reconnect{MaxAttempts: 2, InitialDelay: fallbackRetryDelay, MaxDelay: fallbackRetryDelay}
	}
	c, err := client.New(client.Options{
		Mode: w.Mode, HTTP: w.HTTP, CAFile: o.CAFile,
		Reconnect:          reconnect,
		KeepAliveTimeout:   keepAliveTimeout,
		AcknowledgeTimeout: acknowledgeTimeout,
	})
	if err != nil {
		result.Ended = err.Error()
		return result
	}
	defer c.Close()

	marker := fmt.Sprintf("survey-%d", time.Now().UnixNano())
	var mu sync.Mutex
	received := map[string]bool{}
	allIn := make(chan struct{})
	opened := make(chan struct{})
	sub := &client.Subscription{
		URL: target,
		OnOpen: func(o client.Open) {
			mu.Lock()
			defer mu.Unlock()
			if !result.Opened {
				close(opened)
			}
			result.Opened = true
			result.Format = o.Format.String()
			if o.Format == wire.FormatPUB {
				result.Acknowledged = wire.EnablesSUB(o.Header) && (o.Proto != wire.ProtoHTTP1 || wire.HopEnablesSUB(o.Header))
			}
		},
		OnFallback: func(reason error) {
			mu.Lock()
			defer mu.Unlock()
			result.FellBack = fallbackReason(reason)
		},
		OnEvent: func(e client.Event) {
			data := string(e.Data)
			if !strings.Contains(data, marker) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			received[noteOf(data, marker)] = true
			if len(received) == Notes {
				close(allIn)
			}
		},
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.BesideSUB {
		_, stopSUB, err := followQuietly(runCtx, "http://"+f.Plain+publicStream, nil)
		if err != nil {
			result.Ended = err.Error()
			return result
		}
		defer stopSUB()
	}
	ended := make(chan error, 1)
	go func() { ended <- c.Run(runCtx, sub) }()

	var runErr error
	finished := false
	if w.Mode == client.ModeAuto {
		// Until the client has settled on SUB or SSE: it starts
		// without a Last-Event-ID, so what is published while it waits
		// for an acknowledgement is before its stream begins.
		select {
		case <-opened:
		case runErr = <-ended:
			finished = true
		case <-time.After(settleAuto):
		}
	}
	if !finished {
		select {
		case runErr = <-ended:
			finished = true
		case <-time.After(settle):
		}
	}
	for i := range Notes {
		if err := o.publishPublic(ctx, fmt.Sprintf("%s note %d.", marker, i)); err != nil {
			result.Ended = "publishing: " + err.Error()
			return result
		}
	}
	if !finished {
		select {
		case runErr = <-ended:
		case <-allIn:
		case <-time.After(after):
		}
		cancel()
		if runErr == nil {
			runErr = <-ended
			if errors.Is(runErr, context.Canceled) {
				runErr = nil
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	result.Received = len(received)
	result.Ended = ending(runErr)
	return result
}

// fallbackReason names why the client gave up SUB, in a few words.
func fallbackReason(err error) string {
	var status *wire.StatusError
	switch {
	case errors.Is(err, client.ErrNotAcknowledged):
		return fmt.Sprintf("no acknowledgement in %v", acknowledgeTimeout)
	case errors.Is(err, client.ErrUnacknowledgedEvent):
		return "a 105 before any acknowledgement"
	case errors.Is(err, client.ErrSilentAfterAcknowledgement):
		return "nothing after the acknowledgement"
	case errors.Is(err, client.ErrFailedBeforeAcknowledgement):
		var status *wire.StatusError
		if errors.As(err, &status) {
			return fmt.Sprintf("final %d before any acknowledgement", status.Status)
		}
		return "broken off before any acknowledgement"
	case errors.As(err, &status):
		return fmt.Sprintf("SUB refused (%d)", status.Status)
	}
	return ending(err)
}

// noteOf is the note a payload carries: the text after the marker, up to
// its full stop.
func noteOf(data, marker string) string {
	_, rest, _ := strings.Cut(data, marker)
	note, _, _ := strings.Cut(rest, ".")
	return note
}

// ending says how a subscription ended, in a few words.
func ending(err error) string {
	var status *wire.StatusError
	switch {
	case err == nil:
		return "open"
	case errors.As(err, &status):
		return fmt.Sprintf("final %d", status.Status)
	case errors.Is(err, wire.ErrStreamEnded):
		return "ended"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}

// followQuietly keeps a SUB over HTTP/1.1 open at target, with header's
// fields besides the client's, ignoring what it receives, until stop is
// called. ended is closed when the subscription is over, by stop or by the
// proxy.
func followQuietly(ctx context.Context, target string, header http.Header) (ended <-chan struct{}, stop func(), err error) {
	c, err := client.New(client.Options{
		Mode: client.ModeSUB, HTTP: client.HTTP11,
		Reconnect: client.Reconnect{Disabled: true}, KeepAliveTimeout: -1,
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, &client.Subscription{URL: target, Header: header, OnEvent: func(client.Event) {}})
	}()
	return done, func() {
		cancel()
		<-done
		c.Close()
	}, nil
}
