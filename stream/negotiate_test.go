package stream

import (
	"net/http"
	"testing"

	"github.com/subpub/subpub/wire"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		method string
		accept []string
		minor  int
		want   wire.Format
		status int
	}{
		{"SUB is a subscription in PUB format", "SUB", nil, 1, wire.FormatPUB, 0},
		{"SUB over HTTP/1.0 cannot carry interim responses", "SUB", nil, 0, 0, http.StatusHTTPVersionNotSupported},
		{"GET asking for an event stream", "GET", []string{"text/event-stream"}, 1, wire.FormatSSE, 0},
		{"GET preferring JSON", "GET", []string{"application/activity+json, text/event-stream;q=0.5"}, 1, 0, 0},
		{"GET with an event stream as good as JSON", "GET", []string{"application/json;q=0.9", "text/event-stream;q=0.9"}, 1, wire.FormatSSE, 0},
		{"GET accepting anything", "GET", []string{"*/*"}, 1, 0, 0},
		{"GET refusing event streams", "GET", []string{"text/event-stream;q=0"}, 1, 0, 0},
		{"POST is no subscription", "POST", []string{"text/event-stream"}, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Method: tt.method, ProtoMajor: 1, ProtoMinor: tt.minor, Header: http.Header{"Accept": tt.accept}}
			got, err := Negotiate(r)
			status := 0
			if se, ok := err.(*wire.StatusError); ok {
				status = se.Status
			}
			if got != tt.want || status != tt.status {
				t.Errorf("Negotiate = %v, %v; want %v, status %d", got, err, tt.want, tt.status)
			}
		})
	}
}

// FuzzNegotiate feeds arbitrary Accept fields to request validation: it
// never panics, and a subscription is SSE only if the event stream was
// acceptable.
func FuzzNegotiate(f *testing.F) {
	f.Add("GET", "text/event-stream")
	f.Add("GET", "text/event-stream;q=0.1, */*;q=0.5, application/activity+json;q=1.0;level=1")
	f.Add("SUB", `text/"event-stream";q=abc`)
	f.Fuzz(func(t *testing.T, method, accept string) {
		r := &http.Request{Method: method, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Accept": {accept}}}
		format, err := Negotiate(r)
		if err != nil {
			t.Fatalf("HTTP/1.1 %s: %v", method, err)
		}
		if format == wire.FormatSSE {
			ok := false
			for mr := range MediaRanges([]string{accept}) {
				ok = ok || (mr.Type == "text/event-stream" && mr.Q > 0)
			}
			if !ok {
				t.Fatalf("SSE chosen for Accept %q", accept)
			}
		}
	})
}
