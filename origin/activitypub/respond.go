package activitypub

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Media types of Activity Streams documents (ActivityPub §3.2).
const (
	contentTypeActivity = "application/activity+json"
	contentTypeLD       = `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
)

// negotiateJSON picks the media type to serve a document as from the
// Accept field values: Activity Streams JSON when there is no Accept or it
// accepts any JSON or anything, JSON-LD when that is what is preferred. It
// reports false when nothing acceptable is offered.
func negotiateJSON(accept []string) (string, bool) {
	if len(accept) == 0 {
		return contentTypeActivity, true
	}
	best, bestQ := "", 0.0
	for mr := range stream.MediaRanges(accept) {
		var offer string
		switch mr.Type {
		case contentTypeActivity, "application/json", "application/*", "*/*":
			offer = contentTypeActivity
		case "application/ld+json":
			offer = contentTypeLD
		}
		if offer != "" && mr.Q > bestQ {
			best, bestQ = offer, mr.Q
		}
	}
	return best, best != ""
}

// writeDoc writes d, with the Activity Streams context, as ASCII JSON in
// the media type the request prefers. A 200 carries an ETag, answering
// If-None-Match with 304, and may be cached by intermediaries only if
// shareable (the same for everyone); both must revalidate, since any
// change is announced on the resource's stream rather than by expiry.
func (s *Server) writeDoc(w http.ResponseWriter, r *http.Request, status int, d doc, shareable bool) error {
	body, err := marshalASCII(withContext(d))
	if err != nil {
		return err
	}
	ctype, ok := negotiateJSON(r.Header.Values("Accept"))
	if !ok {
		ctype = contentTypeActivity
	}
	h := w.Header()
	h.Set("Vary", "Accept, Authorization")
	if status == http.StatusOK {
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		if shareable {
			h.Set("Cache-Control", "public, no-cache")
		} else {
			h.Set("Cache-Control", "private, no-cache")
		}
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	writeBodyStatus(w, status, ctype, body)
	return nil
}

// etagMatches reports whether an If-None-Match value names etag.
func etagMatches(ifNoneMatch, etag string) bool {
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}

// writeBody writes a 200 response with body.
func writeBody(w http.ResponseWriter, ctype string, body []byte) {
	writeBodyStatus(w, http.StatusOK, ctype, body)
}

func writeBodyStatus(w http.ResponseWriter, status int, ctype string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// onlyGet admits only GET and HEAD on something that is not a stream:
// SUB gets 405, GET asking for an event stream 406.
func onlyGet(r *http.Request, format wire.Format, what string) error {
	switch {
	case format == wire.FormatPUB:
		return errMethod(r.Method, what, "GET, HEAD")
	case format == wire.FormatSSE:
		return wire.Errorf(http.StatusNotAcceptable, "%s has no event stream: only objects and collections do", what)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return errMethod(r.Method, what, "GET, HEAD")
	}
	return nil
}
