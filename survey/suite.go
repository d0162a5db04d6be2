package survey

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/subpub/subpub/conformance"
)

// Bounds on a conformance run through a proxy: a proxy that relays
// nothing makes every check wait for its bound.
const (
	suiteTimeout = 3 * time.Second
	suiteWait    = 5 * time.Second
)

// SuiteResult is what `subpub conformance --intermediary` found through one
// proxy configuration.
type SuiteResult struct {
	Proxy  string `json:"proxy"`
	Config string `json:"config"`
	// Error says why the suite could not run (the proxy relayed no
	// subscription to the scripted upstream, or did not start).
	Error  string              `json:"error,omitempty"`
	Report *conformance.Report `json:"report,omitempty"`
}

// RunSuite runs the conformance suite's intermediary checks through each
// proxy in its first configuration, the proxy pointed at the suite's
// scripted upstream (the other configurations change how connections are
// reused or how SUB is forwarded, which the counts and the reuse check
// already compare).
func RunSuite(ctx context.Context, o *Origin, dir string, proxies []Proxy, progress io.Writer) []SuiteResult {
	var results []SuiteResult
	for _, p := range proxies {
		if !p.Installed() {
			continue
		}
		for i, c := range p.Configs[:1] {
			res := SuiteResult{Proxy: p.Name, Config: c.Name}
			confDir, err := p.configDir(dir, "suite", i)
			if err != nil {
				res.Error = err.Error()
				results = append(results, res)
				continue
			}
			var front *Front
			report, err := conformance.RunIntermediary(ctx, conformance.Config{
				CAFile:  o.CAFile,
				Timeout: suiteTimeout,
				Wait:    suiteWait,
				Ready: func(ctx context.Context, upstream string) (string, error) {
					u, err := url.Parse(upstream)
					if err != nil {
						return "", err
					}
					scripted := *o
					scripted.Upstream = u.Host
					if front, err = c.start(ctx, &scripted, confDir); err != nil {
						return "", err
					}
					return "http://" + front.Plain, nil
				},
			})
			if front != nil {
				front.Stop()
			}
			if err != nil {
				res.Error = err.Error()
			}
			res.Report = report
			results = append(results, res)
			if report != nil {
				fmt.Fprintf(progress, "%s, %s: conformance %d passed, %d failed (%d MUST), %d skipped\n", p.Name, c.Name,
					report.Summary.Passed, report.Summary.Failed, report.Summary.MustFailures, report.Summary.Skipped)
			} else {
				fmt.Fprintf(progress, "%s, %s: conformance not run: %v\n", p.Name, c.Name, err)
			}
		}
	}
	return results
}
