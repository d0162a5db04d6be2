package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/testkit"
)

// hintingUpstream is an upstream on real TLS listeners (HTTP/1.1, HTTP/2,
// HTTP/3) that answers every request with a 102 and a 103 (Early Hints)
// before its final response, advertises an alternative service of its
// own on every one of them, names a hop-by-hop field in Connection (over
// HTTP/1.1, the only version that has Connection), and records the fields
// of the requests it receives.
type hintingUpstream struct {
	srv *host.Server
	ca  *host.LocalCA

	mu       sync.Mutex
	requests []http.Header
}

func newHintingUpstream(t *testing.T) *hintingUpstream {
	t.Helper()
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hu := &hintingUpstream{ca: ca}
	hu.srv = &host.Server{Handler: http.HandlerFunc(hu.serve), Addr: "127.0.0.1:0", TLSConfig: ca.TLSConfig()}
	testkit.StartServer(t, hu.srv)
	return hu
}

// upstreamAltSvc is the alternative service the upstream names besides
// the one package host advertises for it.
const upstreamAltSvc = `h3=":1"`

func (hu *hintingUpstream) serve(w http.ResponseWriter, r *http.Request) {
	hu.mu.Lock()
	hu.requests = append(hu.requests, r.Header.Clone())
	hu.mu.Unlock()
	h := w.Header()
	h.Add("Alt-Svc", upstreamAltSvc)
	w.WriteHeader(http.StatusProcessing)
	h.Set("Link", "</style.css>; rel=preload; as=style")
	h.Set("X-Interim", "only in the 103")
	w.WriteHeader(http.StatusEarlyHints)
	h.Del("Link")
	h.Del("X-Interim")
	h.Set("Cache-Control", "max-age=60")
	if r.ProtoMajor == 1 {
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "for the next hop only")
	}
	io.WriteString(w, "final")
}

func (hu *hintingUpstream) lastRequest() http.Header {
	hu.mu.Lock()
	defer hu.mu.Unlock()
	return hu.requests[len(hu.requests)-1]
}

// exchange is what a client saw of one request: its interim responses and
// its final one.
type exchange struct {
	interim []int
	fields  []http.Header // of each interim response
	resp    *http.Response
	body    string
}

func roundTrip(t *testing.T, rt http.RoundTripper, method, url string, fields http.Header) exchange {
	t.Helper()
	var ex exchange
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		ex.interim = append(ex.interim, code)
		ex.fields = append(ex.fields, http.Header(h).Clone())
		return nil
	}}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range fields {
		req.Header[name] = values
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	ex.resp, ex.body = resp, string(body)
	mu.Lock()
	defer mu.Unlock()
	return ex
}

// viaVersions are the Via received-protocol of each version the client
// speaks (RFC 9110 §7.6.3).
var viaVersions = map[string]string{"1.1": "1.1", "2": "2", "3": "3"}

// TestIntermediary checks what the edge does as an intermediary to the
// messages it forwards, for each HTTP version downstream against each
// upstream: interim responses relayed on GET (a miss) and pass-through
// requests, and none of their fields in the final response (RFC 9110
// §15.2); Via in both directions (§7.6.3); the fields Connection names
// removed in both directions (§7.6.1); and the edge's own Alt-Svc, never
// the upstream's (RFC 7838), on uncached and cached responses.
func TestIntermediary(t *testing.T) {
	hu := newHintingUpstream(t)
	upURL := &url.URL{Scheme: "https", Host: hu.srv.TLSAddr().String()}
	for _, up := range []string{"1.1", "2", "3"} {
		te := newTestEdge(t, upURL, hu.ca.CAFile, func(e *Edge) {
			e.Transport = testkit.NewClient(t, client.Options{HTTP: up, CAFile: hu.ca.CAFile})
		})
		edgeAltSvc := `h3=":` + strconv.Itoa(te.srv.TLSAddr().(*net.TCPAddr).Port) + `"; ma=86400`
		for _, down := range []string{"1.1", "2", "3"} {
			t.Run("downstream HTTP/"+down+" upstream HTTP/"+up, func(t *testing.T) {
				c := testkit.NewClient(t, client.Options{HTTP: down, CAFile: te.ca.CAFile})
				path := "/h" + down + "/" + up
				var sent http.Header
				if down == "1.1" {
					sent = http.Header{"Connection": {"X-Drop"}, "X-Drop": {"for the edge only"}}
				}
				check := func(t *testing.T, what string, ex exchange, wantInterim bool) {
					t.Helper()
					if ex.resp.StatusCode != http.StatusOK || ex.body != "final" {
						t.Errorf("%s: %d %q", what, ex.resp.StatusCode, ex.body)
					}
					if wantInterim && (len(ex.interim) != 2 || ex.interim[0] != http.StatusProcessing || ex.interim[1] != http.StatusEarlyHints) {
						t.Errorf("%s: interim responses %v, want [102 103] (RFC 9110 §15.2)", what, ex.interim)
					}
					for i, f := range ex.fields {
						if i == 1 && f.Get("Link") == "" {
							t.Errorf("%s: the 103 has no Link: %v", what, f)
						}
						if v := f.Values("Alt-Svc"); len(v) > 0 {
							t.Errorf("%s: interim %d carries Alt-Svc %q", what, ex.interim[i], v)
						}
					}
					h := ex.resp.Header
					if v := h.Get("X-Interim"); v != "" {
						t.Errorf("%s: the final response has the 103's X-Interim %q", what, v)
					}
					if v := h.Values("X-Hop"); len(v) > 0 {
						t.Errorf("%s: the final response has X-Hop %q, which Connection named (RFC 9110 §7.6.1)", what, v)
					}
					wantAlt := []string{edgeAltSvc}
					if down == "3" {
						wantAlt = nil // over HTTP/3 there is nothing to advertise
					}
					if got := h.Values("Alt-Svc"); strings.Join(got, "|") != strings.Join(wantAlt, "|") {
						t.Errorf("%s: Alt-Svc %q, want the edge's own %q", what, got, wantAlt)
					}
					if via, want := strings.Join(h.Values("Via"), ", "), viaVersions[up]+" "+ViaPseudonym; via != want {
						t.Errorf("%s: Via %q, want %q (RFC 9110 §7.6.3)", what, via, want)
					}
				}
				checkUpstream := func(t *testing.T, what string) {
					t.Helper()
					got := hu.lastRequest()
					if v := got.Values("X-Drop"); len(v) > 0 {
						t.Errorf("%s: the upstream received X-Drop %q, which Connection named (RFC 9110 §7.6.1)", what, v)
					}
					if via, want := strings.Join(got.Values("Via"), ", "), viaVersions[down]+" "+ViaPseudonym; via != want {
						t.Errorf("%s: the upstream received Via %q, want %q (RFC 9110 §7.6.3)", what, via, want)
					}
				}
				check(t, "GET, a miss", roundTrip(t, c, http.MethodGet, te.url(path), sent), true)
				checkUpstream(t, "GET, a miss")
				check(t, "GET, from the cache", roundTrip(t, c, http.MethodGet, te.url(path), sent), false)
				check(t, "POST, passed through", roundTrip(t, c, http.MethodPost, te.url(path), sent), true)
				checkUpstream(t, "POST, passed through")
			})
		}
	}
}

// TestNoInterimToHTTP10 checks that an HTTP/1.0 client, which cannot take
// them, gets no interim response (RFC 9110 §15.2), on a GET and on a
// pass-through request.
func TestNoInterimToHTTP10(t *testing.T) {
	hu := newHintingUpstream(t)
	te := newTestEdge(t, &url.URL{Scheme: "https", Host: hu.srv.TLSAddr().String()}, hu.ca.CAFile, nil)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		conn := testkit.DialRaw(t, te.srv.PlainListenAddr().String())
		conn.Send(t, method+" /http10 HTTP/1.0\r\nHost: edge\r\nContent-Length: 0\r\n\r\n")
		if status, _ := conn.ResponseHead(t); !strings.HasPrefix(status, "HTTP/1.0 200 ") {
			t.Errorf("%s over HTTP/1.0: first response %q, want the final 200", method, status)
		}
	}
}
