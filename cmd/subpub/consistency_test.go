package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// rawStatus sends a raw HTTP/1.1 request to addr and returns the status of
// the first final response.
func rawStatus(t *testing.T, addr, request string) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := nc.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			return resp.StatusCode
		}
	}
}

// TestEdgeRefusesWhatTheOriginRefuses sends requests the origin refuses,
// on the wire, to the origin and to an edge in front of it: the edge
// answers each with the origin's status.
func TestEdgeRefusesWhatTheOriginRefuses(t *testing.T) {
	o := startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(), "--user", "alice:alice-token")
	e := startEdge(t, o, launch.Options{}, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir())

	for _, tt := range []struct {
		name, request string
		status        int
	}{
		{"Last-Event-ID twice", "SUB /users/alice/outbox HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n", http.StatusBadRequest},
		{"Last-Event-ID twice, SSE", "GET /users/alice/outbox HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n", http.StatusBadRequest},
		{"a chunked body with bare LF line endings",
			"POST /users/alice/outbox HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token\r\nContent-Type: application/activity+json\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"2\n{}\n0\n\n", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []*launch.Process{o, e} {
				if status := rawStatus(t, p.PlainAddr, tt.request); status != tt.status {
					t.Errorf("the %s answered %d, want %d", p.Role, status, tt.status)
				}
			}
		})
	}
	t.Run("Last-Event-ID twice over HTTP/2 and HTTP/3", func(t *testing.T) {
		for _, version := range []string{client.HTTP2, client.HTTP3} {
			for _, p := range []*launch.Process{o, e} {
				c := testkit.NewClient(t, client.Options{HTTP: version, CAFile: p.CAFile})
				// An edge that took the first id would stream: wait for
				// the answer a bounded time.
				ctx, cancel := context.WithTimeout(t.Context(), testkit.Timeout)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, "SUB", p.URL("/users/alice/outbox"), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Add("Last-Event-ID", "1")
				req.Header.Add("Last-Event-ID", "2")
				resp, err := c.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("the %s over %s answered %d, want 400", p.Role, version, resp.StatusCode)
				}
			}
		}
	})
}
