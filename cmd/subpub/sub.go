package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/wire"
)

const subExamples = `  # follow alice's public outbox on the demo origin, over HTTP/3
  subpub sub --cacert .data/demo/origin/tls/ca.pem --http 3 https://localhost:8443/users/alice/outbox

  # the same as Server-Sent Events, three events, as JSON lines
  subpub sub --sse --count 3 --json http://localhost:8080/users/alice/outbox

  # alice's private inbox, resuming after event 42
  subpub sub --cacert .data/demo/origin/tls/ca.pem -H 'Authorization: Bearer alice-token' --last-event-id 42 https://localhost:8443/users/alice/inbox
` + exitStatuses

// exitStatuses ends the help of sub and pub.
const exitStatuses = `
exit status (curl's where it fits): 0 done, 1 another failure, 2 usage,
6 the name does not resolve, 7 could not connect, 22 an HTTP status of 400
or more, 28 a timeout (sub --timeout), 35 the TLS handshake failed, 52 no response,
60 the certificate is not trusted (--cacert FILE, or -k)
`

func runSub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub sub", "[flags] URL", subExamples, stdout, stderr)
	var cf clientFlags
	cf.register(fs)
	sse := fs.Bool("sse", false, "subscribe with GET Accept: text/event-stream instead of SUB")
	sub := fs.Bool("sub", false, "subscribe with SUB only (default: SUB, falling back to SSE)")
	lastID := fs.String("last-event-id", "", "resume after this event `id`")
	count := fs.Int("count", 0, "exit 0 after this many events (0: follow until interrupted)")
	timeout := fs.Duration("timeout", 0, "give up after this `duration` (e.g. 30s), exiting 28")
	asJSON := fs.Bool("json", false, "print one JSON object per event: id, type, data (the payload as a string) or data_base64 (when it is not UTF-8), ref, gap, received, latency_ms, proto, format")
	keepalive := fs.Duration("keepalive-timeout", client.DefaultKeepAliveTimeout, "resume a subscription silent for this long")
	ackTimeout := fs.Duration("acknowledge-timeout", client.DefaultAcknowledgeTimeout, "without --sub, fall back to SSE when the next hop has not acknowledged SUB (a 106 with Enable-SUB) within this long")
	verbose := fs.Bool("v", false, "show the exchange on stderr, as curl -v does: each request, each 106 and 105 with its fields, the final response")
	positional, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	opts, err := cf.optionsFor(positional, urlArguments{most: 1, missing: "missing the URL to subscribe to", takes: "sub takes one URL"})
	if err != nil {
		return err
	}
	switch {
	case *sse && *sub:
		return cli.Usagef("--sse and --sub exclude each other")
	case *sse:
		opts.Mode = client.ModeSSE
	case *sub:
		opts.Mode = client.ModeSUB
	}
	opts.KeepAliveTimeout = *keepalive
	opts.AcknowledgeTimeout = *ackTimeout
	// Before the stream was ever established, give up on what retrying
	// does not fix (a certificate, a name, a refused connection, a
	// refusal); after, resume from any failure but a final one.
	opts.Reconnect.FailFast = true
	c, err := client.New(opts)
	if err != nil {
		return err
	}
	defer c.Close()

	timedOut := func() bool { return false }
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
		deadline := ctx
		timedOut = func() bool { return errors.Is(deadline.Err(), context.DeadlineExceeded) }
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	out := &eventPrinter{w: bufio.NewWriter(stdout), json: *asJSON}
	received := 0
	var mu sync.Mutex // serializes output
	established := false
	var lastFailure error // of the last attempt that will be retried
	s := &client.Subscription{
		URL:         positional[0],
		LastEventID: *lastID,
		OnEvent: func(e client.Event) {
			mu.Lock()
			defer mu.Unlock()
			if *count > 0 && received >= *count {
				return
			}
			received++
			out.print(e)
			if *count > 0 && received == *count {
				stop()
			}
		},
	}
	s.OnOpen = func(client.Open) {
		mu.Lock()
		defer mu.Unlock()
		established = true
	}
	if *verbose {
		s.Trace = &client.Trace{
			Request: func(proto string, req *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				writeRequest(stderr, proto, req)
			},
			Response: func(proto string, status int, h http.Header) {
				mu.Lock()
				defer mu.Unlock()
				writeResponse(stderr, proto, status, h)
			},
		}
	}
	// Every retry is said, with its reason: a subscription that waits is
	// never silent about why.
	s.OnRetry = func(err error, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		lastFailure = err
		verb := "retrying" // the stream was never established
		if established {
			verb = "reconnecting"
		}
		fmt.Fprintf(stderr, "subpub sub: %s in %v (%v)\n", verb, d.Round(time.Millisecond), err)
	}
	// So is the fallback to SSE, which changes what the output is made of.
	s.OnFallback = func(reason error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "subpub sub: falling back to SSE (%v)\n", reason)
	}
	err = c.Run(ctx, s)
	mu.Lock()
	defer mu.Unlock()
	out.w.Flush()
	switch {
	case *count > 0 && received >= *count:
		return nil
	case errors.Is(err, wire.ErrStreamEnded):
		return nil
	case timedOut():
		msg := fmt.Sprintf("timed out after %v with %d events", *timeout, received)
		if lastFailure != nil && received == 0 {
			msg += fmt.Sprintf(" (the last attempt: %v)", lastFailure)
		}
		return cli.Exit(exitTimeout, errors.New(msg))
	case errors.Is(err, context.Canceled):
		return nil // interrupted
	}
	return failure(positional[0], err)
}

// httpVersion is how a message's start line names the version.
func httpVersion(proto string) string {
	switch proto {
	case wire.ProtoHTTP2:
		return "HTTP/2"
	case wire.ProtoHTTP3:
		return "HTTP/3"
	}
	return "HTTP/1.1"
}

// writeRequest writes a request as curl -v does: "> " before each line of
// its header section, field names as HTTP/2 and HTTP/3 send them (lower
// case).
func writeRequest(w io.Writer, proto string, req *http.Request) {
	host := cmp.Or(req.Host, req.URL.Host)
	fmt.Fprintf(w, "> %s %s %s\n> %s: %s\n", req.Method, req.URL.RequestURI(), httpVersion(proto), fieldName(proto, "Host"), host)
	writeFields(w, "> ", proto, req.Header)
	fmt.Fprintln(w, ">")
}

// writeResponse writes a response's header section, an interim one's
// included, as curl -v does: "< " before each line (the status without a
// reason phrase, which the client does not keep).
func writeResponse(w io.Writer, proto string, status int, h http.Header) {
	fmt.Fprintf(w, "< %s %d\n", httpVersion(proto), status)
	writeFields(w, "< ", proto, h)
	fmt.Fprintln(w, "<")
}

func writeFields(w io.Writer, prefix, proto string, h http.Header) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, fieldName(proto, name), v)
		}
	}
}

func fieldName(proto, name string) string {
	if proto == wire.ProtoHTTP1 {
		return name
	}
	return strings.ToLower(name)
}

// eventPrinter writes events as readable lines or JSON lines, flushing each
// so that a pipe sees it at once.
type eventPrinter struct {
	w    *bufio.Writer
	json bool
}

func (p *eventPrinter) print(e client.Event) {
	defer p.w.Flush()
	latency, hasLatency := e.Latency()
	if p.json {
		// The payload is always "data", a string holding it as received
		// (an EventSource's data), or "data_base64" when it is not UTF-8
		// text; an ActivityPub payload is JSON in that string.
		rec := struct {
			ID         string      `json:"id"`
			Type       string      `json:"type"`
			Data       *string     `json:"data,omitempty"`
			DataBase64 []byte      `json:"data_base64,omitempty"`
			Ref        string      `json:"ref,omitempty"`
			Gap        bool        `json:"gap,omitempty"`
			Received   time.Time   `json:"received"`
			LatencyMS  *float64    `json:"latency_ms,omitempty"`
			Proto      string      `json:"proto"`
			Format     wire.Format `json:"format"`
		}{ID: e.LastEventID, Type: e.TypeName(), Ref: e.Ref, Gap: e.IsGap(), Received: e.Received, Proto: e.Proto, Format: e.Format}
		if e.IsGap() {
			rec.Data = &e.Gap // the URL to refetch
		} else if utf8.Valid(e.Data) {
			data := string(e.Data)
			rec.Data = &data
		} else {
			rec.DataBase64 = e.Data
		}
		if hasLatency {
			ms := float64(latency.Microseconds()) / 1000
			rec.LatencyMS = &ms
		}
		b, _ := json.Marshal(rec)
		p.w.Write(append(b, '\n'))
		return
	}
	if e.IsGap() {
		fmt.Fprintf(p.w, "%s gap: the server cannot replay what was missed; refetch %s and continue after id %s\n",
			e.Received.Format("15:04:05.000"), e.Gap, e.LastEventID)
		return
	}
	fmt.Fprintf(p.w, "%s %s/%s id=%s type=%s", e.Received.Format("15:04:05.000"), e.Proto, e.Format, e.LastEventID, e.TypeName())
	if hasLatency {
		fmt.Fprintf(p.w, " latency=%v", latency.Round(10*time.Microsecond))
	}
	if e.Ref != "" {
		fmt.Fprintf(p.w, " ref=%s", e.Ref)
	}
	fmt.Fprintf(p.w, " %s\n", e.Data)
}
