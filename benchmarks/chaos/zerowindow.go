package chaos

import (
	"bytes"
	"context"
	"net"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// zeroWindowWait bounds the wait for a server to end the stream of a
// client that gives it no flow-control window: past the servers' stall
// bound (30 s) and its watchdog's period, it never will.
const zeroWindowWait = 90 * time.Second

// ZeroWindowResult is what a server did with an HTTP/2 client that opened
// an SSE stream with an initial window of 0 and never gave it more: its
// first write can never start.
type ZeroWindowResult struct {
	Server string `json:"server"`
	// Ended says the server ended the stream (RST_STREAM, GOAWAY or the
	// connection closed) after EndedMS; How says which.
	Ended   bool    `json:"ended"`
	EndedMS float64 `json:"ended_ms"`
	How     string  `json:"how"`
	// StalledCounted is the rise of the server's count of subscriptions
	// ended as stalled meanwhile.
	StalledCounted float64 `json:"stalled_counted"`
	Error          string  `json:"error,omitempty"`
	Pass           bool    `json:"pass"`
}

// stalledClosed sums the server's subscriptions ended as stalled.
func stalledClosed(srv *server) float64 {
	return srv.metricWith("subpub_"+srv.role+"_subscriptions_closed_total", `reason="stalled"`)
}

// zeroWindow opens the outbox as SSE over h2c (prior knowledge) on srv's
// cleartext port with SETTINGS_INITIAL_WINDOW_SIZE 0, answers SETTINGS and
// PINGs as a live client does, and waits for the server to end the stream.
func zeroWindow(ctx context.Context, srv *server) ZeroWindowResult {
	res := ZeroWindowResult{Server: srv.name}
	before := stalledClosed(srv)
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.plainAddr)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer nc.Close()
	fr := http2.NewFramer(nc, nc)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "GET"}, {":scheme", "http"}, {":authority", srv.plainAddr},
		{":path", outboxPath}, {"accept", "text/event-stream"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	_, err = nc.Write([]byte(http2.ClientPreface))
	if err == nil {
		err = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	}
	if err == nil {
		err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true})
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	opened := time.Now()
	nc.SetReadDeadline(opened.Add(zeroWindowWait))
	for res.How == "" {
		f, err := fr.ReadFrame()
		if err != nil {
			res.How = "connection closed"
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				res.How = ""
				res.Error = "not ended after " + zeroWindowWait.String()
				break
			}
			continue
		}
		load.AckControl(fr, f) // a failed write ends the connection, which is seen next
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				res.How = "RST_STREAM " + f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			res.How = "GOAWAY " + f.ErrCode.String()
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				res.How = "END_STREAM"
			}
		}
	}
	res.Ended = res.How != ""
	res.EndedMS = msSince(opened, time.Now())
	// The count is updated as the stream ends; read it until it shows.
	waitUntil(ctx, 5*time.Second, func() bool { return stalledClosed(srv) > before })
	res.StalledCounted = stalledClosed(srv) - before
	res.Pass = res.Ended && res.StalledCounted >= 1 && res.Error == ""
	return res
}
