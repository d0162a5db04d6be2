package edge

import (
	"net/http"
	"strings"
	"time"
)

// Validation: freshening a stored response with a 304 (RFC 9111 §3.2,
// §4.3.4), and answering a client's own conditional GET from a stored or
// fetched response (RFC 9110 §13.1, §13.2; RFC 9111 §4.3.2).

// clientValidators are the preconditions by which a client asks for a 304.
// The cache answers them itself, so it removes them from what it sends
// upstream and gets a full response it can store.
var clientValidators = []string{"If-None-Match", "If-Modified-Since"}

// withoutClientValidators is r without clientValidators (r itself when
// it has none).
func withoutClientValidators(r *http.Request) *http.Request {
	if r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Modified-Since") == "" {
		return r
	}
	out := r.Clone(r.Context())
	for _, name := range clientValidators {
		out.Header.Del(name)
	}
	return out
}

// notUpdatedBy304 are the stored fields a 304 does not replace: the
// stored body's own length (RFC 9111 §3.2).
var notUpdatedBy304 = map[string]bool{"Content-Length": true}

// freshened is the entry e updated by a 304 received now, or nil if the
// 304 is not about e: it carries a strong validator other than e's
// (RFC 9111 §4.3.4). Every field of the 304 replaces the stored one but
// those of notUpdatedBy304 (§3.2); the fields §3.1 keeps out of storage,
// hop-by-hop ones and the upstream's Alt-Svc, never reach here.
func (c *Cache) freshened(e *cacheEntry, notModified http.Header, received time.Time) *cacheEntry {
	if etag := notModified.Get("Etag"); etag != "" && !strings.HasPrefix(etag, "W/") && etag != e.header.Get("Etag") {
		return nil
	}
	updated := *e
	updated.header = e.header.Clone()
	for name, values := range notModified {
		if !notUpdatedBy304[name] {
			updated.header[name] = values
		}
	}
	d := c.responseDirectives(updated.header)
	withoutQualifiedFields(updated.header, d)
	updated.stored = received
	updated.initialAge = initialAge(notModified, received)
	updated.lifetime = freshnessLifetime(d, updated.header, received)
	updated.elem = nil
	return &updated
}

// notModifiedFor reports whether a 200 response with the fields h answers
// r's preconditions with 304 (RFC 9110 §13.2.2): If-None-Match when
// present (weak comparison, §13.1.2), else If-Modified-Since, ignored
// unless it is one valid HTTP-date (§13.1.3), against Last-Modified or,
// without one, Date (RFC 9111 §4.3.2).
func notModifiedFor(r *http.Request, status int, h http.Header) bool {
	if status != http.StatusOK || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		return etagMatches(inm, h.Get("Etag"))
	}
	if len(r.Header.Values("If-Modified-Since")) == 0 {
		return false
	}
	now := time.Now()
	since, ok := singleDate(r.Header, "If-Modified-Since", now)
	if !ok {
		return false
	}
	modified, ok := singleDate(h, "Last-Modified", now)
	if !ok && len(h.Values("Last-Modified")) == 0 {
		modified, ok = singleDate(h, "Date", now)
	}
	return ok && !modified.After(since)
}

// etagMatches is the weak comparison of If-None-Match's entity tags (or
// "*") with a representation's (RFC 9110 §8.8.3.2, §13.1.2).
func etagMatches(lines []string, etag string) bool {
	if etag == "" {
		return false
	}
	opaque := strings.TrimPrefix(etag, "W/")
	for _, line := range lines {
		for tag := range strings.SplitSeq(line, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == opaque {
				return true
			}
		}
	}
	return false
}

// fieldsOf304 are the fields a 304 carries from the 200 it stands for
// (RFC 9110 §15.4.5): the ones a cache updates its stored response with,
// and no representation metadata beyond Last-Modified.
var fieldsOf304 = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary", "Age", "Via", DefaultControlField}

// writeNotModified answers a request whose preconditions the response resp
// satisfies with 304 and the fields of fieldsOf304 (and the targeted
// cache-control field the cache obeys), and no body.
func (c *Cache) writeNotModified(w http.ResponseWriter, resp *http.Response) {
	h := w.Header()
	for _, name := range append(fieldsOf304, http.CanonicalHeaderKey(c.controlField())) {
		if v := resp.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	w.WriteHeader(http.StatusNotModified)
}
