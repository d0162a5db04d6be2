// Package dashboard is a live page for the people who run a server: what it
// serves (subscriptions by protocol and format, and at the edge the fan-out
// and its upstream subscriptions), its event and delivery rates, latency,
// drops and cut-offs by reason, and a tail of a stream's latest events.
//
// The page reads the same figures the server exposes to Prometheus: its
// data endpoint is the registry's current values as JSON, and the page
// computes rates between two readings. The tail is a subscription to the
// server's own handler over SSE, so it shows what any subscriber gets. The
// page, its script and its style are embedded: no build step, nothing
// fetched from elsewhere.
package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

//go:embed assets
var assets embed.FS

// Path is where a Handler is mounted: the page is Path, its data
// Path+"data.json", its tail Path+"tail?stream=PATH".
const Path = "/dashboard/"

// Handler serves the page, its data and its tail.
type Handler struct {
	// Role names the server on the page: "origin" or "edge".
	Role string
	// Gatherer is the registry whose figures the page shows. Required.
	Gatherer prometheus.Gatherer
	// Prefix selects the families shown (such as "subpub_edge_"); the Go
	// runtime's and the process's are left out.
	Prefix string
	// Streams is the server's own handler, which the tail subscribes to
	// over SSE. Nil: no tail.
	Streams http.Handler
}

// ServeHTTP routes under Path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch rest := strings.TrimPrefix(r.URL.Path, Path); rest {
	case "data.json":
		h.serveData(w, r)
	case "tail":
		h.serveTail(w, r)
	default:
		if rest == "" {
			rest = "index.html"
		}
		sub, _ := fs.Sub(assets, "assets")
		if _, err := fs.Stat(sub, rest); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, rest)
	}
}

// Data is what data.json holds: the time of the reading and the values of
// the selected families, by name.
type Data struct {
	Role     string              `json:"role"`
	Time     float64             `json:"time"` // Unix seconds
	Families map[string][]Sample `json:"families"`
	Help     map[string]string   `json:"help"`
}

// Sample is one series of a family: its labels, and its value (a counter's
// or a gauge's) or its histogram.
type Sample struct {
	Labels  map[string]string `json:"labels,omitempty"`
	Value   float64           `json:"value"`
	Buckets []Bucket          `json:"buckets,omitempty"` // cumulative, as Prometheus gives them
	Count   uint64            `json:"count,omitempty"`
	Sum     float64           `json:"sum,omitempty"`
}

// Bucket is a histogram's cumulative count of observations at most LE.
type Bucket struct {
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

func (h *Handler) serveData(w http.ResponseWriter, r *http.Request) {
	families, err := h.Gatherer.Gather()
	if err != nil {
		http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	d := Data{Role: h.Role, Time: float64(time.Now().UnixMilli()) / 1000, Families: map[string][]Sample{}, Help: map[string]string{}}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), h.Prefix) {
			continue
		}
		d.Help[f.GetName()] = f.GetHelp()
		for _, m := range f.GetMetric() {
			d.Families[f.GetName()] = append(d.Families[f.GetName()], sample(m))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(d)
}

func sample(m *dto.Metric) Sample {
	s := Sample{}
	for _, l := range m.GetLabel() {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[l.GetName()] = l.GetValue()
	}
	switch {
	case m.Counter != nil:
		s.Value = m.GetCounter().GetValue()
	case m.Gauge != nil:
		s.Value = m.GetGauge().GetValue()
	case m.Histogram != nil:
		hist := m.GetHistogram()
		s.Count, s.Sum = hist.GetSampleCount(), hist.GetSampleSum()
		for _, b := range hist.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), +1) { // +Inf is Count, and not JSON
				s.Buckets = append(s.Buckets, Bucket{LE: b.GetUpperBound(), Count: b.GetCumulativeCount()})
			}
		}
	}
	return s
}

// serveTail subscribes to the stream named by ?stream=PATH over SSE, as an
// anonymous subscriber: the request goes to the server's own handler with
// the path and Last-Event-ID only, no credentials, so that the metrics
// address never serves more than a public stream.
func (h *Handler) serveTail(w http.ResponseWriter, r *http.Request) {
	if h.Streams == nil {
		http.Error(w, "this server has no streams to tail", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "the tail is read with GET", http.StatusMethodNotAllowed)
		return
	}
	path, err := streamPath(r.URL.Query().Get("stream"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sub := r.Clone(r.Context())
	sub.URL = &url.URL{Path: path}
	sub.RequestURI = path
	sub.Header = http.Header{"Accept": {"text/event-stream"}}
	if id := r.Header.Values("Last-Event-ID"); len(id) > 0 {
		sub.Header["Last-Event-Id"] = id
	}
	h.Streams.ServeHTTP(w, sub)
}

// errStreamPath explains what ?stream= takes.
type errStreamPath string

func (e errStreamPath) Error() string {
	return "?stream= takes the absolute path of a stream, without a query: " + string(e)
}

// streamPath checks that p is an absolute path and nothing else: no query,
// which could carry a credential (access_token) or name another stream,
// and no scheme or host, which would leave the server.
func streamPath(p string) (string, error) {
	if p == "" {
		return "", errStreamPath("missing")
	}
	u, err := url.Parse(p)
	if err != nil {
		return "", errStreamPath(err.Error())
	}
	switch {
	case u.Scheme != "" || u.Host != "" || u.User != nil:
		return "", errStreamPath("not a path: " + p)
	case !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(p, "//"):
		return "", errStreamPath("not absolute: " + p)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(p, "?#"):
		return "", errStreamPath("has a query or a fragment: " + p)
	}
	return u.Path, nil
}
