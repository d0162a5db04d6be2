package edge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// fieldLines are response fields in order, a name repeated for several
// field lines.
type fieldLines [][2]string

func (fl fieldLines) writeTo(h http.Header) {
	for _, f := range fl {
		h.Add(f[0], f[1])
	}
}

// reuseCase is a response the upstream sends to every request, and how
// many of two GETs it should see: 1 when the cache reuses the first
// response, 2 when it must not.
type reuseCase struct {
	name     string
	response fieldLines
	want     int64
}

func runReuseCases(t *testing.T, cases []reuseCase, configure func(*Cache)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				tc.response.writeTo(w.Header())
				status := http.StatusOK
				if s := w.Header().Get("Status"); s != "" { // the status to answer with
					status, _ = strconv.Atoi(s)
				}
				w.WriteHeader(status)
				io.WriteString(w, "body")
			})
			if configure != nil {
				configure(ce.Cache)
			}
			for range 2 {
				if w := ce.get(t, "/a", "Foo", "1"); w.Body.String() != "body" {
					t.Fatalf("got %d %q", w.Code, w.Body)
				}
			}
			if n := ce.hits.Load(); n != tc.want {
				t.Errorf("upstream saw %d requests for 2 GETs, want %d", n, tc.want)
			}
		})
	}
}

const future = "Thu, 18 Aug 2050 02:01:18 GMT"

// TestCacheFreshness checks how the cache reads a response's freshness
// lifetime and age, strictly.
func TestCacheFreshness(t *testing.T) {
	runReuseCases(t, []reuseCase{
		{"RFC 9111 §4.2.1 max-age", fieldLines{{"Cache-Control", "max-age=3600"}}, 1},
		{"RFC 9111 §4.2.1 the first of two max-age", fieldLines{{"Cache-Control", "max-age=3600, max-age=0"}}, 1},
		{"RFC 9111 §1.2.2 max-age not delta-seconds", fieldLines{{"Cache-Control", "max-age=+3600"}}, 2},
		{"RFC 9111 §5.3 Expires in IMF-fixdate", fieldLines{{"Expires", future}}, 1},
		{"RFC 9110 §5.6.7 Expires in RFC 850 format", fieldLines{{"Expires", "Thursday, 18-Aug-50 02:01:18 GMT"}}, 1},
		{"RFC 9110 §5.6.7 Expires in asctime format", fieldLines{{"Expires", "Thu Aug 18 02:01:18 2050"}}, 1},
		{"RFC 9110 §5.6.7 Expires in asctime format, a one-digit day, another day's name", fieldLines{{"Expires", "Thu Aug  8 02:01:18 2050"}}, 1},
		{"RFC 9110 §5.6.7 Expires with no such day name is stale", fieldLines{{"Expires", "Thx, 18 Aug 2050 02:01:18 GMT"}}, 2},
		{"RFC 9110 §5.6.7 Expires in another case", fieldLines{{"Expires", "THU, 18 AUG 2050 02:01:18 gMT"}}, 1},
		{"RFC 9111 §5.3 Expires with several spaces is stale", fieldLines{{"Expires", "Thu, 18  Aug  2050 02:01:18 GMT"}}, 2},
		{"RFC 9111 §5.3 Expires with a one-digit hour is stale", fieldLines{{"Expires", "Thu, 18 Aug 2050 2:01:18 GMT"}}, 2},
		{"RFC 9111 §5.3 Expires in UTC is stale", fieldLines{{"Expires", "Thu, 18 Aug 2050 02:01:18 UTC"}}, 2},
		{"RFC 9111 §5.3 Expires with a two-digit year is stale", fieldLines{{"Expires", "Thu, 18 Aug 50 02:01:18 GMT"}}, 2},
		{"RFC 9111 §5.3 Expires 0 is stale", fieldLines{{"Expires", "0"}}, 2},
		{"RFC 9111 §4.2.1 Expires on several field lines is stale", fieldLines{{"Expires", future}, {"Expires", "Thu, 18 Aug 2050 02:01:19 GMT"}}, 2},
		{"RFC 9111 §4.2.1 max-age wins over an invalid Expires", fieldLines{{"Cache-Control", "max-age=3600"}, {"Expires", "0"}}, 1},
		{"RFC 9111 §5.1 Age older than max-age is stale", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "7200"}}, 2},
		{"RFC 9111 §5.1 Age old, 0 on one line is old", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "7200, 0"}}, 2},
		{"RFC 9111 §5.1 Age 0, old on one line is young", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "0, 7200"}}, 1},
		{"RFC 9111 §5.1 Age old then 0 on two lines is old", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "7200"}, {"Age", "0"}}, 2},
		{"RFC 9111 §5.1 a non-numeric Age is ignored", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "abc"}}, 1},
		{"RFC 9111 §1.2.2 an Age past 2^31 is 2^31", fieldLines{{"Cache-Control", "max-age=3600"}, {"Age", "2147483649"}}, 2},
	}, nil)
}

// TestCacheStorage checks which responses the cache stores and reuses:
// Vary (RFC 9111 §4.1) and the targeted field CDN-Cache-Control with its
// precedence over Cache-Control (RFC 9213 §2.1).
func TestCacheStorage(t *testing.T) {
	runReuseCases(t, []reuseCase{
		{"RFC 9111 §5.2.2.5 no-store", fieldLines{{"Cache-Control", "no-store, max-age=3600"}}, 2},
		{"RFC 9111 §5.2.2.3 must-understand with no-store, for a status understood", fieldLines{{"Cache-Control", "must-understand, no-store, max-age=3600"}}, 1},
		{"RFC 9111 §5.2.2.3 must-understand for a status not understood", fieldLines{{"Cache-Control", "must-understand, no-store, max-age=3600"}, {"Status", "599"}}, 2},
		{"RFC 9111 §4.1 Vary: *", fieldLines{{"Cache-Control", "max-age=3600"}, {"Vary", "*"}}, 2},
		{"RFC 9111 §4.1 Vary: Foo, *", fieldLines{{"Cache-Control", "max-age=3600"}, {"Vary", "Foo, *"}}, 2},
		{"RFC 9111 §4.1 Vary: , then Vary: * on another line", fieldLines{{"Cache-Control", "max-age=3600"}, {"Vary", ","}, {"Vary", "*"}}, 2},
		{"RFC 9111 §4.1 Vary: Foo then Vary: * on another line", fieldLines{{"Cache-Control", "max-age=3600"}, {"Vary", "Foo"}, {"Vary", "*"}}, 2},
		{"RFC 9111 §4.1 Vary: Foo matches the same Foo", fieldLines{{"Cache-Control", "max-age=3600"}, {"Vary", "Foo"}}, 1},
		{"RFC 9213 §2.1 CDN-Cache-Control max-age over Cache-Control no-store", fieldLines{{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=3600"}}, 1},
		{"RFC 9213 §2.1 CDN-Cache-Control max-age=0 over Cache-Control max-age", fieldLines{{"Cache-Control", "max-age=3600"}, {"CDN-Cache-Control", "max-age=0"}}, 2},
		{"RFC 9213 §2.1 CDN-Cache-Control private", fieldLines{{"Cache-Control", "max-age=3600"}, {"CDN-Cache-Control", "private"}}, 2},
		{"RFC 9213 §2.1 CDN-Cache-Control no-cache", fieldLines{{"Cache-Control", "max-age=3600"}, {"CDN-Cache-Control", "no-cache"}}, 2},
		{"RFC 9213 §2.1 CDN-Cache-Control no-store", fieldLines{{"Cache-Control", "max-age=3600"}, {"CDN-Cache-Control", "no-store"}}, 2},
		{"RFC 9213 §2.1 CDN-Cache-Control with an extension directive", fieldLines{{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "foobar, max-age=3600"}}, 1},
		{"RFC 9213 §2.1 an invalid CDN-Cache-Control is ignored", fieldLines{{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=3600, &&&"}}, 2},
		{"RFC 9213 §2.1 a CDN-Cache-Control max-age of the wrong type is ignored", fieldLines{{"Cache-Control", "no-store"}, {"CDN-Cache-Control", `max-age="3600"`}}, 2},
	}, nil)
	t.Run("RFC 9213 §2 a CDN-specific targeted field", func(t *testing.T) {
		runReuseCases(t, []reuseCase{
			{"obeyed", fieldLines{{"Cache-Control", "no-store"}, {"Edge-Cache-Control", "max-age=3600"}}, 1},
			{"CDN-Cache-Control is then an ordinary field", fieldLines{{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=3600"}}, 2},
		}, func(c *Cache) { c.ControlField = "Edge-Cache-Control" })
	})
}

// TestCacheValidation checks how the cache validates what it stored (RFC
// 9111 §4.3) and answers its clients' conditional requests (RFC 9110
// §13.2).
func TestCacheValidation(t *testing.T) {
	const body = "a stored body of exactly 36 bytes..."
	t.Run("RFC 9111 §3.2 a 304 updates the stored fields but Content-Length", func(t *testing.T) {
		var n atomic.Int64
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "max-age=0")
			h.Set("ETag", `"v1"`)
			h.Set("Test-Header", "v"+strconv.FormatInt(n.Add(1), 10))
			if r.Header.Get("If-None-Match") == `"v1"` {
				// net/http drops a 304's Content-Length: write it raw, as
				// servers that send one do.
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				buf.WriteString("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=0\r\nETag: \"v1\"\r\nContent-Length: 10\r\n")
				buf.WriteString("Test-Header: " + h.Get("Test-Header") + "\r\nConnection: close\r\n\r\n")
				buf.Flush()
				return
			}
			io.WriteString(w, body)
		})
		for i := range 3 {
			w := ce.get(t, "/a")
			if w.Code != http.StatusOK || w.Body.String() != body || w.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("GET %d: %d, Content-Length %s, %q", i+1, w.Code, w.Header().Get("Content-Length"), w.Body)
			}
			if got, want := w.Header().Get("Test-Header"), "v"+strconv.Itoa(i+1); got != want {
				t.Errorf("GET %d: Test-Header %q, want %q from the 304", i+1, got, want)
			}
		}
	})
	t.Run("RFC 9111 §4.3.3 a full response to a revalidation replaces the stored one and is served", func(t *testing.T) {
		var version atomic.Int64
		var conditional atomic.Int64
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			v := strconv.FormatInt(version.Add(1), 10)
			if r.Header.Get("If-None-Match") != "" {
				conditional.Add(1)
			}
			w.Header().Set("Cache-Control", "max-age=0")
			w.Header().Set("ETag", `"`+v+`"`)
			io.WriteString(w, "v"+v)
		})
		for i := range 2 {
			if w := ce.get(t, "/a"); w.Body.String() != "v"+strconv.Itoa(i+1) {
				t.Fatalf("GET %d: %q", i+1, w.Body)
			}
		}
		if n := ce.hits.Load(); n != 2 || conditional.Load() != 1 {
			t.Errorf("upstream saw %d requests (%d conditional) for 2 GETs, want 2 (1)", n, conditional.Load())
		}
		if w := ce.get(t, "/a"); w.Body.String() != "v3" {
			t.Errorf("GET 3: %q", w.Body)
		}
	})
	t.Run("RFC 9111 §4.3.4 a 304 with another strong validator does not freshen", func(t *testing.T) {
		var n atomic.Int64
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=0")
			if n.Add(1) == 2 {
				w.Header().Set("ETag", `"other"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v`+strconv.FormatInt(n.Load(), 10)+`"`)
			io.WriteString(w, "v"+strconv.FormatInt(n.Load(), 10))
		})
		ce.get(t, "/a")
		if w := ce.get(t, "/a"); w.Code != http.StatusOK || w.Body.String() != "v3" {
			t.Errorf("after a 304 for another representation: %d %q, want the full v3", w.Code, w.Body)
		}
	})

	t.Run("RFC 9111 §4.3.2 If-Modified-Since against Date when there is no Last-Modified", func(t *testing.T) {
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Date", "Wed, 01 Jan 2020 00:00:00 GMT")
			io.WriteString(w, "body")
		})
		for since, want := range map[string]int{"Wed, 01 Jan 2020 00:00:00 GMT": http.StatusNotModified, "Tue, 31 Dec 2019 00:00:00 GMT": http.StatusOK} {
			if w := ce.get(t, "/a", "If-Modified-Since", since); w.Code != want {
				t.Errorf("If-Modified-Since %s: %d, want %d", since, w.Code, want)
			}
		}
	})

	const lastModified = "Wed, 01 Jan 2020 00:00:00 GMT"
	for _, tc := range []struct {
		name   string
		fields []string
		want   int
	}{
		{"RFC 9110 §13.1.2 If-None-Match matching", []string{"If-None-Match", `"a"`}, http.StatusNotModified},
		{"RFC 9110 §13.1.2 If-None-Match matching weakly", []string{"If-None-Match", `"b", W/"a"`}, http.StatusNotModified},
		{"RFC 9110 §13.1.2 If-None-Match: *", []string{"If-None-Match", `*`}, http.StatusNotModified},
		{"RFC 9110 §13.1.2 If-None-Match not matching", []string{"If-None-Match", `"b"`}, http.StatusOK},
		{"RFC 9110 §13.1.3 If-Modified-Since not older", []string{"If-Modified-Since", lastModified}, http.StatusNotModified},
		{"RFC 9110 §13.1.3 If-Modified-Since older", []string{"If-Modified-Since", "Tue, 31 Dec 2019 00:00:00 GMT"}, http.StatusOK},
		{"RFC 9110 §13.1.3 If-Modified-Since invalid", []string{"If-Modified-Since", "Wed, 01 Jan 2020 0:00:00 GMT"}, http.StatusOK},
		{"RFC 9110 §13.2.2 If-None-Match before If-Modified-Since", []string{"If-None-Match", `"b"`, "If-Modified-Since", lastModified}, http.StatusOK},
	} {
		t.Run(tc.name+" at the edge", func(t *testing.T) {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Header().Set("ETag", `"a"`)
				w.Header().Set("Last-Modified", lastModified)
				io.WriteString(w, "body")
			})
			// The first conditional request is a miss, the second a hit:
			// both are answered at the edge.
			for i := range 2 {
				w := ce.get(t, "/a", tc.fields...)
				if w.Code != tc.want {
					t.Fatalf("request %d: %d, want %d", i+1, w.Code, tc.want)
				}
				if tc.want == http.StatusNotModified && (w.Body.Len() != 0 || w.Header().Get("ETag") != `"a"` || w.Header().Get("Content-Length") != "") {
					t.Errorf("request %d: a 304 with body %q and fields %v", i+1, w.Body, w.Header())
				}
			}
			if n := ce.hits.Load(); n != 1 {
				t.Errorf("upstream saw %d requests, want 1", n)
			}
		})
	}
}

// TestCacheRequestDirectives checks the directives of a request (RFC 9111
// §5.2.1) against a response stored fresh for an hour.
func TestCacheRequestDirectives(t *testing.T) {
	for _, tc := range []struct {
		name      string
		directive string
		want      int64 // upstream requests for a GET then one with the directive
	}{
		{"§5.2.1.1 max-age younger than the stored response", "max-age=0", 2},
		{"§5.2.1.1 max-age older than the stored response", "max-age=600", 1},
		{"§5.2.1.3 min-fresh longer than its freshness left", "min-fresh=7200", 2},
		{"§5.2.1.3 min-fresh within its freshness left", "min-fresh=600", 1},
		{"§5.2.1.4 no-cache", "no-cache", 2},
		{"§5.2.1.7 only-if-cached", "only-if-cached", 1},
	} {
		t.Run("RFC 9111 "+tc.name, func(t *testing.T) {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				io.WriteString(w, "body")
			})
			ce.get(t, "/a")
			if w := ce.get(t, "/a", "Cache-Control", tc.directive); w.Code != http.StatusOK || w.Body.String() != "body" {
				t.Errorf("got %d %q", w.Code, w.Body)
			}
			if n := ce.hits.Load(); n != tc.want {
				t.Errorf("upstream saw %d requests, want %d", n, tc.want)
			}
		})
	}
	t.Run("RFC 9111 §5.2.1.7 only-if-cached with nothing stored is 504", func(t *testing.T) {
		ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
		})
		if w := ce.get(t, "/a", "Cache-Control", "only-if-cached"); w.Code != http.StatusGatewayTimeout {
			t.Errorf("got %d %q, want 504", w.Code, w.Body)
		}
		if n := ce.hits.Load(); n != 0 {
			t.Errorf("upstream saw %d requests, want none", n)
		}
	})
}

// TestCacheFields checks the fields the cache serves: Via (RFC 9110
// §7.6.3) and never the upstream's Alt-Svc, stored or not; and none that
// a qualified private or no-cache names from storage (RFC 9111 §5.2.2.7,
// §5.2.2.4).
func TestCacheFields(t *testing.T) {
	t.Run("RFC 9111 §5.2.2.4 §5.2.2.7 qualified private and no-cache", func(t *testing.T) {
		for _, field := range []string{"Cache-Control", "CDN-Cache-Control"} {
			ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(field, `max-age=3600, private="X-Secret", no-cache="X-Token"`)
				if field == "CDN-Cache-Control" {
					w.Header().Set(field, `max-age=3600, private=("X-Secret"), no-cache=("X-Token")`)
				}
				w.Header().Set("X-Secret", "for the requester")
				w.Header().Set("X-Token", "to validate first")
				io.WriteString(w, "body")
			})
			if w := ce.get(t, "/a"); w.Header().Get("X-Secret") == "" || w.Header().Get("X-Token") == "" {
				t.Errorf("%s: the requester did not get its fields: %v", field, w.Header())
			}
			if w := ce.get(t, "/a"); w.Header().Get("X-Secret") != "" || w.Header().Get("X-Token") != "" {
				t.Errorf("%s: the stored response has the fields it names: %v", field, w.Header())
			}
			if n := ce.hits.Load(); n != 1 {
				t.Errorf("%s: upstream saw %d requests, want 1", field, n)
			}
		}
	})

	ce := newCachingEdge(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Alt-Svc", `h3=":1"`)
		io.WriteString(w, "body")
	})
	for _, what := range []string{"a miss", "a hit"} {
		w := ce.get(t, "/a")
		if v := w.Header().Values("Alt-Svc"); len(v) > 0 {
			t.Errorf("%s: the upstream's Alt-Svc %q", what, v)
		}
		if v := strings.Join(w.Header().Values("Via"), ", "); v != "1.1 "+ViaPseudonym {
			t.Errorf("%s: Via %q", what, v)
		}
	}
}
