package survey

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"time"
)

// Alternative is what one variant of the wire format carried through one
// proxy configuration.
type Alternative struct {
	Proxy   string `json:"proxy"`
	Config  string `json:"config"`
	Variant string `json:"variant"`
	// Counts are by way: "h1" and "h2" from the client to the proxy.
	Counts []Count `json:"counts"`
	// Reused counts the trials, of ReuseTrials, in which a request made
	// through the proxy once the HTTP/1.1 subscription had ended received
	// events of it: the proxy had put the connection still carrying the
	// stream back in its pool.
	Reused      int `json:"reused"`
	ReuseTrials int `json:"reuse_trials"`
}

// alternativeQuiet is how long to wait, after the scripted upstream's last
// event, for events still on their way.
const alternativeQuiet = time.Second

// reuseTrials is how many times the reuse question is asked of a proxy
// configuration for each variant it is about.
const reuseTrials = 3

// alternativeWays are the protocols the client speaks to the proxy.
var alternativeWays = []string{"h1", "h2"}

// TryAlternatives puts each proxy configuration in front of a scripted
// upstream playing every Variant, and counts the events a client receives
// through it over HTTP/1.1 and HTTP/2. The first rows have no proxy at all:
// the control showing what each variant carries when nothing is between.
func TryAlternatives(ctx context.Context, o *Origin, dir string, proxies []Proxy, progress io.Writer) ([]Alternative, error) {
	up, err := startScriptedUpstream()
	if err != nil {
		return nil, err
	}
	defer up.close()
	scripted := *o
	scripted.Upstream = up.addr()
	var results []Alternative
	direct := &Front{Plain: up.addr()}
	for n, v := range Variants {
		results = append(results, Alternative{Proxy: "none", Config: "the client reads the upstream", Variant: v.Name,
			Counts: []Count{countInterim(ctx, o, direct, n, "h1")}})
	}
	for _, p := range proxies {
		if !p.Installed() {
			continue
		}
		for i, c := range p.Configs {
			if c.H2CUpstream {
				continue
			}
			confDir, err := p.configDir(dir, "alt", i)
			if err != nil {
				return nil, err
			}
			for n, v := range Variants {
				a, err := tryVariant(ctx, o, &scripted, c, confDir, n)
				if err != nil {
					fmt.Fprintf(progress, "%s, %s: %v\n", p.Name, c.Name, err)
					break
				}
				a.Proxy, a.Config, a.Variant = p.Name, c.Name, v.Name
				results = append(results, a)
			}
			fmt.Fprintf(progress, "%s, %s: alternatives tried\n", p.Name, c.Name)
		}
	}
	return results, ctx.Err()
}

// tryVariant counts what variant n carries through configuration c, each
// way on a proxy started afresh: a proxy's pool must not hand one way's
// request a connection still carrying another's stream. After the
// HTTP/1.1 subscription has ended, an ordinary request through the same
// proxy tells whether it reused that connection.
//
// Whether a proxy reuses such a connection can depend on timing, so the
// variants the reuse question is about (those with a 106 first) are tried
// reuseTrials times over HTTP/1.1.
func tryVariant(ctx context.Context, o, scripted *Origin, c Config, dir string, n int) (Alternative, error) {
	var a Alternative
	for _, proto := range alternativeWays {
		trials := 1
		if proto == "h1" && Variants[n].reuseQuestion {
			trials = reuseTrials
		}
		for trial := range trials {
			f, err := c.start(ctx, scripted, dir)
			if err != nil {
				return a, err
			}
			count := countInterim(ctx, o, f, n, proto)
			if trial == 0 {
				a.Counts = append(a.Counts, count)
			}
			if proto == "h1" {
				a.ReuseTrials++
				if receivesEvents(f) {
					a.Reused++
				}
			}
			f.Stop()
		}
	}
	return a, nil
}

// countInterim sends SUB for variant n through f over proto and counts the
// distinct events that arrive in interim responses of any code. It reads
// with net/http alone, which passes every 1xx to Got1xxResponse whatever
// its code, so that no rule of subpub's client decides the count.
func countInterim(ctx context.Context, o *Origin, f *Front, n int, proto string) Count {
	var mu sync.Mutex
	seen := map[string]bool{}
	allIn := make(chan struct{})
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if data := h.Get("Event-Data"); data != "" && !seen[data] {
			seen[data] = true
			if len(seen) == scriptedEvents {
				close(allIn)
			}
		}
		return nil
	}}
	sub := bareRequest{method: "SUB", path: fmt.Sprintf("/variant/%d", n), trace: trace,
		read: func(transport http.RoundTripper, req *http.Request) string {
			resp, err := transport.RoundTrip(req)
			if err != nil {
				return ending(err)
			}
			resp.Body.Close()
			return fmt.Sprintf("final %d", resp.StatusCode)
		}}
	result := Count{Way: proto}
	result.Ended, result.Skipped = sub.send(ctx, o, f, proto, allIn, scriptedEvents*eventGap+alternativeQuiet)
	mu.Lock()
	defer mu.Unlock()
	result.Received = len(seen)
	result.Opened = len(seen) > 0
	return result
}

// bareRequest is a comparison's request through a proxy, made with a bare
// net/http transport (interimTransport) so that no rule of subpub's client
// decides what counts.
type bareRequest struct {
	method, path string
	header       http.Header
	// trace, if set, is the request's, which sees its interim responses.
	trace *httptrace.ClientTrace
	// read sends req and says how its response ended.
	read func(transport http.RoundTripper, req *http.Request) string
}

// send makes the request through f over proto and says how its response
// ended, as awaitEvents does with allIn and wait; or, as skipped, why f
// cannot be reached over proto.
func (r bareRequest) send(ctx context.Context, o *Origin, f *Front, proto string, allIn <-chan struct{}, wait time.Duration) (ended, skipped string) {
	transport, target, err := interimTransport(o, f, proto)
	if err != nil {
		return "", err.Error()
	}
	defer transport.CloseIdleConnections()
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.trace != nil {
		reqCtx = httptrace.WithClientTrace(reqCtx, r.trace)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, target+r.path, nil)
	if err != nil {
		return err.Error(), ""
	}
	maps.Copy(req.Header, r.header)
	return awaitEvents(allIn, wait, func() string { return r.read(transport, req) }), ""
}

// awaitEvents runs exchange, a comparison's request, until it returns how
// the response ended, allIn is closed (every event has arrived) or wait
// passes, and says how the response ended: "open" if it had not.
func awaitEvents(allIn <-chan struct{}, wait time.Duration, exchange func() string) string {
	ended := make(chan string, 1)
	go func() { ended <- exchange() }()
	select {
	case how := <-ended:
		return how
	case <-allIn:
	case <-time.After(wait):
	}
	return "open"
}

// interimTransport is a bare net/http transport speaking proto to f, and
// the base URL it reaches f by.
func interimTransport(o *Origin, f *Front, proto string) (*http.Transport, string, error) {
	t := &http.Transport{DisableKeepAlives: true}
	if proto == "h1" {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
		return t, "http://" + f.Plain, nil
	}
	t.Protocols = new(http.Protocols)
	switch {
	case f.TLS != "":
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, "", err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		t.TLSClientConfig = &tls.Config{RootCAs: roots}
		t.Protocols.SetHTTP2(true)
		return t, "https://" + f.TLS, nil
	case f.H2C:
		t.Protocols.SetUnencryptedHTTP2(true)
		return t, "http://" + f.Plain, nil
	}
	return nil, "", fmt.Errorf("no HTTP/2")
}

// receivesEvents makes an ordinary request through f for a path the
// scripted upstream does not stream, and says whether its response
// carried an event all the same.
func receivesEvents(f *Front) bool {
	response, _ := probe(f.Plain)
	return bytes.Contains(response, []byte("Event-Data"))
}
