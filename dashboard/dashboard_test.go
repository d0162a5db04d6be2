package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStreamPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/users/alice/outbox", "/users/alice/outbox", true},
		{"/users/alice/objects/x%20y", "/users/alice/objects/x y", true},
		{"", "", false},
		{"users/alice/outbox", "", false},
		{"//evil.example/x", "", false},
		{"https://evil.example/x", "", false},
		{"/proxy/events?id=x&access_token=secret", "", false},
		{"/users/alice/outbox?", "", false},
		{"/users/alice/outbox#top", "", false},
		{"/%zz", "", false},
	} {
		got, err := streamPath(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("streamPath(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzStreamPath: whatever ?stream= holds, what reaches the server's
// handler is an absolute path that carries no query.
func FuzzStreamPath(f *testing.F) {
	for _, s := range []string{"/users/alice/outbox", "/a?access_token=x", "//h/x", "http://h/", "/%2F?", "/a#b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := streamPath(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(in, "//") || strings.ContainsAny(in, "?#") {
			t.Fatalf("streamPath(%q) = %q", in, p)
		}
	})
}

// The data holds the selected families' values, histograms included, and
// leaves the others out.
func TestDataHoldsTheRegistrysFigures(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "subpub_edge_events_delivered_total", Help: "delivered"}, []string{"proto"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "subpub_edge_event_latency_seconds", Help: "latency", Buckets: []float64{0.01, 0.1}})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "go_other_total", Help: "other"})
	reg.MustRegister(c, h, other)
	c.WithLabelValues("h2").Add(7)
	h.Observe(0.05)
	h.Observe(5)
	other.Inc()
	srv := httptest.NewServer(&Handler{Role: "edge", Gatherer: reg, Prefix: "subpub_edge_"})
	defer srv.Close()
	res, err := http.Get(srv.URL + Path + "data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d Data
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if got := d.Families["subpub_edge_events_delivered_total"]; len(got) != 1 || got[0].Value != 7 || got[0].Labels["proto"] != "h2" {
		t.Errorf("counter: %+v", got)
	}
	lat := d.Families["subpub_edge_event_latency_seconds"]
	if len(lat) != 1 || lat[0].Count != 2 || len(lat[0].Buckets) != 2 || lat[0].Buckets[0].Count != 0 || lat[0].Buckets[1].Count != 1 {
		t.Errorf("histogram: %+v", lat)
	}
	if _, ok := d.Families["go_other_total"]; ok || d.Role != "edge" {
		t.Errorf("role %q, families %v", d.Role, d.Families)
	}
}

// The tail reaches the server's handler as an anonymous SSE request for
// the path alone; a query or a credential never does (negative control:
// the refused requests would otherwise reach the handler).
func TestTailAsksTheServerForThePathAlone(t *testing.T) {
	var seen []*http.Request
	streams := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r)
		io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(&Handler{Role: "origin", Gatherer: prometheus.NewRegistry(), Streams: streams})
	defer srv.Close()
	get := func(query string, header http.Header) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+Path+"tail?"+query, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("stream=/users/alice/outbox", http.Header{"Authorization": {"Bearer secret"}, "Last-Event-Id": {"7"}, "Cookie": {"a=b"}}); got != 200 || len(seen) != 1 {
		t.Fatalf("status %d, %d requests reached the server", got, len(seen))
	}
	r := seen[0]
	if r.URL.String() != "/users/alice/outbox" || r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Last-Event-ID") != "7" ||
		r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
		t.Errorf("the server got %s with %v", r.URL, r.Header)
	}
	for _, q := range []string{"stream=" + "/proxy/events%3Fid%3Dx%26access_token%3Dsecret", "", "stream=http://elsewhere/"} {
		if got := get(q, nil); got != http.StatusBadRequest {
			t.Errorf("tail?%s: %d, want 400", q, got)
		}
	}
	if len(seen) != 1 {
		t.Errorf("%d requests reached the server", len(seen))
	}
}
