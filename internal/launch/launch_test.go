package launch

import (
	"strings"
	"testing"
)

func TestStartReportsWhereTheOriginListens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p, err := Start(t.Context(), "origin", Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--data", t.TempDir(), "--user", "alice:t")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if p.TLSAddr == "" || p.PlainAddr == "" || p.MetricsAddr == "" || !strings.HasSuffix(p.CAFile, "ca.pem") || !strings.HasPrefix(p.BaseURL, "https://127.0.0.1:") {
		t.Errorf("started %+v", p)
	}
	active, err := p.Metrics("subpub_origin_subscriptions_active")
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 0 {
		t.Errorf("active subscriptions before any: %v", active)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, p.Output())
	}
}
