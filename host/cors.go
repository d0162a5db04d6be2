package host

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// CORSMaxAge is how long a browser may keep a preflight's answer.
const CORSMaxAge = 10 * time.Minute

// CORS lets pages of the given origins ("https://app.example", or "*" for
// any) read what handler serves, by the Fetch standard's CORS protocol: an
// allowed request's response names its origin in
// Access-Control-Allow-Origin (and varies on Origin); a preflight (OPTIONS
// with Access-Control-Request-Method) is answered here, allowing the
// methods and request fields a subscriber or an ActivityPub client sends.
// Credentials (cookies) are not allowed: a bearer token is sent
// explicitly. A request without an Origin, or from another origin, is
// passed on unchanged.
func CORS(origins []string, handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (slices.Contains(origins, "*") || slices.Contains(origins, origin))
		if !allowed {
			handler.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, SUB")
			h.Set("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type, Last-Event-ID")
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(CORSMaxAge.Seconds())))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Let a page read the fields that say where a stream is.
		h.Set("Access-Control-Expose-Headers", "Event, Event-Data, Retry-After")
		handler.ServeHTTP(w, r)
	})
}
