package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// captured is a short sequence captured from an origin once for the
// package's tests (TestMain), or why it could not be.
var (
	captured   []Event
	captureErr error
)

func TestMain(m *testing.M) {
	contents := []string{
		"One subscription upstream, many downstream: the edge fans each event out.",
		"Each event is flushed as it is written, so that the subscriber can read it at once.",
		"A compressor keeps a window of what it sent, on every connection.",
	}
	var all []string
	for range 7 {
		all = append(all, contents...)
	}
	dir, err := os.MkdirTemp("", "subpub-compression-test-")
	if err != nil {
		captureErr = err
	} else {
		captured, captureErr = Capture(context.Background(), all, dir)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func events(tb testing.TB) []Event {
	tb.Helper()
	if captureErr != nil {
		tb.Fatal(captureErr)
	}
	return captured
}

// TestCapture checks what the capture holds: as many events as notes, in
// both formats, the same event in each (its id).
func TestCapture(t *testing.T) {
	evs := events(t)
	if len(evs) != 21 {
		t.Fatalf("%d events, want 21", len(evs))
	}
	for i, e := range evs {
		if !strings.HasPrefix(string(e.PUB), "HTTP/1.1 105 ") || e.Fields.Get("Event-Data") == "" {
			t.Errorf("event %d: PUB %q", i, e.PUB)
		}
		if !strings.HasSuffix(string(e.SSE), "\n\n") || !strings.Contains(string(e.SSE), "\ndata: ") && !strings.HasPrefix(string(e.SSE), "data: ") {
			t.Errorf("event %d: SSE %q", i, e.SSE)
		}
	}
}

// TestEveryCodecDecodesEachEventWhenFlushed runs the check of every row:
// each event decodes from the bytes flushed once it was written.
func TestEveryCodecDecodesEachEventWhenFlushed(t *testing.T) {
	evs := events(t)
	for _, c := range append(Codecs, EachEventAlone) {
		t.Run(c.Name, func(t *testing.T) {
			sizes, err := compressedSizes(c, evs)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range sizes {
				if n == 0 || n >= len(evs[i].SSE)+64 {
					t.Errorf("event %d: %d bytes compressed, from %d", i, n, len(evs[i].SSE))
				}
			}
		})
	}
}

// TestACompressorNotFlushedFailsTheCheck is the negative control: a
// compressor that is never flushed holds the events back, and the check
// says so instead of counting bytes a client could not use.
func TestACompressorNotFlushedFailsTheCheck(t *testing.T) {
	for _, c := range Codecs {
		t.Run(c.Name, func(t *testing.T) {
			unflushed := c
			unflushed.New = func(w io.Writer) (FlushWriter, error) {
				fw, err := c.New(w)
				return noFlush{fw}, err
			}
			if _, err := compressedSizes(unflushed, events(t)); err == nil || !errors.Is(err, errNotFlushed) && !strings.Contains(err.Error(), "could not be decoded") {
				t.Errorf("err = %v, want the first event not decodable", err)
			}
		})
	}
}

type noFlush struct{ FlushWriter }

func (noFlush) Flush() error { return nil }

// TestMeasure runs the whole measurement on the short sequence: a row per
// way, SUB's bytes those of the captured responses.
func TestMeasure(t *testing.T) {
	evs := events(t)
	rows, err := Measure(evs, Options{Rounds: 1, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 + len(Codecs) + 1; len(rows) != want {
		t.Fatalf("%d rows, want %d", len(rows), want)
	}
	total := 0
	for _, e := range evs {
		total += len(e.PUB)
	}
	if got := rows[0].H1; got != float64(total)/float64(len(evs)) {
		t.Errorf("SUB over HTTP/1.1: %v bytes per event, want the captured %v", got, float64(total)/float64(len(evs)))
	}
	if md := (&Report{Events: len(evs), Rows: rows}).Markdown(); !strings.Contains(md, "| SSE + gzip -1 |") {
		t.Errorf("the report has no gzip row:\n%s", md)
	}
}

// BenchmarkCodecs is the processor time of each compressor per event on
// one connection (ns/op is per event), for profiling a compressor: its
// events are the tests' short capture, three sentences over and over,
// which compress far better than the command's 1,000 distinct ones, so
// its figures are not the report's.
func BenchmarkCodecs(b *testing.B) {
	evs := events(b)
	for _, c := range append(Codecs, EachEventAlone) {
		b.Run(c.Name, func(b *testing.B) {
			conn, err := newCompressed(c)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, err := conn.encode(&evs[i%len(evs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
