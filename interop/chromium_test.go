package interop

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/subpub/subpub/internal/launch"
)

// chromiumEvents is how many SSE events each page must receive.
const chromiumEvents = 100

// chromiumPath is the Chromium binary: Debian's, or whatever PATH has.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return "chromium"
}

// chromiumRow is a row of the Chromium test: which server, over which
// protocol, and what proves the protocol from both sides.
type chromiumRow struct {
	*row
	proto string // as the browser's network stack names it: "http/1.1", "h2", "h3"
	label string // as the server's metrics name it: "h1", "h2", "h3"
	tls   bool
	quic  bool // the page runs in the browser forced onto QUIC
	page  *page
	err   error // opening the subscription
}

// TestInteropChromiumEventSourceReceivesSSEOverEachProtocol opens an
// EventSource in Chromium on the origin and on the edge, over HTTP/1.1,
// HTTP/2 and HTTP/3, and checks that each page receives every event in
// order over the protocol intended: the browser's network stack reports
// the protocol of the EventSource's response (DevTools Network domain), and
// the server's metrics count the events it wrote per protocol.
//
// A page is loaded from the server itself (any path: its 404 document does)
// so that the EventSource is same-origin and needs no CORS. HTTP/1.1 goes
// over the cleartext listener, where Chromium speaks nothing else; HTTP/2
// over TLS, where ALPN selects h2, in a browser started with --disable-quic
// so that the servers' Alt-Svc cannot move it to HTTP/3; HTTP/3 in a second
// browser forced onto QUIC for the servers' origins. Both browsers trust
// the servers' certificates by their public keys.
func TestInteropChromiumEventSourceReceivesSSEOverEachProtocol(t *testing.T) {
	var rows []*chromiumRow
	for _, server := range []string{"origin", "edge"} {
		rows = append(rows,
			&chromiumRow{row: &row{Client: "Chromium EventSource", Server: server, Protocol: "HTTP/1.1 (cleartext)"}, proto: "http/1.1", label: "h1"},
			&chromiumRow{row: &row{Client: "Chromium EventSource", Server: server, Protocol: "HTTP/2 (TLS)"}, proto: "h2", label: "h2", tls: true},
			&chromiumRow{row: &row{Client: "Chromium EventSource", Server: server, Protocol: "HTTP/3"}, proto: "h3", label: "h3", tls: true, quic: true})
	}
	all := make([]*row, len(rows))
	for i, r := range rows {
		all[i] = r.row
		r.Want = chromiumEvents
	}
	plan(t, all...)
	chromium := needTool(t, chromiumPath(), "chromium", all...)
	s := startServers(t, true)

	var spkis, quicOrigins []string
	for _, p := range []*launch.Process{s.origin, s.edge} {
		spki, err := certificateSPKI(filepath.Join(filepath.Dir(p.CAFile), "cert.pem"))
		if err != nil {
			t.Fatal(err)
		}
		spkis = append(spkis, spki)
		quicOrigins = append(quicOrigins, p.TLSAddr)
	}
	trust := "--ignore-certificate-errors-spki-list=" + strings.Join(spkis, ",")
	// Chromium starts slowly: start both at once.
	var quicBrowser *browser
	var quicErr error
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		quicBrowser, quicErr = launchBrowser(t, chromium, trust, "--enable-quic", "--origin-to-force-quic-on="+strings.Join(quicOrigins, ","))
	}()
	tcpBrowser, err := launchBrowser(t, chromium, trust, "--disable-quic")
	<-launched
	if err = cmp.Or(err, quicErr); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
	defer cancel()
	opened := make(chan *chromiumRow)
	for _, r := range rows {
		b := tcpBrowser
		if r.quic {
			b = quicBrowser
		}
		go func() {
			r.err = r.open(ctx, b, s.server(r.Server))
			opened <- r
		}()
	}
	for range rows {
		<-opened
	}
	cancel()
	want := s.publishNotes(t, chromiumEvents, nil)
	ctx, cancel = context.WithTimeout(t.Context(), deliveryTimeout)
	defer cancel()
	type received struct {
		IDs, Types, Contents []string
		Errors               int
		ReadyState           int
		NextHopProtocol      string
	}
	got := make([]received, len(rows))
	waitErrs := make([]error, len(rows))
	var waiting sync.WaitGroup
	for i, r := range rows {
		if r.err == nil {
			waiting.Go(func() {
				waitErrs[i] = r.page.evaluate(ctx, fmt.Sprintf(waitScript, chromiumEvents), &got[i])
			})
		}
	}
	waiting.Wait()
	for i, r := range rows {
		r.run(t, func(t *testing.T) {
			if r.err != nil {
				r.note("%v", r.err)
				t.Fatalf("opening the EventSource: %v", r.err)
			}
			if waitErrs[i] != nil {
				t.Fatalf("waiting for the events: %v", waitErrs[i])
			}
			g := got[i]
			events := make([]event, len(g.IDs))
			for j := range g.IDs {
				events[j] = event{ID: g.IDs[j], Type: g.Types[j], Content: g.Contents[j]}
			}
			r.Got = checkOrder(t, r.title(), events, want)
			if r.Got < chromiumEvents {
				r.note("EventSource readyState %d after %d events", g.ReadyState, len(g.IDs))
			}
			r.page.mu.Lock()
			es := r.page.eventSource
			r.page.mu.Unlock()
			if es.protocol != r.proto {
				t.Errorf("the EventSource's response came over %q (page: %q), want %q", es.protocol, g.NextHopProtocol, r.proto)
			}
			if g.Errors > 0 {
				r.note("%d EventSource error events (reconnections)", g.Errors)
				t.Errorf("%d EventSource error events: the stream was interrupted", g.Errors)
			}
			p := s.server(r.Server)
			family := "subpub_" + r.Server + "_events_delivered_total"
			samples, err := p.Metrics(family)
			if err != nil {
				t.Fatal(err)
			}
			delivered := samples[`format="sse",proto="`+r.label+`"`]
			if delivered < chromiumEvents {
				t.Errorf("%s{format=\"sse\",proto=%q} = %v, want at least %d", family, r.label, delivered, chromiumEvents)
			}
			if len(g.IDs) > 0 {
				r.note("ids %s to %s", g.IDs[0], g.IDs[len(g.IDs)-1])
			}
			r.note("browser: page over %s, EventSource response over %s (%d); server: %s{format=\"sse\",proto=%q} = %v",
				g.NextHopProtocol, es.protocol, es.status, strings.TrimPrefix(family, "subpub_"), r.label, delivered)
		})
	}
}

// open loads a page from the server over the row's protocol and opens an
// EventSource on alice's outbox, waiting until it is open.
func (r *chromiumRow) open(ctx context.Context, b *browser, p *launch.Process) error {
	pg, err := b.newPage(ctx)
	if err != nil {
		return err
	}
	r.page = pg
	base := p.PlainURL("")
	if r.tls {
		base = p.URL("")
	}
	if err := pg.navigate(ctx, base+"/interop"); err != nil {
		return err
	}
	if err := pg.evaluate(ctx, fmt.Sprintf(openScript, strconv.Quote(outboxPath), chromiumEvents), nil); err != nil {
		pg.mu.Lock()
		defer pg.mu.Unlock()
		if pg.eventSource.failure != "" {
			return fmt.Errorf("%v (network: %s)", err, pg.eventSource.failure)
		}
		return err
	}
	return nil
}

// openScript opens the EventSource (arguments: its URL, the events to
// collect) and resolves once it is open. Events are collected in
// window.sub; this origin's events have the type Add, and any unnamed
// ("message") event is collected too so that it would show.
const openScript = `new Promise((resolve, reject) => {
	const sub = window.sub = {ids: [], types: [], contents: [], errors: 0, opened: false, wake: null};
	const es = sub.es = new EventSource(%s);
	const want = %d;
	const onEvent = (e) => {
		sub.ids.push(e.lastEventId);
		sub.types.push(e.type);
		let content;
		try { content = JSON.parse(e.data).object.object.content; } catch (err) { content = 'unreadable data: ' + err; }
		sub.contents.push(content);
		if (sub.ids.length >= want) es.close();
		if (sub.wake) sub.wake();
	};
	es.addEventListener('Add', onEvent);
	es.addEventListener('message', onEvent);
	es.onopen = () => { sub.opened = true; resolve(true); };
	es.onerror = () => {
		sub.errors++;
		if (!sub.opened) { es.close(); reject(new Error('EventSource failed before opening (readyState ' + es.readyState + ')')); }
		if (sub.wake) sub.wake();
	};
})`

// waitScript resolves with what window.sub collected once it has the
// number of events given, or its EventSource is closed for good.
const waitScript = `new Promise((resolve) => {
	const sub = window.sub, want = %d;
	const check = () => {
		if (sub.ids.length < want && sub.es.readyState !== EventSource.CLOSED) return;
		const nav = performance.getEntriesByType('navigation')[0];
		resolve({ids: sub.ids, types: sub.types, contents: sub.contents, errors: sub.errors,
			readyState: sub.es.readyState, nextHopProtocol: nav ? nav.nextHopProtocol : ''});
	};
	sub.wake = check;
	check();
})`

// certificateSPKI is the base64 SHA-256 of the public key of the first
// certificate in a PEM file, as --ignore-certificate-errors-spki-list
// takes it.
func certificateSPKI(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s: no PEM certificate", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}
