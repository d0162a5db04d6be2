package host

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/subpub/subpub/internal/access"
	"github.com/subpub/subpub/internal/redact"
)

// logAccess wraps h so that every request is logged to logger once it has
// been answered: method, path (credentials masked), protocol, status,
// bytes of content, duration and, for a subscription, the events it
// delivered and how it ended (from the access.Record that package stream
// fills in, since a subscription is written past the ResponseWriter).
func logAccess(h http.Handler, logger *slog.Logger) http.Handler {
	logger = redact.Logger(logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &access.Record{}
		h.ServeHTTP(&accessWriter{ResponseWriter: w, rec: rec}, r.WithContext(access.NewContext(r.Context(), rec)))
		sum := rec.Summary()
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", redact.String(r.URL.RequestURI())),
			slog.String("proto", r.Proto),
			slog.String("client", r.RemoteAddr),
			slog.Int("status", sum.Status),
			slog.Int64("bytes", sum.Bytes),
			slog.Duration("duration", time.Since(start)),
		}
		if sum.Subscription {
			attrs = append(attrs, slog.Int("events", sum.Events), slog.String("end", sum.End))
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "access", attrs...)
	})
}

// accessWriter records the status and the bytes of an ordinary response.
// Unwrap lets http.ResponseController, package stream and package h2 reach
// the writer underneath (to take the connection over, to flush, to write
// fields); Flush and Hijack are there for code that asserts them directly.
type accessWriter struct {
	http.ResponseWriter
	rec *access.Record
}

func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *accessWriter) WriteHeader(code int) {
	w.rec.Status(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(b []byte) (int, error) {
	w.rec.Content()
	n, err := w.ResponseWriter.Write(b)
	w.rec.Wrote(n)
	return n, err
}

func (w *accessWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *accessWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
