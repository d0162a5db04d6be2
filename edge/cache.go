package edge

import (
	"bytes"
	"container/list"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/setting"
)

// Defaults of a Cache.
const (
	DefaultCacheBytes     = 64 << 20
	DefaultMaxObjectBytes = 1 << 20
)

// Cache is a shared HTTP cache for GET responses, following the basics of
// RFC 9111: it stores responses with explicit freshness (s-maxage, max-age
// or Expires) that are not private or no-store, and responses to requests
// with credentials only when marked public (or s-maxage, must-revalidate);
// it honours Vary, serves fresh responses with Age, revalidates stale ones
// with their validators, collapses concurrent misses into one upstream
// request, and evicts the least recently used past its size bound.
// Successful unsafe requests and change events invalidate what it holds for
// their targets.
type Cache struct {
	// MaxBytes bounds the stored bodies in all. Default DefaultCacheBytes.
	MaxBytes int64
	// MaxObjectBytes bounds one stored body. Default DefaultMaxObjectBytes.
	MaxObjectBytes int64

	mu       sync.Mutex
	entries  map[string][]*cacheEntry // by path: its queries and variants
	lru      list.List                // of *cacheEntry, most recent first
	size     int64
	inflight map[string]chan struct{} // misses being fetched, by request key
}

type cacheEntry struct {
	target     string
	vary       []string
	varyValues string
	status     int
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

// do returns the response to a GET: stored, revalidated, or fetched with
// fetch (and stored if it may be).
func (c *Cache) do(r *http.Request, fetch func(*http.Request) (*http.Response, error)) (*http.Response, string, error) {
	reqCC := parseCacheControl(r.Header)
	if _, ok := reqCC["no-store"]; ok {
		resp, err := fetch(r)
		return resp, cacheUncacheable, err
	}
	target := r.URL.RequestURI()
	_, noCache := reqCC["no-cache"]
	for {
		entry := c.lookup(target, r)
		if entry != nil && !noCache && entry.fresh(time.Now()) {
			return entry.response(), cacheHit, nil
		}
		if entry != nil && entry.hasValidator() {
			return c.revalidate(r, entry, fetch)
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
		resp, outcome, err := c.fetchAndStore(r, target, fetch)
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(done)
		return resp, outcome, err
	}
}

func (c *Cache) fetchAndStore(r *http.Request, target string, fetch func(*http.Request) (*http.Response, error)) (*http.Response, string, error) {
	resp, err := fetch(r)
	if err != nil {
		return nil, cacheMiss, err
	}
	if !storable(r, resp) {
		return resp, cacheUncacheable, nil
	}
	limit := c.maxObject()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		resp.Body.Close()
		return nil, cacheMiss, err
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
	entry := newEntry(target, r, resp, body)
	c.store(entry)
	return entry.response(), cacheMiss, nil
}

// revalidate asks upstream whether a stored response is still current.
func (c *Cache) revalidate(r *http.Request, entry *cacheEntry, fetch func(*http.Request) (*http.Response, error)) (*http.Response, string, error) {
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
	if resp.StatusCode != http.StatusNotModified {
		resp.Body.Close()
		return c.fetchAndStore(r, entry.target, func(*http.Request) (*http.Response, error) { return fetch(r) })
	}
	resp.Body.Close()
	c.mu.Lock()
	for k, v := range resp.Header {
		entry.header[k] = v
	}
	entry.stored = time.Now()
	entry.initialAge = ageOf(resp.Header)
	entry.lifetime = freshnessLifetime(entry.header)
	c.mu.Unlock()
	return entry.response(), cacheRevalidated, nil
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

func (c *Cache) removeLocked(e *cacheEntry) {
	path := pathOf(e.target)
	variants := c.entries[path]
	for i, v := range variants {
		if v == e {
			variants = append(variants[:i:i], variants[i+1:]...)
			break
		}
	}
	if len(variants) == 0 {
		delete(c.entries, path)
	} else {
		c.entries[path] = variants
	}
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

func newEntry(target string, r *http.Request, resp *http.Response, body []byte) *cacheEntry {
	e := &cacheEntry{
		target:     target,
		status:     resp.StatusCode,
		header:     resp.Header.Clone(),
		body:       body,
		stored:     time.Now(),
		initialAge: ageOf(resp.Header),
		lifetime:   freshnessLifetime(resp.Header),
	}
	for _, v := range resp.Header.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				e.vary = append(e.vary, http.CanonicalHeaderKey(name))
			}
		}
	}
	e.varyValues = varyValues(e.vary, r)
	e.header.Set("Content-Length", strconv.Itoa(len(body)))
	return e
}

func (e *cacheEntry) age(now time.Time) time.Duration {
	return e.initialAge + now.Sub(e.stored)
}

func (e *cacheEntry) fresh(now time.Time) bool { return e.age(now) < e.lifetime }

func (e *cacheEntry) hasValidator() bool {
	return e.header.Get("Etag") != "" || e.header.Get("Last-Modified") != ""
}

// response is a new response from the stored one, with its current Age.
func (e *cacheEntry) response() *http.Response {
	h := e.header.Clone()
	h.Set("Age", strconv.Itoa(int(e.age(time.Now())/time.Second)))
	return &http.Response{
		StatusCode:    e.status,
		Status:        strconv.Itoa(e.status) + " " + http.StatusText(e.status),
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		ProtoMajor:    1, ProtoMinor: 1,
	}
}

// storable applies RFC 9111 §3 to a response of the shared cache.
func storable(r *http.Request, resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNonAuthoritativeInfo, http.StatusNoContent,
		http.StatusMovedPermanently, http.StatusNotFound, http.StatusGone:
	default:
		return false
	}
	cc := parseCacheControl(resp.Header)
	if _, ok := cc["no-store"]; ok {
		return false
	}
	if _, ok := cc["private"]; ok {
		return false
	}
	if resp.Header.Get("Set-Cookie") != "" || strings.Contains(resp.Header.Get("Vary"), "*") {
		return false
	}
	if r.Header.Get("Authorization") != "" {
		_, public := cc["public"]
		_, smax := cc["s-maxage"]
		_, mustRevalidate := cc["must-revalidate"]
		if !public && !smax && !mustRevalidate {
			return false
		}
	}
	_, hasMaxAge := cc["max-age"]
	_, hasSMaxAge := cc["s-maxage"]
	_, noCache := cc["no-cache"]
	return hasMaxAge || hasSMaxAge || noCache || resp.Header.Get("Expires") != ""
}

// freshnessLifetime follows RFC 9111 §4.2.1 for a shared cache.
func freshnessLifetime(h http.Header) time.Duration {
	cc := parseCacheControl(h)
	if _, ok := cc["no-cache"]; ok {
		return 0
	}
	for _, name := range []string{"s-maxage", "max-age"} {
		if v, ok := cc[name]; ok {
			if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second
			}
			return 0
		}
	}
	if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
		date, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			date = time.Now()
		}
		return max(exp.Sub(date), 0)
	}
	return 0
}

func ageOf(h http.Header) time.Duration {
	if secs, err := strconv.Atoi(h.Get("Age")); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

func parseCacheControl(h http.Header) map[string]string {
	cc := map[string]string{}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			if name != "" {
				cc[strings.ToLower(name)] = strings.Trim(value, `"`)
			}
		}
	}
	return cc
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
