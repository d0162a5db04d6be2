package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrStreamEnded reports that a stream will carry no more events, for
// example because its resource was deleted: a SUB subscription ends with
// 204 (No Content), and its client does not resubscribe.
var ErrStreamEnded = errors.New("the stream ended (204): its resource is gone, do not resubscribe")

// StatusError is a final response that refuses or ends a subscription: the
// one a server sends, or the one a client received. An intermediary that
// relays an upstream's refusal passes the same value on.
type StatusError struct {
	Status int
	// Title and Detail are the problem detail's (RFC 9457). A server
	// leaves Title empty: it is the status text.
	Title, Detail string
	// RetryAfter, when positive, is the Retry-After (429, 503).
	RetryAfter time.Duration
	// Header holds further fields of the response (Allow, WWW-Authenticate).
	Header http.Header
}

// Errorf returns a StatusError with a formatted detail.
func Errorf(status int, format string, args ...any) *StatusError {
	return &StatusError{Status: status, Detail: fmt.Sprintf(format, args...)}
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		msg += ": " + e.Detail
	} else if e.Title != "" && e.Title != http.StatusText(e.Status) {
		msg += ": " + e.Title
	}
	// The methods the resource allows, unless the detail said them.
	if allow := e.Header.Get("Allow"); allow != "" && !strings.Contains(e.Detail, allow) {
		msg += " (Allow: " + allow + ")"
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
