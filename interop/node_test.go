package interop

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nodeEvents is how many PUBs each Node subscriber must receive: far more
// header bytes in all (about 1.2 MB) than Node's HTTP/1.1 parser allows in
// one message (16 KiB by default), so a cap counted per request rather than
// per message would show.
const nodeEvents = 1000

// TestInteropNodeHTTP1ReceivesAThousandPUBsInOrder subscribes with
// node:https and node:http, which deliver each 1xx response as an
// 'information' event, to the origin and to the edge.
func TestInteropNodeHTTP1ReceivesAThousandPUBsInOrder(t *testing.T) {
	runNodeSubscribers(t, "1.1", nodeRows("Node http", "HTTP/1.1 (TLS)", "HTTP/1.1 (cleartext)"))
}

// TestInteropNodeHTTP2ReceivesAThousandPUBsInOrder subscribes with
// node:http2, whose streams emit 'headers' for each 1xx HEADERS block, to
// the origin and to the edge, over TLS and h2c.
func TestInteropNodeHTTP2ReceivesAThousandPUBsInOrder(t *testing.T) {
	runNodeSubscribers(t, "2", nodeRows("Node http2", "HTTP/2 (TLS)", "h2c (cleartext, prior knowledge)"))
}

// nodeRows are the rows of client over each of protocols, on the origin
// and then on the edge.
func nodeRows(client string, protocols ...string) []*row {
	var rows []*row
	for _, server := range []string{"origin", "edge"} {
		for _, p := range protocols {
			rows = append(rows, &row{Client: client, Server: server, Protocol: p})
		}
	}
	return rows
}

// runNodeSubscribers subscribes with subscribe.mjs once per row, all at
// once, publishes nodeEvents notes, and checks that each subscriber
// received every one, in order.
func runNodeSubscribers(t *testing.T, httpVersion string, rows []*row) {
	plan(t, rows...)
	node := needTool(t, "node", "nodejs", rows...)
	s := startServers(t, true)

	streams := make([]*stream, len(rows))
	for i, r := range rows {
		r.Want = nodeEvents
		p := s.server(r.Server)
		url := p.PlainURL(outboxPath)
		if strings.Contains(r.Protocol, "TLS") {
			url = p.URL(outboxPath)
		}
		proc := startProc(t, "node "+r.title(), scriptDir(t), false,
			node, "subscribe.mjs", "--http", httpVersion, "--ca", p.CAFile, "--count", fmt.Sprint(nodeEvents), url)
		streams[i] = newStream(r.title())
		streams[i].follow(proc, parseNodeLine)
	}
	for _, st := range streams {
		st.waitAck(t)
	}
	started := time.Now()
	want := s.publishNotes(t, nodeEvents, nil)
	deadline := time.Now().Add(deliveryTimeout)
	for i, r := range rows {
		r.run(t, func(t *testing.T) {
			events := streams[i].waitEvents(nodeEvents, deadline)
			_, _, why := streams[i].snapshot()
			r.Got = checkOrder(t, streams[i].label, events, want)
			if r.Got < nodeEvents {
				r.note("stopped: %s", why)
				t.Errorf("%s: the stream stopped: %s", streams[i].label, why)
				return
			}
			total, largest := 0, 0
			for _, e := range events {
				total += e.FieldBytes
				largest = max(largest, e.FieldBytes)
			}
			r.note("%d PUBs on one request in %.1f s, %.1f MB of header sections, the largest %d bytes",
				len(events), time.Since(started).Seconds(), float64(total)/1e6, largest)
			// Node's defaults: --max-http-header-size 16384 for HTTP/1.1,
			// maxHeaderListSize 65535 for HTTP/2.
			switch {
			case httpVersion == "1.1" && total > 16384:
				r.note("so Node's header limit (--max-http-header-size, 16 KiB) applies to each 1xx response alone")
			case httpVersion == "2" && total > 65535:
				r.note("so Node's header list limit (maxHeaderListSize, 65535) applies to each HEADERS block alone")
			}
		})
	}
}

// parseNodeLine reads one JSON line of subscribe.mjs.
func parseNodeLine(line string, s *stream) {
	var m struct {
		Kind        string
		ID, Type    string
		DataType    string
		Content     string
		FieldBytes  int
		HeaderBytes int
		Reason      string
		Status      int
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		s.end(fmt.Sprintf("unreadable output %q: %v", line, err))
		return
	}
	if m.HeaderBytes > 0 {
		s.setBytes(m.HeaderBytes)
	}
	switch m.Kind {
	case "ack":
		s.ack()
	case "event":
		if m.DataType != m.Type {
			s.end(fmt.Sprintf("event %s: type %s, but its data is a %s", m.ID, m.Type, m.DataType))
			return
		}
		s.add(event{ID: m.ID, Type: m.Type, Content: m.Content, FieldBytes: m.FieldBytes})
	case "end":
		s.end(m.Reason)
	case "interim":
		s.end(fmt.Sprintf("unexpected interim response %d", m.Status))
	}
}

// scriptDir is this package's directory, where the Node scripts are.
func scriptDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the interop package")
	}
	return filepath.Dir(file)
}
