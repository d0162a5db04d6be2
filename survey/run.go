package survey

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is what one proxy in one configuration did.
type Result struct {
	Proxy   string `json:"proxy"`
	Package string `json:"package"`
	Version string `json:"version,omitempty"`
	Config  string `json:"config"`
	// Missing says the proxy is not installed; Error, that it did not
	// start with this configuration.
	Missing bool    `json:"missing,omitempty"`
	Error   string  `json:"error,omitempty"`
	Counts  []Count `json:"counts,omitempty"`
	Leak    *Leak   `json:"leak,omitempty"`
	// ConfigText is the configuration file as written.
	ConfigText string `json:"config_text,omitempty"`
}

// Report is a whole survey.
type Report struct {
	Date    time.Time `json:"date"`
	Notes   int       `json:"notes"`
	Results []Result  `json:"results"`
	// Alternatives are the variants of the wire format through each proxy.
	Alternatives []Alternative `json:"alternatives"`
	// Streaming times SUB against text/event-stream, with and without
	// Incremental, through each proxy.
	Streaming []Streaming `json:"streaming"`
	// Suite is the conformance suite's intermediary checks through each
	// proxy.
	Suite []SuiteResult `json:"suite"`
}

// Run surveys proxies in front of one origin, keeping every file under
// dir, and says what it is doing on progress.
func Run(ctx context.Context, dir string, proxies []Proxy, progress io.Writer) (*Report, error) {
	// Proxies that drop privileges (Varnish, h2o, Apache's workers) read
	// their configuration and certificates under dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	o, err := StartOrigin(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	report := &Report{Date: time.Now().UTC(), Notes: Notes}
	for _, p := range proxies {
		if !p.Installed() {
			fmt.Fprintf(progress, "%s: not installed (apt-get install %s)\n", p.Name, p.Package)
			for _, c := range p.Configs {
				report.Results = append(report.Results, Result{Proxy: p.Name, Package: p.Package, Config: c.Name, Missing: true})
			}
			continue
		}
		version := p.Version()
		for i, c := range p.Configs {
			r := Result{Proxy: p.Name, Package: p.Package, Version: version, Config: c.Name}
			confDir := filepath.Join(dir, fmt.Sprintf("%s-%d", strings.ToLower(p.Name), i))
			if err := os.MkdirAll(confDir, 0o755); err != nil {
				return nil, err
			}
			r.Counts, r.Leak, r.ConfigText, err = survey(ctx, o, c, confDir)
			if err != nil {
				r.Error = err.Error()
				fmt.Fprintf(progress, "%s, %s: %v\n", p.Name, c.Name, err)
			} else {
				fmt.Fprintf(progress, "%s, %s: %s; leak: %v\n", p.Name, c.Name, summary(r.Counts), r.Leak.Leaked())
			}
			report.Results = append(report.Results, r)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	if report.Alternatives, err = TryAlternatives(ctx, o, dir, proxies, progress); err != nil {
		return nil, err
	}
	if report.Streaming, err = TryStreaming(ctx, o, dir, proxies, progress); err != nil {
		return nil, err
	}
	report.Suite = RunSuite(ctx, o, dir, proxies, progress)
	return report, nil
}

// survey runs one proxy in one configuration: the counts of every way, then
// the leak check, each on a proxy started afresh so that no way inherits
// another's pooled connections.
func survey(ctx context.Context, o *Origin, c Config, dir string) ([]Count, *Leak, string, error) {
	var counts []Count
	var conf string
	for _, w := range Ways {
		f, err := c.start(ctx, o, dir)
		if err != nil {
			return nil, nil, "", err
		}
		conf = f.Config
		counts = append(counts, CountEvents(ctx, o, f, w))
		f.Stop()
	}
	f, err := c.start(ctx, o, dir)
	if err != nil {
		return nil, nil, "", err
	}
	leak := CheckLeak(ctx, o, f)
	f.Stop()
	if leak.Error == "" {
		if f, err = c.start(ctx, o, dir); err != nil {
			return nil, nil, "", err
		}
		if leak.Public, err = CheckPublicLeak(ctx, o, f); err != nil {
			leak.Error = err.Error()
		}
		f.Stop()
	}
	return counts, &leak, conf, nil
}

func summary(counts []Count) string {
	var parts []string
	for _, c := range counts {
		if c.Skipped != "" {
			parts = append(parts, c.Way+" –")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", c.Way, c.Received))
	}
	return strings.Join(parts, ", ")
}
