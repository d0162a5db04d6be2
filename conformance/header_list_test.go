package conformance

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHeaderListCheckFailsAServerThatExceedsTheLimit is http2/2's second
// negative control, for the limit itself (the first, in serverControls,
// leaves the event out): the scripted server served by net/http's HTTP/2
// server, which records the client's SETTINGS_MAX_HEADER_LIST_SIZE but
// does not look at it when it writes, so that the PUB over the limit goes
// out. The check must see it.
func TestHeaderListCheckFailsAServerThatExceedsTheLimit(t *testing.T) {
	s := &ScriptedServer{}
	srv := httptest.NewUnstartedServer(s)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	s.base = srv.URL
	report := runServer(t, s, controlTimeout)
	res, ok := report.Result("http2/2")
	if !ok || res.Status != Fail || !strings.Contains(res.Detail, "to a client whose limit is") {
		t.Errorf("http2/2: %s %s, want a failure for a response over the limit\n%s", res.Status, res.Detail, text(report))
	}
}
