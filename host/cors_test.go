package host_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/subpub/subpub/host"
)

func TestCORS(t *testing.T) {
	served := 0
	h := host.CORS([]string{"https://app.example"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		w.WriteHeader(http.StatusOK)
	}))
	for _, tt := range []struct {
		name, method, origin, requestMethod string
		status                              int
		allowOrigin                         string
		served                              bool
	}{
		{"an allowed origin", http.MethodGet, "https://app.example", "", 200, "https://app.example", true},
		{"its preflight", http.MethodOptions, "https://app.example", "SUB", 204, "https://app.example", false},
		{"another origin", http.MethodGet, "https://evil.example", "", 200, "", true},
		{"another origin's preflight goes to the handler", http.MethodOptions, "https://evil.example", "GET", 200, "", true},
		{"no origin", http.MethodGet, "", "", 200, "", true},
	} {
		served = 0
		r := httptest.NewRequest(tt.method, "/users/alice/outbox", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if tt.requestMethod != "" {
			r.Header.Set("Access-Control-Request-Method", tt.requestMethod)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.status || w.Header().Get("Access-Control-Allow-Origin") != tt.allowOrigin || (served == 1) != tt.served {
			t.Errorf("%s: %d, Allow-Origin %q, served %v; want %d, %q, %v", tt.name, w.Code, w.Header().Get("Access-Control-Allow-Origin"), served == 1, tt.status, tt.allowOrigin, tt.served)
		}
		if tt.status == 204 && w.Header().Get("Access-Control-Allow-Headers") == "" {
			t.Errorf("%s: no Access-Control-Allow-Headers", tt.name)
		}
	}
}
