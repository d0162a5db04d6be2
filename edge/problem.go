package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// The upstream names the resource it refuses by its own URL ("https://
// origin/users/x/outbox does not exist"); the client asked the edge for
// another one. Relayed refusals name the URL the client asked for.

// localError is err, a relayed refusal of r, with the upstream's URL of
// r's resource in its detail replaced by the URL r asked for.
func (e *Edge) localError(r *http.Request, err error) error {
	var se *wire.StatusError
	if !errors.As(err, &se) || se.Detail == "" {
		return err
	}
	local := *se
	local.Detail = e.localDetail(r, se.Detail)
	return &local
}

// localizeProblem does the same to a problem detail (RFC 9457) the upstream
// answered r with, which the edge relays or serves from its cache.
func (e *Edge) localizeProblem(r *http.Request, resp *http.Response) {
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != stream.ContentTypeProblem || resp.StatusCode < 400 {
		return
	}
	const maxProblem = 64 << 10
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProblem+1))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var problem map[string]any
	if err != nil || len(body) > maxProblem || json.Unmarshal(body, &problem) != nil {
		return
	}
	detail, ok := problem["detail"].(string)
	if !ok {
		return
	}
	problem["detail"] = e.localDetail(r, detail)
	localized, err := json.Marshal(problem)
	if err != nil {
		return
	}
	resp.Body = io.NopCloser(bytes.NewReader(localized))
	resp.ContentLength = int64(len(localized))
	resp.Header.Set("Content-Length", strconv.Itoa(len(localized)))
}

// localDetail replaces, in detail, any absolute URL whose path is the one
// r's resource has upstream by the URL of r.
func (e *Edge) localDetail(r *http.Request, detail string) string {
	up, err := url.Parse(e.upstreamURL(r))
	if err != nil || up.Path == "" {
		return detail
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	local := (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
	// A URL of any host with exactly that path: what follows it, if
	// anything, ends the URL (a space, a quote, a bracket, punctuation).
	re, err := regexp.Compile(`https?://[^\s/"'<>]+` + regexp.QuoteMeta(up.EscapedPath()) + `($|[\s"'<>),;]|[.:](?:\s|$))`)
	if err != nil {
		return detail
	}
	return re.ReplaceAllStringFunc(detail, func(m string) string {
		sub := re.FindStringSubmatch(m)
		return local + sub[1]
	})
}
