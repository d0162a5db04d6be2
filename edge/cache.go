package edge

import (
	"bytes"
	"cmp"
	"container/list"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/multimap"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Defaults of a Cache.
const (
	DefaultCacheBytes     = 64 << 20
	DefaultMaxObjectBytes = 1 << 20
)

// Cache is a shared HTTP cache for GET responses (RFC 9111), the tier a
// targeted cache-control field such as CDN-Cache-Control speaks to (RFC
// 9213). It stores responses with explicit freshness that are not private
// or no-store, and responses to requests with credentials only when they
// allow it; honours Vary; serves fresh responses with Age; freshens stale
// ones with a conditional request, or replaces them with the full response
// that answers it; answers clients' own conditional requests with 304;
// collapses concurrent misses into one upstream request; and evicts the
// least recently used past its size bound. Successful unsafe requests and
// change events invalidate what it holds for their targets. The rules it
// reads responses by are in freshness.go, validation in validation.go.
type Cache struct {
	// MaxBytes bounds the stored bodies in all. Default DefaultCacheBytes.
	MaxBytes int64
	// MaxObjectBytes bounds one stored body. Default DefaultMaxObjectBytes.
	MaxObjectBytes int64
	// ControlField is the targeted cache-control field (RFC 9213) whose
	// directives, when it is present and valid, the cache obeys instead of
	// Cache-Control's. Default DefaultControlField.
	ControlField string

	mu       sync.Mutex
	entries  map[string][]*cacheEntry // by path: its queries and variants
	lru      list.List                // of *cacheEntry, most recent first
	size     int64
	inflight map[string]chan struct{} // misses being fetched, by request key
}

// cacheEntry is a stored response. It does not change once stored: a 304
// that freshens it stores an updated copy in its place, so that a response
// being served from it needs no lock.
type cacheEntry struct {
	target     string
	vary       []string
	varyValues string
	status     int
	protoMajor int // the HTTP version it was received in, for Via
	protoMinor int
	header     http.Header
	body       []byte
	stored     time.Time
	initialAge time.Duration
	lifetime   time.Duration
	elem       *list.Element
}

// Cache outcomes, for metrics.
const (
	cacheHit         = "hit"
	cacheMiss        = "miss"
	cacheRevalidated = "revalidated"
	cacheUncacheable = "uncacheable"
)

func (c *Cache) maxBytes() int64 {
	return setting.Or(c.MaxBytes, DefaultCacheBytes)
}

func (c *Cache) maxObject() int64 {
	return setting.Or(c.MaxObjectBytes, DefaultMaxObjectBytes)
}

func (c *Cache) controlField() string { return cmp.Or(c.ControlField, DefaultControlField) }

// fetchFunc sends a request upstream.
type fetchFunc func(*http.Request) (*http.Response, error)

// do returns the response to a GET: stored, freshened, or fetched with
// fetch (and stored if it may be). What goes upstream carries none of the
// client's own validators (withoutClientValidators): the caller answers
// them from the response.
func (c *Cache) do(r *http.Request, fetch fetchFunc) (*http.Response, string, error) {
	reqCC := cacheControl(r.Header)
	if reqCC.has("no-store") {
		resp, err := fetch(r)
		return resp, cacheUncacheable, err
	}
	target := r.URL.RequestURI()
	upstreamReq := withoutClientValidators(r)
	for {
		entry := c.lookup(target, r)
		if entry != nil && entry.satisfies(reqCC, time.Now()) {
			return entry.response(), cacheHit, nil
		}
		if reqCC.has("only-if-cached") {
			// RFC 9111 §5.2.1.7: no request upstream, 504 instead.
			return nil, cacheMiss, wire.Errorf(http.StatusGatewayTimeout, "no stored response to %s that may be served (Cache-Control: only-if-cached)", target)
		}
		if entry != nil && entry.hasValidator() {
			return c.revalidate(upstreamReq, entry, fetch)
		}
		// Collapse concurrent misses for the same request: one fetches,
		// the others look again when it is done.
		key := flightKey(target, r)
		c.mu.Lock()
		if c.inflight == nil {
			c.inflight = make(map[string]chan struct{})
		}
		if wait, busy := c.inflight[key]; busy {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-r.Context().Done():
				return nil, cacheMiss, r.Context().Err()
			}
		}
		done := make(chan struct{})
		c.inflight[key] = done
		c.mu.Unlock()
		resp, outcome, err := c.fetchAndStore(upstreamReq, target, fetch)
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(done)
		return resp, outcome, err
	}
}

func (c *Cache) fetchAndStore(r *http.Request, target string, fetch fetchFunc) (*http.Response, string, error) {
	resp, err := fetch(r)
	if err != nil {
		return nil, cacheMiss, err
	}
	return c.keep(r, target, resp, cacheMiss)
}

// keep stores resp, the upstream's response to r, if it may be stored, and
// returns what to serve: the stored copy, or resp itself.
func (c *Cache) keep(r *http.Request, target string, resp *http.Response, outcome string) (*http.Response, string, error) {
	received := time.Now()
	d := c.responseDirectives(resp.Header)
	if !storable(r, resp, d) {
		return resp, cacheUncacheable, nil
	}
	limit := c.maxObject()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		resp.Body.Close()
		return nil, outcome, err
	}
	if int64(len(body)) > limit {
		// Too large to store: hand the client what was read and the rest.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, cacheUncacheable, nil
	}
	resp.Body.Close()
	entry := c.newEntry(target, r, resp, d, body, received)
	c.store(entry)
	served := entry.response()
	// The fields kept out of storage are still the requester's.
	for _, name := range append(d.fields("private"), d.fields("no-cache")...) {
		if v := resp.Header.Values(name); len(v) > 0 {
			served.Header[name] = v
		}
	}
	return served, outcome, nil
}

// revalidate asks upstream whether a stored response is still current
// (RFC 9111 §4.3.1) and acts on the answer (§4.3.3): a 304 freshens it
// (§4.3.4), a full response replaces it and is served, a 5xx is passed on
// with the stored response kept.
func (c *Cache) revalidate(r *http.Request, entry *cacheEntry, fetch fetchFunc) (*http.Response, string, error) {
	cond := r.Clone(r.Context())
	if etag := entry.header.Get("Etag"); etag != "" {
		cond.Header.Set("If-None-Match", etag)
	}
	if lm := entry.header.Get("Last-Modified"); lm != "" {
		cond.Header.Set("If-Modified-Since", lm)
	}
	resp, err := fetch(cond)
	if err != nil {
		return nil, cacheMiss, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		if updated := c.freshened(entry, resp.Header, time.Now()); updated != nil {
			c.store(updated)
			return updated.response(), cacheRevalidated, nil
		}
		// A 304 for another representation than the stored one: it
		// cannot be used (§4.3.4); ask for the full response.
		c.remove(entry)
		return c.fetchAndStore(r, entry.target, fetch)
	case resp.StatusCode >= 500:
		return resp, cacheUncacheable, nil
	}
	c.remove(entry)
	return c.keep(r, entry.target, resp, cacheMiss)
}

func (c *Cache) lookup(target string, r *http.Request) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries[pathOf(target)] {
		if e.target == target && e.varyValues == varyValues(e.vary, r) {
			c.lru.MoveToFront(e.elem)
			return e
		}
	}
	return nil
}

func (c *Cache) store(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string][]*cacheEntry)
	}
	path := pathOf(e.target)
	for _, old := range c.entries[path] {
		if old.target == e.target && old.varyValues == e.varyValues {
			c.removeLocked(old)
			break
		}
	}
	e.elem = c.lru.PushFront(e)
	c.entries[path] = append(c.entries[path], e)
	c.size += int64(len(e.body))
	for c.size > c.maxBytes() {
		oldest := c.lru.Back().Value.(*cacheEntry)
		c.removeLocked(oldest)
	}
}

// remove drops e if it is still stored.
func (c *Cache) remove(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.entries[pathOf(e.target)] {
		if v == e {
			c.removeLocked(e)
			return
		}
	}
}

func (c *Cache) removeLocked(e *cacheEntry) {
	multimap.Remove(c.entries, pathOf(e.target), e)
	c.lru.Remove(e.elem)
	c.size -= int64(len(e.body))
}

// Invalidate drops every stored response for path, whatever its query.
func (c *Cache) Invalidate(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries[path] {
		c.lru.Remove(e.elem)
		c.size -= int64(len(e.body))
	}
	delete(c.entries, path)
}

func pathOf(target string) string {
	path, _, _ := strings.Cut(target, "?")
	return path
}

// Len counts the stored responses.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) newEntry(target string, r *http.Request, resp *http.Response, d directives, body []byte, received time.Time) *cacheEntry {
	e := &cacheEntry{
		target:     target,
		status:     resp.StatusCode,
		protoMajor: resp.ProtoMajor,
		protoMinor: resp.ProtoMinor,
		header:     resp.Header.Clone(),
		body:       body,
		stored:     received,
		initialAge: initialAge(resp.Header, received),
		lifetime:   freshnessLifetime(d, resp.Header, received),
	}
	withoutQualifiedFields(e.header, d)
	e.vary, _ = varyNames(resp.Header)
	e.varyValues = varyValues(e.vary, r)
	e.header.Set("Content-Length", strconv.Itoa(len(body)))
	return e
}

// age is current_age (RFC 9111 §4.2.3).
func (e *cacheEntry) age(now time.Time) time.Duration {
	return e.initialAge + now.Sub(e.stored)
}

// fresh applies RFC 9111 §4.2: a response is fresh while its age is below
// its freshness lifetime.
func (e *cacheEntry) fresh(now time.Time) bool { return e.age(now) < e.lifetime }

// satisfies reports whether e may be served to a request with the
// directives reqCC without validation: it is fresh, and the request asks
// neither for validation (no-cache, RFC 9111 §5.2.1.4) nor for a younger
// response (max-age, §5.2.1.1) nor for one fresh for longer (min-fresh,
// §5.2.1.3).
func (e *cacheEntry) satisfies(reqCC directives, now time.Time) bool {
	if reqCC.has("no-cache") || !e.fresh(now) {
		return false
	}
	if v, ok := reqCC["max-age"]; ok {
		maxAge, valid := deltaSeconds(v)
		if !valid || e.age(now) > maxAge {
			return false
		}
	}
	if v, ok := reqCC["min-fresh"]; ok {
		minFresh, valid := deltaSeconds(v)
		if !valid || e.lifetime-e.age(now) < minFresh {
			return false
		}
	}
	return true
}

func (e *cacheEntry) hasValidator() bool {
	return e.header.Get("Etag") != "" || e.header.Get("Last-Modified") != ""
}

// response is a new response from the stored one, with its current Age.
func (e *cacheEntry) response() *http.Response {
	h := e.header.Clone()
	h.Set("Age", ageSeconds(e.age(time.Now())))
	return &http.Response{
		StatusCode:    e.status,
		Status:        strconv.Itoa(e.status) + " " + http.StatusText(e.status),
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		ProtoMajor:    e.protoMajor, ProtoMinor: e.protoMinor,
	}
}

func varyValues(vary []string, r *http.Request) string {
	var b strings.Builder
	for _, name := range vary {
		b.WriteString(strings.Join(r.Header.Values(name), ","))
		b.WriteByte(0)
	}
	return b.String()
}

// flightKey groups requests that would get the same response whatever the
// upstream varies on: same target, credentials and negotiation fields.
func flightKey(target string, r *http.Request) string {
	return target + "\x00" + credentialDigest(r) + "\x00" + r.Header.Get("Accept") + "\x00" + r.Header.Get("Accept-Language")
}
