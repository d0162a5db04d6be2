package interop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/subpub/subpub/client"
)

// TestInteropChromiumEventSourceAcrossOrigins: a page of another origin
// (the origin server's) opens an EventSource on the edge, which
// --cors-origin lets it read: it opens and receives every event. A page of
// the edge's origin opening one on the origin server, which allows no other
// origin, fails before it opens (negative control).
func TestInteropChromiumEventSourceAcrossOrigins(t *testing.T) {
	const events = 3
	allowed := &row{Client: "Chromium EventSource, page of another origin", Server: "edge --cors-origin", Protocol: "HTTP/1.1 (cleartext)", Want: events}
	refused := &row{Client: "Chromium EventSource, page of another origin", Server: "origin (no CORS)", Protocol: "HTTP/1.1 (cleartext)", Want: 0}
	plan(t, allowed, refused)
	chromium := needTool(t, chromiumPath(), "chromium", allowed, refused)
	s := &servers{}
	s.origin = startProcess(t, "origin",
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--user", "alice:alice-token", "--max-per-client", "-1")
	// The page is the origin's; its origin is what the edge allows.
	pageOrigin := strings.TrimSuffix(s.origin.PlainURL(""), "/")
	s.edge = startProcess(t, "edge",
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--upstream", s.origin.URL(""), "--upstream-cacert", s.origin.CAFile,
		"--max-per-client", "-1", "--cors-origin", pageOrigin)
	pub, err := client.New(client.Options{CAFile: s.origin.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	s.pub = pub
	b, err := launchBrowser(t, chromium, "--disable-quic")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
	defer cancel()
	open := func(pageBase, target string) (*page, error) {
		pg, err := b.newPage(ctx)
		if err != nil {
			return nil, err
		}
		if err := pg.navigate(ctx, pageBase+"/interop"); err != nil {
			return nil, err
		}
		return pg, pg.evaluate(ctx, fmt.Sprintf(openScript, strconv.Quote(target), events), nil)
	}
	refused.run(t, func(t *testing.T) {
		// A page of the edge's origin, which the origin does not allow.
		edgeOrigin := strings.TrimSuffix(s.edge.PlainURL(""), "/")
		if _, err := open(edgeOrigin, s.origin.PlainURL(outboxPath)); err == nil {
			t.Fatal("an EventSource on a server that allows no other origin opened")
		} else {
			refused.note("refused before opening, as it should be: %v", err)
		}
	})
	pg, err := open(pageOrigin, s.edge.PlainURL(outboxPath))
	allowed.run(t, func(t *testing.T) {
		if err != nil {
			t.Fatalf("opening the EventSource on the edge: %v", err)
		}
		want := s.publishNotes(t, events, nil)
		var got struct{ IDs, Types, Contents []string }
		wctx, wcancel := context.WithTimeout(t.Context(), deliveryTimeout)
		defer wcancel()
		if err := pg.evaluate(wctx, fmt.Sprintf(waitScript, events), &got); err != nil {
			t.Fatal(err)
		}
		evs := make([]event, len(got.IDs))
		for i := range got.IDs {
			evs[i] = event{ID: got.IDs[i], Type: got.Types[i], Content: got.Contents[i]}
		}
		allowed.Got = checkOrder(t, allowed.title(), evs, want)
	})
}
