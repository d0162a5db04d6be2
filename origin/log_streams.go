package origin

import (
	"net/http"
	"strconv"
)

// SequencedLog is a Log that knows its newest sequence number.
type SequencedLog interface {
	Log
	Last() uint64
}

// LogStreams serves the streams of a log whose event ids are its sequence
// numbers: subscriptions by SUB or by GET with Accept: text/event-stream,
// resumed with Last-Event-ID. As an http.Handler it serves every path as a
// public stream of that name, which is what a plain fan-out server, a test or
// a benchmark needs; an application that authorizes first calls Serve.
type LogStreams struct {
	Log      SequencedLog
	Hub      *Hub
	Streamer *Streamer
}

func (s *LogStreams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Serve(w, r, r.URL.Path, true)
}

// Serve serves a subscription to stream key, or refuses a request that is
// not one with 405.
func (s *LogStreams) Serve(w http.ResponseWriter, r *http.Request, key string, shareable bool) {
	format, err := Negotiate(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if format == 0 {
		w.Header().Set("Allow", "GET, SUB")
		WriteProblem(w, http.StatusMethodNotAllowed, "subscribe with SUB, or GET with Accept: text/event-stream")
		return
	}
	after := s.Log.Last()
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if after, err = strconv.ParseUint(id, 10, 64); err != nil {
			WriteProblem(w, http.StatusBadRequest, "Last-Event-ID: not an event id of this stream (decimal digits)")
			return
		}
	}
	feed := s.Hub.Subscribe(r.Context(), key, after, nil)
	s.Streamer.Serve(w, r, format, Subscription{Feed: feed, Shareable: shareable, Vary: []string{"Authorization"}})
}
