package benchmarks

import "testing"

// TestHTTP3Targets: the HTTP/3 targets say met, missed, or not measured, as
// the figures they compare decide.
func TestHTTP3Targets(t *testing.T) {
	point := func(system string, n, rate int, delivered int64, p99 float64) PointResult {
		return PointResult{System: system, N: n, Rate: rate, Expected: 100, Delivered: delivered, LatencyFigures: LatencyFigures{P99MS: p99}}
	}
	loss := func(system string, delivered int64, p99 float64) LossRun {
		return LossRun{System: system, Drop: 0.02, Expected: 100, Delivered: delivered, LatencyFigures: LatencyFigures{P99MS: p99}}
	}
	const (
		quic  = "edge SUB h3, 1,000 × 100/s (what a QUIC reader takes here): all delivered, p99 ≤ SSE h1's"
		many  = "edge SUB h3, 50,000 × 1/s: all delivered"
		lossy = "edge SUB h3, 2% loss, 20 ms RTT: all delivered, p99 ≤ SUB h2's"
	)
	for _, tt := range []struct {
		name string
		res  Results
		want map[string]string
	}{
		{"met", Results{
			Points: []PointResult{point("edge-sse-h1", 1000, 100, 100, 50), point("edge-sub-h3", 1000, 100, 100, 40), point("edge-sub-h3", 50000, 1, 100, 600)},
			Loss:   LossResults{Runs: []LossRun{loss("edge-sub-h2", 100, 44), loss("edge-sub-h3", 100, 40)}},
		}, map[string]string{quic: "met", many: "met", lossy: "met"}},
		{"missed", Results{
			Points: []PointResult{point("edge-sse-h1", 1000, 100, 100, 50), point("edge-sub-h3", 1000, 100, 100, 69), point("edge-sub-h3", 50000, 1, 99, 600)},
			Loss:   LossResults{Runs: []LossRun{loss("edge-sub-h2", 100, 44), loss("edge-sub-h3", 86, 11000)}},
		}, map[string]string{quic: "missed", many: "missed", lossy: "missed"}},
		{"lossy but slower than HTTP/2", Results{
			Loss: LossResults{Runs: []LossRun{loss("edge-sub-h2", 100, 44), loss("edge-sub-h3", 100, 45)}},
		}, map[string]string{quic: notMeasured, many: notMeasured, lossy: "missed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, row := range targets(&tt.res) {
				got[row.Target] = row.Verdict
			}
			for target, want := range tt.want {
				if got[target] != want {
					t.Errorf("%q: %q, want %q", target, got[target], want)
				}
			}
		})
	}
}
