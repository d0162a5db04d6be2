package draft_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/subpub/subpub/wire"
)

// stepTimeout bounds the wait for each step of an exchange. The servers
// under test send a keepalive after two seconds of silence at most (see
// the scenarios), so a step that takes longer is not coming.
const stepTimeout = 10 * time.Second

// exchange is an example's request sent on a connection of its own, and
// what the server sends back, read one step at a time. It speaks HTTP/1.1
// itself, over TCP, so that interim responses are seen as they are on the
// wire rather than through a client library's interface to them.
type exchange struct {
	conn  net.Conn
	br    *bufio.Reader
	req   *http.Request // its method, which decides whether a response has content
	items *bufio.Reader // the content of an event stream, once it has begun
}

// send opens a connection to addr and writes raw, a request.
func send(t *testing.T, addr, method string, raw []byte) *exchange {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetWriteDeadline(time.Now().Add(stepTimeout))
	if _, err := conn.Write(raw); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	return &exchange{conn: conn, br: bufio.NewReader(conn), req: &http.Request{Method: method}}
}

// next reads the next step: a response or, within an event stream, an item
// of its content. At the end of an event stream it returns io.EOF.
func (x *exchange) next() (step, error) {
	x.conn.SetReadDeadline(time.Now().Add(stepTimeout))
	if x.items != nil {
		it, err := readSSEItem(x.items)
		return step{item: it}, err
	}
	resp, err := http.ReadResponse(x.br, x.req)
	if err != nil {
		return step{}, err
	}
	s := step{resp: resp}
	switch {
	case resp.StatusCode < 200:
	case isEventStream(resp):
		x.items = bufio.NewReader(resp.Body)
	default:
		s.content, err = io.ReadAll(resp.Body)
	}
	return s, err
}

// close abandons the exchange, as a client that is done with a
// subscription does.
func (x *exchange) close() { x.conn.Close() }

// replay sends the example's request to the server at addr, rewritten, and
// checks each step the server sends against the example's. After the n-th
// step (counted from 1) it calls after(n), which makes happen what the
// example shows next (an event published, the server shut down). The
// exchange ends as the example does: with its final response (and, for an
// event stream, the end of the content), or, for a subscription still
// open, once the steps shown have arrived.
func replay(t *testing.T, ex *example, addr string, rw rewrite, after func(n int)) {
	t.Helper()
	method, _, _ := ex.requestLine()
	x := send(t, addr, method, ex.wireRequest(addr, rw))
	defer x.close()
	for i, want := range ex.steps {
		got, err := x.next()
		if err != nil {
			t.Errorf("%s, step %d: want %s; got %v", ex.anchor, i+1, want, err)
			return
		}
		diffs := append(compareStep(want, got), checkLive(got)...)
		for _, d := range diffs {
			t.Errorf("%s, step %d (%s): %s", ex.anchor, i+1, want, d)
		}
		if len(diffs) > 0 {
			return
		}
		after(i + 1)
	}
	if x.items != nil && ex.complete {
		switch got, err := x.next(); {
		case err == nil:
			t.Errorf("%s: the event stream goes on after the example ends: %s", ex.anchor, got)
		case !errors.Is(err, io.EOF):
			t.Errorf("%s: the event stream does not end as the example does: %v", ex.anchor, err)
		}
	}
}

// checkLive checks what only a live step has: a publication time that is
// now, in milliseconds.
func checkLive(got step) []string {
	var t string
	switch {
	case got.item != nil:
		t, _ = got.item.field("t")
	case got.resp.Header.Get(wire.FieldEvent) != "":
		d, err := httpsfv.UnmarshalDictionary(got.resp.Header.Values(wire.FieldEvent))
		if err != nil {
			return nil // reported by compareStep
		}
		t = memberValue(d, "t")
	}
	if t == "" {
		return nil
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if off := time.Since(time.UnixMilli(ms)); err != nil || off < -time.Hour || off > time.Hour {
		return []string{fmt.Sprintf("t=%s is not the time of publication in milliseconds since the epoch (now is %d)", t, time.Now().UnixMilli())}
	}
	return nil
}
