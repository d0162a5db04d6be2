package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// newPassthrough forwards what is not a subscription or a cached GET to the
// upstream, unchanged but for what an intermediary changes (toUpstream,
// fromUpstream, Via), so clients can use the edge as their only entry
// point (ActivityPub JSON, POST to an outbox...). Interim responses are
// relayed (it is served through a relayWriter).
// A successful unsafe request invalidates what the cache holds for its
// target, as RFC 9111 §4.4 asks.
func (e *Edge) newPassthrough() http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(e.Upstream)
			pr.SetXForwarded()
			toUpstream(pr.Out.Header, pr.In.ProtoMajor, pr.In.ProtoMinor)
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), inboundKey{}, pr.In))
		},
		Transport:     e.transport,
		FlushInterval: -1, // stream whatever the upstream streams
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				e.canceled(r, err)
				return
			}
			if b, ok := r.Context().Value(clientBodyKey{}).(*clientBody); ok {
				if bodyErr := b.failure(); bodyErr != nil {
					// The client sent its body wrong: the same answer as
					// the origin's, not the upstream's failure.
					stream.WriteError(w, wire.BodyError(bodyErr))
					return
				}
			}
			e.logger().Warn("forwarding upstream", "method", r.Method, "path", r.URL.Path, "err", err)
			stream.WriteError(w, relay.Error(err))
		},
		ModifyResponse: func(resp *http.Response) error {
			fromUpstream(resp.Header)
			resp.Header.Add("Via", viaEntry(resp.ProtoMajor, resp.ProtoMinor))
			if in, ok := resp.Request.Context().Value(inboundKey{}).(*http.Request); ok {
				e.localizeProblem(in, resp)
			}
			if e.Cache != nil && !isSafe(resp.Request.Method) && resp.StatusCode < 400 {
				e.Cache.Invalidate(resp.Request.URL.Path)
				for _, name := range []string{"Location", "Content-Location"} {
					if loc, err := resp.Request.URL.Parse(resp.Header.Get(name)); err == nil && resp.Header.Get(name) != "" {
						e.Cache.Invalidate(loc.Path)
					}
				}
			}
			return nil
		},
	}
	return proxy
}

// inboundKey holds, in the context of a request the passthrough sends
// upstream, the request it forwards.
type inboundKey struct{}

// clientBody is a request body being passed upstream that remembers why
// reading it failed, if it did: the client sent it wrong (a malformed
// chunked encoding, say), which the edge answers as the origin would.
type clientBody struct {
	io.ReadCloser
	mu  sync.Mutex
	err error
}

// clientBodyKey is the context key of a request's clientBody, which the
// proxy's ErrorHandler finds there (the request it is given has another
// body, the proxy's wrapper of this one).
type clientBodyKey struct{}

// withClientBody returns r with a body that remembers its failure (see
// clientBody).
func withClientBody(r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	b := &clientBody{ReadCloser: r.Body}
	r = r.WithContext(context.WithValue(r.Context(), clientBodyKey{}, b))
	r.Body = b
	return r
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func isSafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// forward sends r upstream as a proxy would (for the cache, which needs the
// response before deciding what to do with it). Interim responses reach
// the client trace in r's context, if any.
func (e *Edge) forward(r *http.Request) (*http.Response, error) {
	target, err := url.Parse(e.upstreamURL(r))
	if err != nil {
		return nil, err
	}
	out := r.Clone(r.Context())
	out.URL = target
	out.Host = ""
	out.RequestURI = ""
	toUpstream(out.Header, r.ProtoMajor, r.ProtoMinor)
	resp, err := e.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	fromUpstream(resp.Header)
	return resp, nil
}

// fetchRef gets the payload of an event sent by reference, through the cache
// when there is one, with the subscription's credentials. The reference is
// resolved against the subscription's URI; one that leads off the upstream
// is not fetched (it could point anywhere, and the upstream, which every
// request goes to, would not serve it).
func (e *Edge) fetchRef(ctx context.Context, streamURI, ref string, header http.Header) ([]byte, error) {
	base, err := url.Parse(streamURI)
	if err != nil {
		return nil, err
	}
	u, err := base.Parse(ref)
	if err != nil {
		return nil, err
	}
	if !relay.SameOrigin(streamURI, ref) {
		return nil, fmt.Errorf("ref %s is not on the upstream %s", ref, base.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.RequestURI(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	var resp *http.Response
	if e.Cache != nil {
		resp, _, err = e.Cache.do(req, e.forward)
	} else {
		resp, err = e.forward(req)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", ref, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// hopByHop are the fields that describe one connection, not the message
// (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			h.Del(textproto.TrimString(name))
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}
