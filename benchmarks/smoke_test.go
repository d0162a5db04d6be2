package benchmarks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmokeRunMeasuresEverySystemAndWritesTheReport runs the harness at a
// tiny size (five subscribers, one point per system, no peers, no lossy
// link, no memory phase) and checks that what it writes is there and sane:
// every event delivered, one upstream subscription through the edge.
func TestSmokeRunMeasuresEverySystemAndWritesTheReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers (builds the subpub binary)")
	}
	out := t.TempDir()
	cfg := Config{
		Out:             out,
		Subscribers:     []int{5},
		Rates:           []int{20},
		Warmup:          500 * time.Millisecond,
		Window:          time.Second,
		Drain:           3 * time.Second,
		IdleSubscribers: -1,
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"results.json", "report.md", "deliveries-R20.png", "cdf-N5-R20.svg", "memory.png"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	var saved Results
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	want := len(cfg.systems())
	if len(saved.Points) != want || len(res.Points) != want {
		t.Fatalf("%d points saved, %d returned, want %d", len(saved.Points), len(res.Points), want)
	}
	for _, p := range saved.Points {
		switch {
		case p.Error != "":
			t.Errorf("%s: %s", p.System, p.Error)
		case p.Publish.InWindow < 10:
			t.Errorf("%s: %d events published in a 1 s window at 20/s", p.System, p.Publish.InWindow)
		case p.Delivered != p.Expected:
			t.Errorf("%s: %d of %d deliveries", p.System, p.Delivered, p.Expected)
		case p.P99MS <= 0 || p.P99MS > 2000 || p.MaxMS < p.P99MS:
			t.Errorf("%s: latency p99 %v ms, max %v ms", p.System, p.P99MS, p.MaxMS)
		case strings.HasPrefix(p.System, "edge-") && p.OriginSubscriptions != 1:
			t.Errorf("%s: the origin serves %d subscriptions, want the edge's one", p.System, p.OriginSubscriptions)
		case p.System == baselineSystem && p.OriginSubscriptions != 5:
			t.Errorf("%s: the origin serves %d subscriptions, want 5", p.System, p.OriginSubscriptions)
		case len(p.Servers) == 0 || p.Servers[0].PeakRSSMB <= 0:
			t.Errorf("%s: no server usage: %+v", p.System, p.Servers)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"## Targets", "### 5 subscribers × 20 events/s", "bare socket limit", "HTTP/3 versus HTTP/2 under loss"} {
		if !strings.Contains(string(report), section) {
			t.Errorf("report.md lacks %q", section)
		}
	}
}
