package benchmarks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// profile, when the run profiles, records a CPU profile of the deployment's
// edge (its origin when there is none) for the window that is starting, in
// Out/profiles/SYSTEM-NN-RR-ROLE.pprof (read it with `go tool pprof`). The
// channel gives the outcome once the window is over; nil at once when the
// run does not profile or the system is not subpub's.
func (r *runner) profile(ctx context.Context, d *deployment, sys System, n, rate int, window time.Duration) <-chan error {
	done := make(chan error, 1)
	p := d.edge
	if p == nil {
		p = d.origin
	}
	if !r.cfg.Profile || p == nil {
		done <- nil
		return done
	}
	go func() {
		done <- r.writeProfile(ctx, p, fmt.Sprintf("%s-N%d-R%d-%s.pprof", sys.Name, n, rate, p.Role), window)
	}()
	return done
}

func (r *runner) writeProfile(ctx context.Context, p *launch.Process, name string, window time.Duration) error {
	seconds := max(1, int(window.Seconds()))
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.MetricsAddr, seconds)
	ctx, cancel := context.WithTimeout(ctx, window+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	dir := filepath.Join(r.cfg.Out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
