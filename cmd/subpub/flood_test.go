package main

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// rapidResets opens streams on h2c connections to addr and resets each at
// once, perConn per connection (the server's ResetBurst) until it has sent
// n, cycling through requests that reach the application's every path: a
// GET (the edge's cache), a SUB, a POST (the edge's pass-through).
func rapidResets(t *testing.T, addr string, n, perConn int) {
	t.Helper()
	methods := []string{"GET", "SUB", "POST"}
	sent := 0
	for sent < n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, nc)
		fr := http2.NewFramer(nc, nc)
		io.WriteString(nc, http2.ClientPreface)
		fr.WriteSettings()
		fr.WriteSettingsAck()
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for id := uint32(1); sent < n && id < uint32(2*perConn); id += 2 {
			block.Reset()
			for _, f := range [][2]string{
				{":method", methods[sent%len(methods)]}, {":scheme", "http"}, {":authority", addr},
				{":path", "/users/alice/outbox"}, {"authorization", "Bearer alice-token"},
			} {
				enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
				fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break
			}
			sent++
		}
		nc.Close()
	}
}

// TestRapidResetsAreCountedNotLogged resets 20,000 HTTP/2 streams as soon
// as they are opened, at an origin and at an edge in front of it: the
// requests the clients cancelled are counted in each one's metrics, and
// neither writes more than a few lines for them.
func TestRapidResetsAreCountedNotLogged(t *testing.T) {
	const resets, maxLines = 20000, 20
	var originLog, edgeLog testkit.LogBuffer
	o := startProcess(t, "origin", launch.Options{Stderr: &originLog},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--data", t.TempDir(), "--user", "alice:alice-token")
	e := startEdge(t, o, launch.Options{Stderr: &edgeLog},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--data", t.TempDir())

	for _, p := range []*launch.Process{o, e} {
		rapidResets(t, p.PlainAddr, resets, 1000)
		metric := "subpub_" + p.Role + "_requests_canceled_total"
		testkit.WaitUntil(t, p.Role+" counts cancelled requests", func() bool {
			n, err := p.Sum(metric)
			return err == nil && n > 0
		})
		n, _ := p.Sum(metric)
		t.Logf("%s: %v of %d requests counted as cancelled", p.Role, n, resets)
	}
	o.Stop()
	e.Stop()
	for name, log := range map[string]string{"origin": originLog.String(), "edge": edgeLog.String()} {
		if n := strings.Count(log, "\n"); n > maxLines {
			t.Errorf("the %s wrote %d lines for %d reset streams, want at most %d; the first:\n%s", name, n, resets, maxLines, firstLines(log, 5))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
