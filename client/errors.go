package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/subpub/subpub/wire"
)

// ErrKeepAliveTimeout reports a subscription that stayed silent past the
// keepalive timeout; the connection is presumed dead and resumed.
var ErrKeepAliveTimeout = errors.New("no event or keepalive within the keepalive timeout")

// ErrMalformedEvent reports a PUB or SSE event the client cannot decode.
// Resuming would receive the same event again, so it is final.
var ErrMalformedEvent = errors.New("malformed event")

// ErrOutOfSequence reports an event whose prev member does not name the last
// event received: one was lost or reordered on the way (by a proxy that
// drops interim responses, say, as RFC 9110 lets a gateway do). The event
// is not delivered; the subscription resumes with Last-Event-ID from the
// last event it delivered, from which the server replays what was missed.
var ErrOutOfSequence = errors.New("an event was lost or reordered on the way")

// statusError reads a final response into a wire.StatusError, consuming at most
// 64 KiB of its body for the problem detail.
func statusError(status int, header http.Header, body io.Reader) *wire.StatusError {
	e := &wire.StatusError{Status: status, Header: header}
	if ra := header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	if body != nil {
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		var problem struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if strings.Contains(header.Get("Content-Type"), "json") && json.Unmarshal(b, &problem) == nil {
			e.Title, e.Detail = problem.Title, problem.Detail
		} else if text := strings.TrimSpace(string(b)); text != "" && len(text) < 300 {
			e.Detail = text
		}
	}
	return e
}
