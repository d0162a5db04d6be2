package stream

import (
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/subpub/subpub/wire"
)

// Negotiate tells whether r asks for a subscription, and in which format:
// the SUB method, or GET with an Accept field that prefers
// text/event-stream. It returns an error for a subscription that cannot be
// served: SUB over HTTP/1.0, which cannot carry interim responses (RFC 9110
// §15.2 forbids sending them to a 1.0 client).
func Negotiate(r *http.Request) (wire.Format, error) {
	switch r.Method {
	case wire.MethodSUB:
		if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
			return 0, &wire.StatusError{
				Status: http.StatusHTTPVersionNotSupported,
				Detail: "SUB needs HTTP/1.1 or later: HTTP/1.0 cannot carry interim (1xx) responses; use HTTP/1.1, HTTP/2 or HTTP/3, or GET with Accept: text/event-stream",
			}
		}
		return wire.FormatPUB, nil
	case http.MethodGet:
		if prefersEventStream(r.Header.Values("Accept")) {
			return wire.FormatSSE, nil
		}
	}
	return 0, nil
}

// prefersEventStream reports whether text/event-stream is acceptable and no
// other listed media range is preferred over it.
func prefersEventStream(accept []string) bool {
	sse, best := -1.0, 0.0
	for mr := range MediaRanges(accept) {
		switch mr.Type {
		case wire.ContentTypeSSE:
			sse = max(sse, mr.Q)
		case "*/*", "text/*":
			// Wildcards accept an event stream but do not ask for one.
		default:
			best = max(best, mr.Q)
		}
	}
	return sse > 0 && sse >= best
}

// MediaRange is one element of an Accept field: a media type (or range)
// and its quality.
type MediaRange struct {
	Type string
	Q    float64
}

// MediaRanges yields the media ranges of Accept field values, skipping
// malformed ones.
func MediaRanges(accept []string) iter.Seq[MediaRange] {
	return func(yield func(MediaRange) bool) {
		for _, line := range accept {
			for r := range strings.SplitSeq(line, ",") {
				mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
				if err != nil {
					continue
				}
				q := 1.0
				if v, ok := params["q"]; ok {
					if q, err = strconv.ParseFloat(v, 64); err != nil {
						continue
					}
				}
				if !yield(MediaRange{Type: mt, Q: q}) {
					return
				}
			}
		}
	}
}
