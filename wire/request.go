package wire

import (
	"errors"
	"net/http"
)

// What a server checks of a request the same way wherever it is served, so
// that an intermediary refuses what the origin behind it would, with the
// same status, rather than pass it on or answer differently.

// LastEventID returns the Last-Event-ID of a subscription request: the raw
// id of the last event its client saw, "" if none. Given more than once,
// it names no event, and the request is refused with 400.
func LastEventID(h http.Header) (string, error) {
	values := h.Values("Last-Event-ID")
	if len(values) > 1 {
		return "", Errorf(http.StatusBadRequest, "Last-Event-ID: given %d times", len(values))
	}
	if len(values) == 0 {
		return "", nil
	}
	return values[0], nil
}

// BodyError is the answer to a request whose body could not be read: 413
// past a limit (an *http.MaxBytesError), 400 for anything else the client
// sent wrong (a malformed chunked encoding, a body shorter than its
// Content-Length).
func BodyError(err error) *StatusError {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return Errorf(http.StatusRequestEntityTooLarge, "body exceeds %d bytes", tooLarge.Limit)
	}
	return Errorf(http.StatusBadRequest, "reading body: %v", err)
}
