package survey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/wire"
)

// The streaming comparison asks whether text/event-stream marked with
// Incremental: ?1 (RFC 10036) would do what SUB does through the same
// proxies: it counts the events of each way of streaming that reach a
// client, and how long each took from the upstream's write to the
// client's read. A proxy that buffers a response shows it either as no
// event at all (it waits for more, and a subscription sends no more) or
// as a delay that grows with the event's position.
const (
	// streamingEvents are written to each subscription, streamingGap
	// apart, the first at once.
	streamingEvents = 10
	streamingGap    = 50 * time.Millisecond
	// streamingQuiet is how long to wait after the last event is due for
	// those still on their way.
	streamingQuiet = time.Second
)

// StreamingVariant is one way of streaming the same events.
type StreamingVariant struct {
	Name     string
	Describe string
	// sub streams in 105 interim responses after a 106, as drafted;
	// otherwise in a text/event-stream response to GET.
	sub bool
	// incrementalResponse and incrementalRequest put Incremental: ?1 on
	// the upstream's response and on the client's request.
	incrementalResponse, incrementalRequest bool
}

// StreamingVariants are the ways compared.
var StreamingVariants = []StreamingVariant{
	{Name: "SUB", Describe: "as drafted: a 106, then a 105 per event", sub: true},
	{Name: "SSE", Describe: "GET, answered with a text/event-stream response, no Incremental"},
	{Name: "SSE, Incremental response", Describe: "as SSE, with Incremental: ?1 on the response", incrementalResponse: true},
	{Name: "SSE, Incremental both", Describe: "as SSE, with Incremental: ?1 on the request and on the response", incrementalResponse: true, incrementalRequest: true},
}

// Streaming is what the variants delivered through one proxy
// configuration.
type Streaming struct {
	Proxy   string `json:"proxy"`
	Config  string `json:"config"`
	Variant string `json:"variant"`
	// Timings are by way, "h1" and "h2", from the client to the proxy.
	Timings []Timing `json:"timings"`
}

// Timing is what reached one client of one variant through a proxy.
type Timing struct {
	Way      string `json:"way"`
	Received int    `json:"received"`
	// FirstMS is the time from sending the request to reading the first
	// event; the upstream writes it as soon as it has the request.
	FirstMS float64 `json:"first_ms,omitempty"`
	// MaxLagMS is the largest time between the upstream's write of an
	// event and the client's read of it.
	MaxLagMS float64 `json:"max_lag_ms,omitempty"`
	Skipped  string  `json:"skipped,omitempty"`
	Ended    string  `json:"ended"`
}

// streamingExtraConfigs are configurations tried by the streaming
// comparison alone, by proxy name: nginx as it is often deployed, with the
// buffering that the survey's streaming configuration turns off; HAProxy
// with http-no-delay, which its documentation offers for interactive
// traffic that its merging of small writes would delay.
var streamingExtraConfigs = map[string][]Config{
	"nginx":   {{Name: "proxy_buffering on (nginx's default)", start: nginxStart(strings.Replace(nginxConfig, "proxy_buffering off;\n", "", 1), "")}},
	"HAProxy": {{Name: "option http-no-delay", start: haproxyStart(strings.Replace(haproxyConfig, "  http-reuse %[5]s\n", "  http-reuse %[5]s\n  option http-no-delay\n", 1), "safe")}},
}

// TryStreaming puts each proxy configuration, and those of
// streamingExtraConfigs, in front of an upstream playing every
// StreamingVariant, and times the events reaching a client through it over
// HTTP/1.1 and HTTP/2. The first rows have no proxy: the control.
func TryStreaming(ctx context.Context, o *Origin, dir string, proxies []Proxy, progress io.Writer) ([]Streaming, error) {
	up, err := startStreamingUpstream()
	if err != nil {
		return nil, err
	}
	defer up.close()
	scripted := *o
	scripted.Upstream = up.addr()
	var results []Streaming
	direct := &Front{Plain: up.addr(), H2C: true}
	for _, v := range StreamingVariants {
		s := Streaming{Proxy: "none", Config: "the client reads the upstream", Variant: v.Name}
		for _, proto := range alternativeWays {
			s.Timings = append(s.Timings, timeStreaming(ctx, o, direct, v, proto))
		}
		results = append(results, s)
	}
	for _, p := range proxies {
		if !p.Installed() {
			continue
		}
		configs := append(append([]Config(nil), p.Configs...), streamingExtraConfigs[p.Name]...)
		for i, c := range configs {
			confDir, err := p.configDir(dir, "streaming", i)
			if err != nil {
				return nil, err
			}
			for _, v := range StreamingVariants {
				s := Streaming{Proxy: p.Name, Config: c.Name, Variant: v.Name}
				for _, proto := range alternativeWays {
					// A proxy started afresh for each, so that no way
					// meets a pooled connection of another.
					f, err := c.start(ctx, &scripted, confDir)
					if err != nil {
						s.Timings = append(s.Timings, Timing{Way: proto, Ended: "did not start: " + err.Error()})
						continue
					}
					s.Timings = append(s.Timings, timeStreaming(ctx, o, f, v, proto))
					f.Stop()
				}
				results = append(results, s)
			}
			fmt.Fprintf(progress, "%s, %s: streaming timed\n", p.Name, c.Name)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	return results, nil
}

// timeStreaming subscribes to variant v through f over proto, with a bare
// net/http client (no rule of subpub's client decides what counts), and
// times the events that arrive.
func timeStreaming(ctx context.Context, o *Origin, f *Front, v StreamingVariant, proto string) Timing {
	result := Timing{Way: proto}
	var mu sync.Mutex
	seen := map[int]bool{}
	allIn := make(chan struct{})
	var start time.Time
	record := func(payload string) {
		n, sent, ok := parseTimedPayload(payload)
		if !ok {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if seen[n] {
			return
		}
		if len(seen) == 0 {
			result.FirstMS = ms(now.Sub(start))
		}
		seen[n] = true
		result.MaxLagMS = max(result.MaxLagMS, ms(now.Sub(sent)))
		if len(seen) == streamingEvents {
			close(allIn)
		}
	}
	subscribe := bareRequest{method: http.MethodGet, path: fmt.Sprintf("/streaming/%d", streamingVariantIndex(v)), header: http.Header{},
		read: func(transport http.RoundTripper, req *http.Request) string {
			// record, which may run on the transport's goroutines,
			// times the first event from here.
			mu.Lock()
			start = time.Now()
			mu.Unlock()
			return readStreaming(transport, req, record)
		}}
	if v.sub {
		subscribe.method = "SUB"
		subscribe.trace = &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if data := h.Get(wire.FieldEventData); data != "" {
				record(strings.Trim(data, `"`))
			}
			return nil
		}}
	} else {
		subscribe.header.Set("Accept", "text/event-stream")
	}
	if v.incrementalRequest {
		subscribe.header.Set("Incremental", "?1")
	}
	result.Ended, result.Skipped = subscribe.send(ctx, o, f, proto, allIn, streamingEvents*streamingGap+streamingQuiet)
	mu.Lock()
	defer mu.Unlock()
	result.Received = len(seen)
	return result
}

// readStreaming sends req and hands each event's payload to record until
// the response ends, and says how it ended. The payloads of a SUB arrive
// in its interim responses (the request's trace records them).
func readStreaming(transport http.RoundTripper, req *http.Request, record func(string)) string {
	resp, err := transport.RoundTrip(req)
	if err != nil {
		return ending(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return fmt.Sprintf("final %d", resp.StatusCode)
	}
	events := wire.NewSSEReader(resp.Body)
	for {
		e, err := events.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "ended"
			}
			return ending(err)
		}
		record(string(e.Data))
	}
}

func streamingVariantIndex(v StreamingVariant) int {
	for i, w := range StreamingVariants {
		if w.Name == v.Name {
			return i
		}
	}
	return -1
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timedPayload is event n's payload: its number and when the upstream
// wrote it, so that the client can tell how long it took to arrive.
func timedPayload(n int, sent time.Time) string {
	return fmt.Sprintf("%d@%d", n, sent.UnixNano())
}

func parseTimedPayload(s string) (n int, sent time.Time, ok bool) {
	num, at, found := strings.Cut(s, "@")
	if !found {
		return 0, time.Time{}, false
	}
	n, err1 := strconv.Atoi(num)
	nanos, err2 := strconv.ParseInt(at, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return n, time.Unix(0, nanos), true
}

// streamingUpstream serves the streaming variants (/streaming/N), over
// HTTP/1.1 and h2c, with net/http: SUB with interim responses, GET with
// text/event-stream, flushing each event as it is written. After the last
// event it keeps the response open, as a subscription would.
type streamingUpstream struct {
	ln  net.Listener
	srv *http.Server
	// done ends the open responses when the upstream closes.
	done chan struct{}
	wg   sync.WaitGroup
}

func startStreamingUpstream() (*streamingUpstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &streamingUpstream{ln: ln, done: make(chan struct{})}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	u.srv = &http.Server{Handler: http.HandlerFunc(u.serve), Protocols: protocols, ReadHeaderTimeout: 10 * time.Second}
	u.wg.Go(func() { u.srv.Serve(ln) })
	return u, nil
}

func (u *streamingUpstream) addr() string { return u.ln.Addr().String() }

func (u *streamingUpstream) close() {
	close(u.done)
	u.srv.Close()
	u.wg.Wait()
}

func (u *streamingUpstream) serve(w http.ResponseWriter, r *http.Request) {
	var n int
	if _, err := fmt.Sscanf(r.URL.Path, "/streaming/%d", &n); err != nil || n < 0 || n >= len(StreamingVariants) {
		http.Error(w, "not a streaming variant", http.StatusNotFound)
		return
	}
	v := StreamingVariants[n]
	if want := map[bool]string{true: "SUB", false: http.MethodGet}[v.sub]; r.Method != want {
		w.Header().Set("Allow", want)
		http.Error(w, "this variant is streamed to "+want, http.StatusMethodNotAllowed)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	if v.incrementalResponse {
		h.Set("Incremental", "?1")
	}
	if v.sub {
		h.Set("Cache-Control", "public")
		w.WriteHeader(106)
		h.Del("Cache-Control")
	} else {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			return
		}
	}
	tick := time.NewTicker(streamingGap)
	defer tick.Stop()
	for i := range streamingEvents {
		if i > 0 {
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-u.done:
				return
			}
		}
		payload := timedPayload(i, time.Now())
		if v.sub {
			h.Set(wire.FieldEvent, fmt.Sprintf("id=%q", strconv.Itoa(i)))
			h.Set(wire.FieldEventData, strconv.Quote(payload))
			w.WriteHeader(105)
			h.Del(wire.FieldEvent)
			h.Del(wire.FieldEventData)
			continue
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", i, payload); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
	select {
	case <-r.Context().Done():
	case <-u.done:
	}
}

// streamingMarkdown is the table of the streaming comparison: a row per
// proxy configuration, a column per variant, each cell the events received
// over HTTP/1.1 and HTTP/2, the time to the first and the largest delay.
func (r *Report) streamingMarkdown(b *strings.Builder) {
	b.WriteString("\n## SUB against text/event-stream with Incremental\n\n")
	fmt.Fprintf(b, "An upstream (Go's net/http, over HTTP/1.1 and h2c) streams %d events %v apart, the first as soon as it has the request, in each way below, flushing each; then the response stays open, as a subscription's does. ", streamingEvents, streamingGap)
	b.WriteString("A net/http client subscribes through each proxy, started afresh for each way, over HTTP/1.1 and over HTTP/2 (TLS with ALPN, or h2c where the proxy offers no TLS). ")
	b.WriteString("Each cell gives, for HTTP/1.1 / HTTP/2: the events received; the time from the request to the first event (\"first\"); and the largest delay between the upstream's write of an event and the client's read of it (\"lag\"), the sign of a proxy that buffers. ")
	fmt.Fprintf(b, "A proxy that buffers until more arrives delivers none: a subscription sends no more. The client waits %v after the last event is due. The last nginx configuration is nginx's default, which the survey's streaming configurations change with `proxy_buffering off`; the last HAProxy one adds `option http-no-delay`.\n\n", streamingQuiet)
	writeVariantTable(b, StreamingVariants, r.Streaming)
}

func (v StreamingVariant) heading() (name, describe string) { return v.Name, v.Describe }

// where is the proxy configuration the variant went through.
func (s Streaming) where() (proxy, config string) { return s.Proxy, s.Config }

// cell is the variant's timings over HTTP/1.1 and HTTP/2.
func (s Streaming) cell() string {
	var cells []string
	for _, t := range s.Timings {
		cells = append(cells, t.cell())
	}
	return strings.Join(cells, " / ")
}

// cell is a timing in a few words: "10 (first 2 ms, lag 1 ms)", "0 (final
// 502)", "–" for a way the proxy does not offer.
func (t Timing) cell() string {
	switch {
	case t.Skipped != "":
		return "–"
	case t.Received == 0:
		if t.Ended != "open" {
			return fmt.Sprintf("0 (%s)", oneLine(t.Ended))
		}
		return "0"
	}
	s := fmt.Sprintf("%d (first %s, lag %s", t.Received, roundMS(t.FirstMS), roundMS(t.MaxLagMS))
	if t.Ended != "open" {
		s += ", " + oneLine(t.Ended)
	}
	return s + ")"
}

// roundMS writes a duration in milliseconds to two significant digits at
// most: the figures are of one run on a shared machine.
func roundMS(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
}
