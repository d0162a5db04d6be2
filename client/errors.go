package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrStreamEnded reports that the server ended the stream and asked not to
// resubscribe (a final 204, SSE's "do not reconnect").
var ErrStreamEnded = errors.New("server ended the stream (204): not resubscribing")

// ErrKeepAliveTimeout reports a subscription that stayed silent past the
// keepalive timeout; the connection is presumed dead and resumed.
var ErrKeepAliveTimeout = errors.New("no event or keepalive within the keepalive timeout")

// ErrMalformedEvent reports a PUB or SSE event the client cannot decode.
// Resuming would receive the same event again, so it is final.
var ErrMalformedEvent = errors.New("malformed event")

// StatusError is a final response that ended (or refused) a subscription.
type StatusError struct {
	Status int
	// Title and Detail come from the server's problem detail (RFC 9457),
	// when it sent one.
	Title, Detail string
	// RetryAfter is the server's Retry-After, or zero.
	RetryAfter time.Duration
	// Allow is the server's Allow field on a 405.
	Allow string
	// Header holds the final response's fields, for an intermediary that
	// relays the error (WWW-Authenticate, Allow, Retry-After...).
	Header http.Header
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		msg += ": " + e.Detail
	} else if e.Title != "" && e.Title != http.StatusText(e.Status) {
		msg += ": " + e.Title
	}
	if e.Allow != "" {
		msg += " (Allow: " + e.Allow + ")"
	}
	return msg
}

// Permanent reports whether resubscribing cannot help: the request itself is
// refused (401, 403, 404, 405, 410, or another 4xx other than 408 and 429).
func (e *StatusError) Permanent() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// statusError reads a final response into a StatusError, consuming at most
// 64 KiB of its body for the problem detail.
func statusError(status int, header http.Header, body io.Reader) *StatusError {
	e := &StatusError{Status: status, Allow: header.Get("Allow"), Header: header}
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
