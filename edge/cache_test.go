package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/subpub/subpub/wire"
)

// cachingEdge is an Edge with a cache in front of an upstream whose handler
// the test writes, counting the requests that reach it.
type cachingEdge struct {
	*Edge
	hits atomic.Int64
	srv  *httptest.Server
}

func newCachingEdge(t *testing.T, upstream http.HandlerFunc) *cachingEdge {
	t.Helper()
	ce := &cachingEdge{}
	ce.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ce.hits.Add(1)
		upstream(w, r)
	}))
	t.Cleanup(ce.srv.Close)
	u, _ := url.Parse(ce.srv.URL)
	ce.Edge = &Edge{Upstream: u, Transport: http.DefaultTransport, Cache: &Cache{MaxObjectBytes: 1 << 10}}
	return ce
}

func (ce *cachingEdge) get(t *testing.T, path string, fields ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(fields); i += 2 {
		r.Header.Set(fields[i], fields[i+1])
	}
	w := httptest.NewRecorder()
	ce.ServeHTTP(w, r)
	return w
}

func TestCache(t *testing.T) {
	t.Run("a fresh response is served from the cache with its Age", func(t *testing.T) {
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60")
			io.WriteString(w, "body")
		})
		for range 3 {
			if w := ce.get(t, "/a"); w.Body.String() != "body" || w.Code != 200 {
				t.Fatalf("got %d %q", w.Code, w.Body)
			}
		}
		if w := ce.get(t, "/a"); w.Header().Get("Age") == "" {
			t.Error("no Age on a cached response")
		}
		if n := ce.hits.Load(); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
	})
	t.Run("private, no-store and unmarked responses are not stored", func(t *testing.T) {
		for _, cc := range []string{"private, max-age=60", "no-store", ""} {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", cc)
				io.WriteString(w, "x")
			})
			ce.get(t, "/a")
			ce.get(t, "/a")
			if n := ce.hits.Load(); n != 2 {
				t.Errorf("Cache-Control %q: upstream saw %d requests, want 2", cc, n)
			}
		}
	})
	t.Run("a response to a request with credentials is stored only if public", func(t *testing.T) {
		for cc, want := range map[string]int64{"max-age=60": 2, "public, max-age=60": 1} {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", cc)
				io.WriteString(w, "x")
			})
			ce.get(t, "/a", "Authorization", "Bearer t")
			ce.get(t, "/a", "Authorization", "Bearer t")
			if n := ce.hits.Load(); n != want {
				t.Errorf("Cache-Control %q: upstream saw %d requests, want %d", cc, n, want)
			}
		}
	})
	t.Run("Vary selects the variant", func(t *testing.T) {
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", "Accept-Language")
			io.WriteString(w, r.Header.Get("Accept-Language"))
		})
		for _, lang := range []string{"fr", "de", "fr", "de"} {
			if w := ce.get(t, "/a", "Accept-Language", lang); w.Body.String() != lang {
				t.Errorf("asked %s, got %q", lang, w.Body)
			}
		}
		if n := ce.hits.Load(); n != 2 {
			t.Errorf("upstream saw %d requests, want 2", n)
		}
	})
	t.Run("a stale response is revalidated with its ETag", func(t *testing.T) {
		var conditional atomic.Int64
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=0")
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				conditional.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "v1")
		})
		ce.get(t, "/a")
		if w := ce.get(t, "/a"); w.Body.String() != "v1" || w.Code != 200 {
			t.Errorf("revalidated response %d %q", w.Code, w.Body)
		}
		if conditional.Load() != 1 {
			t.Errorf("%d conditional requests, want 1", conditional.Load())
		}
	})
	t.Run("concurrent misses collapse into one upstream request", func(t *testing.T) {
		release := make(chan struct{})
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "x")
		})
		var wg sync.WaitGroup
		var started atomic.Int64
		for range 20 {
			wg.Go(func() {
				started.Add(1)
				ce.get(t, "/a")
			})
		}
		// Give every request the chance to reach the upstream, as they
		// would if misses were not collapsed.
		for started.Load() < 20 || ce.hits.Load() == 0 {
			runtime.Gosched()
		}
		for range 1000 {
			runtime.Gosched()
		}
		close(release)
		wg.Wait()
		if n := ce.hits.Load(); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
	})
	t.Run("a body larger than an object may be is served whole and not stored", func(t *testing.T) {
		big := strings.Repeat("x", 4<<10)
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, big)
		})
		for range 2 {
			if w := ce.get(t, "/a"); w.Body.String() != big {
				t.Fatalf("got %d bytes, want %d", w.Body.Len(), len(big))
			}
		}
		if n := ce.hits.Load(); n != 2 {
			t.Errorf("upstream saw %d requests, want 2", n)
		}
	})
	t.Run("a successful POST and a change event invalidate what they touch", func(t *testing.T) {
		version := atomic.Int64{}
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				version.Add(1)
				w.WriteHeader(http.StatusCreated)
				return
			}
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "%s v%d", r.URL.Path, version.Load())
		})
		ce.get(t, "/users/a/outbox")
		ce.get(t, "/objects/1")
		w := httptest.NewRecorder()
		ce.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/users/a/outbox", strings.NewReader("{}")))
		if got := ce.get(t, "/users/a/outbox").Body.String(); got != "/users/a/outbox v1" {
			t.Errorf("after POST: %q", got)
		}
		version.Add(1)
		ce.Cache.invalidateFromEvent(ce.srv.URL+"/users/a/outbox", wire.NewFrame(wire.Event{
			Type: "Update", Data: []byte(`{"type":"Update","object":{"id":"` + ce.srv.URL + `/objects/1","type":"Note"}}`),
		}))
		if got := ce.get(t, "/objects/1").Body.String(); got != "/objects/1 v2" {
			t.Errorf("after Update event: %q", got)
		}
	})
}
