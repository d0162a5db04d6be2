package benchmarks

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/stats"
)

// Results are everything a run measured; results.json holds them as they
// are, and the report and the plots are made from them.
type Results struct {
	Machine Machine        `json:"machine"`
	Config  ConfigSummary  `json:"config"`
	Sample  EventSample    `json:"event"`
	Points  []PointResult  `json:"points"`
	Memory  []MemoryResult `json:"memory"`
	Wire    []WireResult   `json:"wire"`
	Loss    LossResults    `json:"loss"`
	Notes   []string       `json:"notes,omitempty"`
	Elapsed float64        `json:"elapsed_seconds"`
}

// ConfigSummary is the configuration of the run as the report states it.
type ConfigSummary struct {
	Subscribers   []int    `json:"subscribers"`
	Rates         []int    `json:"rates"`
	Systems       []string `json:"systems"`
	PerConnection int      `json:"per_connection"`
	// MultiplexedReader is the reader of the HTTP/2 and HTTP/3 systems
	// (empty in results from before there was a choice: the client).
	MultiplexedReader string  `json:"multiplexed_reader,omitempty"`
	WarmupSeconds     float64 `json:"warmup_seconds"`
	WindowSeconds     float64 `json:"window_seconds"`
	DrainSeconds      float64 `json:"drain_seconds"`
	IdleSubscribers   int     `json:"idle_subscribers"`
	WireEvents        int     `json:"wire_events"`
}

// Usage is what one process used during a window.
type Usage struct {
	Role       string  `json:"role"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPercent is of one core, over the window.
	CPUPercent float64 `json:"cpu_percent"`
	PeakRSSMB  float64 `json:"peak_rss_mb,omitempty"`
}

// cpuPerDelivery is a process's CPU time in the window, in µs per delivery
// made in it; false when the point delivered nothing.
func (p PointResult) cpuPerDelivery(u Usage) (float64, bool) {
	deliveries := p.DeliveriesPerSec * p.WindowSeconds
	if deliveries <= 0 || p.Error != "" {
		return 0, false
	}
	return 1e6 * u.CPUSeconds / deliveries, true
}

// LatencyFigures are the deliveries' latency and the quantiles the report
// reads from it, in milliseconds.
type LatencyFigures struct {
	Latency stats.Latency `json:"latency"`
	P50MS   float64       `json:"p50_ms"`
	P90MS   float64       `json:"p90_ms"`
	P99MS   float64       `json:"p99_ms"`
	MaxMS   float64       `json:"max_ms"`
}

func latencyFigures(l stats.Latency) LatencyFigures {
	return LatencyFigures{Latency: l, P50MS: l.Quantile(0.5), P90MS: l.Quantile(0.9), P99MS: l.Quantile(0.99), MaxMS: l.MaxMS()}
}

// PointResult is one system at one N and R.
type PointResult struct {
	System string `json:"system"`
	Label  string `json:"label"`
	N      int    `json:"n"`
	Rate   int    `json:"rate"`
	// Error says why the point could not be measured (then the figures are
	// empty).
	Error string `json:"error,omitempty"`

	WindowSeconds float64 `json:"window_seconds"`
	SetupSeconds  float64 `json:"setup_seconds"`
	// Expected deliveries: N × the events published in the window;
	// Delivered: those that arrived by the end of the drain.
	Expected         int64   `json:"expected"`
	Delivered        int64   `json:"delivered"`
	Fraction         float64 `json:"fraction"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`

	LatencyFigures

	Publish load.PublishStats `json:"publish"`

	// What the origin served: connections to the port the subscribers (or
	// the intermediary) use, and subscriptions (its metric), while the
	// subscribers were connected; -1 when the system has no origin.
	OriginConnections   int `json:"origin_connections"`
	OriginSubscriptions int `json:"origin_subscriptions"`

	Servers []Usage `json:"servers"`
	LoadGen Usage   `json:"load_generator"`
	// Reconnects counts subscriptions lost and re-established.
	Reconnects int64 `json:"reconnects"`
	// ReadBytes is what the lean reader read off its sockets (HTTP/1.1
	// SSE rows only).
	ReadBytes int64 `json:"read_bytes,omitempty"`
	// Bare has the bare sender's counters (events per write).
	Bare *load.BareSenderStats `json:"bare,omitempty"`
}

// MemoryResult is the edge's memory per idle subscriber, for a protocol and
// encoding.
type MemoryResult struct {
	System      string  `json:"system"`
	Label       string  `json:"label"`
	Subscribers int     `json:"subscribers"`
	BeforeMB    float64 `json:"rss_before_mb"`
	AfterMB     float64 `json:"rss_after_mb"`
	PerSubKiB   float64 `json:"kib_per_subscriber"`
	Error       string  `json:"error,omitempty"`
}

// WireResult is the bytes on the wire per event per subscriber.
type WireResult struct {
	System      string `json:"system"`
	Label       string `json:"label"`
	Proto       string `json:"proto"`
	Format      string `json:"format"`
	Subscribers int    `json:"subscribers"`
	Events      int    `json:"events"`
	// BytesPerEvent counts everything the loopback interface carried for
	// one more subscriber and one more event: IP and TCP/UDP headers, TLS
	// or QUIC, HTTP framing, the event, and the acknowledgements the other
	// way.
	BytesPerEvent float64 `json:"bytes_per_event"`
	// ReaderBytesPerEvent is what the lean reader read per event
	// (HTTP/1.1 SSE: chunk framing and event, no headers).
	ReaderBytesPerEvent float64 `json:"reader_bytes_per_event,omitempty"`
	Error               string  `json:"error,omitempty"`
}

// save writes results.json into dir.
func (r *Results) save(dir string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)
}

// Render writes the report and the plots again from the results.json in
// dir, for a report whose wording changed after the run.
func Render(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	if err := writeReport(dir, &res); err != nil {
		return err
	}
	return writePlots(dir, &res)
}
