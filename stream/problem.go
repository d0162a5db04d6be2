package stream

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/subpub/subpub/wire"
)

// ContentTypeProblem is the media type of an RFC 9457 problem detail.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem detail: the body of every error response,
// so that a client can report precisely what went wrong.
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// WriteError writes err as a problem detail. A *wire.StatusError keeps its status
// and fields; any other error is a 500 whose detail is not disclosed.
func WriteError(w http.ResponseWriter, err error) {
	status, fields, body := errorResponse(err)
	h := w.Header()
	for k, v := range fields {
		h[k] = v
	}
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	w.Write(body)
}

// WriteProblem writes a problem detail with the given status and detail.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	WriteError(w, &wire.StatusError{Status: status, Detail: detail})
}

// errorResponse is the response that reports err: its status, its fields
// and its body, a problem detail.
func errorResponse(err error) (int, http.Header, []byte) {
	var se *wire.StatusError
	if !errors.As(err, &se) {
		se = &wire.StatusError{Status: http.StatusInternalServerError, Detail: "internal error"}
	}
	body, _ := json.Marshal(Problem{Title: http.StatusText(se.Status), Status: se.Status, Detail: se.Detail})
	body = append(body, '\n')
	h := http.Header{}
	for k, v := range se.Header {
		h[k] = v
	}
	if se.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((se.RetryAfter+time.Second-1)/time.Second)))
	}
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return se.Status, h, body
}
