// Package redact keeps credentials out of logs: String masks them in text,
// and Handler masks them in every record a slog.Logger writes, whoever
// logs it (subpub's packages, net/http, quic-go's HTTP/3 server), so that
// a request line, a URL in an error or a header value quoted in a message
// never carries a bearer token.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Mask is what a credential is replaced by.
const Mask = "********"

// credentials matches what carries a credential in text: an access_token
// query parameter (RFC 6750 §2.3; its name percent-encoded too) up to the
// end of its value, and the token68 after "Bearer" (an Authorization
// value). The quote a match may end with tells an auth-param (realm="…"
// in a challenge), which is no credential.
var credentials = regexp.MustCompile(`(?i)(access(?:_|%5f)token=)[^&#\s"'<>]*|(\bbearer[ \t]+)[A-Za-z0-9\-._~+/]+=*("?)`)

// String returns s with every credential in it masked.
func String(s string) string {
	if !mayHold(s) {
		return s
	}
	matches := credentials.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		prefix := m[3] // end of the access_token= group, or
		if prefix < 0 {
			prefix = m[5] // of the "Bearer " group
			if m[6] >= 0 && m[7] > m[6] {
				continue // an auth-param: name="value"
			}
		}
		b.WriteString(s[last:prefix])
		b.WriteString(Mask)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// mayHold is a quick test that s might hold a credential.
func mayHold(s string) bool {
	return strings.Contains(s, "oken") || strings.Contains(s, "OKEN") ||
		strings.Contains(s, "earer") || strings.Contains(s, "EARER")
}

// Handler masks credentials in the message and the attribute values of
// every record before its inner handler sees them: string values, and the
// text of errors, fmt.Stringers and other values, which it passes on as
// strings when they held one. Groups are masked member by member.
type Handler struct {
	inner slog.Handler
}

// NewHandler wraps h; a Handler is returned as it is.
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*Handler); ok {
		return h
	}
	return &Handler{inner: h}
}

// Logger is l with its handler wrapped by NewHandler.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = attr(a)
	}
	return &Handler{inner: h.inner.WithAttrs(masked)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name)}
}

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); mayHold(s) {
			return slog.String(a.Key, String(s))
		}
	case slog.KindGroup:
		group := v.Group()
		masked := make([]any, len(group))
		for i, g := range group {
			masked[i] = attr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		case []byte:
			text = string(x)
		default:
			text = fmt.Sprint(x)
		}
		if masked := String(text); masked != text {
			return slog.String(a.Key, masked)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
