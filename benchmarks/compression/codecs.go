package main

import (
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// A Codec compresses one connection's text/event-stream, as a server
// compressing the response does: one compressor for the connection's
// lifetime, flushed after each event so that the client can decode the
// event at once.
type Codec struct {
	Name string
	// Window is the history the compressor keeps, which the decoder must
	// keep too: the state a connection holds on each side.
	Window string
	// New starts a compressor writing to w.
	New func(w io.Writer) (FlushWriter, error)
	// NewReader starts the matching decoder, as a client holds one.
	NewReader func(r io.Reader) (io.Reader, error)
}

// FlushWriter is a streaming compressor.
type FlushWriter interface {
	io.Writer
	// Flush writes out everything written so far, so that the decoder
	// can produce it without waiting for more.
	Flush() error
}

// Codecs are the compressors compared: gzip at nginx's default level (1)
// and at zlib's (6); brotli at a quality servers use for dynamic content
// (4), with the library's default window and a small one; zstd at its
// fastest and default levels, and the default with a small window, each
// with one goroutine (a server does not give each connection more).
var Codecs = []Codec{
	gzipCodec(1),
	gzipCodec(6),
	brotliCodec(4, 22),
	brotliCodec(4, 16),
	zstdCodec("fastest", zstd.SpeedFastest, 4<<20, false),
	zstdCodec("default", zstd.SpeedDefault, 8<<20, false),
	zstdCodec("default", zstd.SpeedDefault, 64<<10, true),
}

// EachEventAlone is deflate with its history dropped after every event:
// each event's compressed bytes then depend on that event alone, so that
// a server can compress it once and send the same bytes to every
// subscriber (deflate's full flush; the blocks of successive compressors
// make one valid stream, since none refers back past its own event).
var EachEventAlone = Codec{
	Name: "deflate -6, each event alone", Window: "none kept between events",
	New:       func(w io.Writer) (FlushWriter, error) { return &aloneWriter{w: w}, nil },
	NewReader: func(r io.Reader) (io.Reader, error) { return flate.NewReader(r), nil },
}

// aloneWriter compresses each event with one compressor, reset (its
// history dropped) before each event, as a server would reuse it.
type aloneWriter struct {
	w       io.Writer
	z       *flate.Writer
	started bool // an event is being written since the last Flush
}

func (a *aloneWriter) Write(p []byte) (int, error) {
	if !a.started {
		if a.z == nil {
			var err error
			if a.z, err = flate.NewWriter(a.w, 6); err != nil {
				return 0, err
			}
		} else {
			a.z.Reset(a.w)
		}
		a.started = true
	}
	return a.z.Write(p)
}

func (a *aloneWriter) Flush() error {
	if !a.started {
		return nil
	}
	a.started = false
	return a.z.Flush()
}

func gzipCodec(level int) Codec {
	return Codec{
		Name: fmt.Sprintf("gzip -%d", level), Window: "32 KiB",
		New:       func(w io.Writer) (FlushWriter, error) { return gzip.NewWriterLevel(w, level) },
		NewReader: func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
	}
}

func brotliCodec(quality, lgwin int) Codec {
	return Codec{
		Name: fmt.Sprintf("brotli %d, lgwin %d", quality, lgwin), Window: kib(1 << lgwin),
		New: func(w io.Writer) (FlushWriter, error) {
			return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: quality, LGWin: lgwin}), nil
		},
		NewReader: func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
	}
}

// zstdCodec is zstd at level with window (the library's default for the
// level unless custom).
func zstdCodec(name string, level zstd.EncoderLevel, window int, custom bool) Codec {
	c := Codec{
		Name: "zstd " + name, Window: kib(window),
		New: func(w io.Writer) (FlushWriter, error) {
			opts := []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1)}
			if custom {
				opts = append(opts, zstd.WithWindowSize(window))
			}
			return zstd.NewWriter(w, opts...)
		},
		NewReader: func(r io.Reader) (io.Reader, error) {
			d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		},
	}
	if custom {
		c.Name += ", " + kib(window) + " window"
	}
	return c
}

func kib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
