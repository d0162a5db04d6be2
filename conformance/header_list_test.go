package conformance

import (
	"errors"
	"net"
	"net/http"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ScriptedServer{base: "http://" + ln.Addr().String()}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: s, Protocols: &protocols}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	report := runServer(t, s, controlTimeout)
	res, ok := report.Result("http2/2")
	if !ok || res.Status != Fail || !strings.Contains(res.Detail, "to a client whose limit is") {
		t.Errorf("http2/2: %s %s, want a failure for a response over the limit\n%s", res.Status, res.Detail, text(report))
	}
}
