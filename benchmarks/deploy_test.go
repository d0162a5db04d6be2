package benchmarks

import (
	"testing"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/launch"
)

func TestEdgeTargetReaders(t *testing.T) {
	edge := &launch.Process{TLSAddr: "127.0.0.1:8443", PlainAddr: "127.0.0.1:8080", CAFile: "/ca.pem"}
	for _, c := range []struct {
		system, muxReader string
		lossy             bool
		reader, http      string
	}{
		{"edge-sse-h1", load.ReaderLean, false, load.ReaderLean, ""},
		{"edge-sub-h1", load.ReaderLean, false, load.ReaderClient, "1.1"},
		{"edge-sub-h2", load.ReaderLean, false, load.ReaderLean, "2"},
		{"edge-sse-h2", load.ReaderLean, false, load.ReaderLean, "2"},
		{"edge-sub-h3", load.ReaderLean, false, load.ReaderLean, "3"},
		{"edge-sse-h3", load.ReaderLean, false, load.ReaderLean, "3"},
		{"edge-sub-h2", load.ReaderClient, false, load.ReaderClient, "2"},
		{"edge-sse-h3", load.ReaderClient, false, load.ReaderClient, "3"},
		{"edge-sub-h2", load.ReaderLean, true, load.ReaderClient, "2"},
		{"edge-sub-h3", load.ReaderLean, true, load.ReaderClient, "3"},
	} {
		sys, ok := systemByName(c.system)
		if !ok {
			t.Fatalf("no system %s", c.system)
		}
		got := edgeTarget(edge, sys, 100, c.muxReader, c.lossy)
		if got.Reader != c.reader || got.HTTP != c.http {
			t.Errorf("%s (%s, lossy %v): reader %q over HTTP %q, want %q over %q", c.system, c.muxReader, c.lossy, got.Reader, got.HTTP, c.reader, c.http)
		}
		if c.http == "2" || c.http == "3" {
			if got.URL != edge.URL(outboxPath) || got.CAFile != "/ca.pem" || got.PerConnection != 100 {
				t.Errorf("%s: %+v", c.system, got)
			}
		}
	}
}
