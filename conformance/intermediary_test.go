package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// runIntermediary runs the intermediary checks against the intermediary
// start returns the base URL of, once pointed at the scripted upstream.
func runIntermediary(t testing.TB, timeout time.Duration, start func(upstream string) (string, error)) *Report {
	t.Helper()
	report, err := RunIntermediary(t.Context(), Config{
		Timeout: timeout,
		Wait:    testTimeout,
		Ready:   func(_ context.Context, upstream string) (string, error) { return start(upstream) },
	})
	if err != nil {
		t.Error(err) // not Fatal: runs run on goroutines of their own
		return &Report{}
	}
	return report
}

// startEdge runs `subpub edge` in front of upstream; it stops with the test.
func startEdge(t testing.TB, upstream string) (string, error) {
	p, err := launch.Start(t.Context(), "edge", launch.Options{},
		"--upstream", upstream, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir())
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { p.Stop() })
	return p.PlainURL(""), nil
}

func TestEdgePassesEveryIntermediaryCheck(t *testing.T) {
	report := runIntermediary(t, testTimeout, func(up string) (string, error) { return startEdge(t, up) })
	for _, res := range report.Results {
		if res.Status != Pass {
			t.Errorf("%s %s: %s", res.ID, res.Status, res.Detail)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log(text(report))
	}
}

// intermediaryControls are the negative controls of the intermediary
// checks: a relay broken in one way, and the check that must fail on it.
var intermediaryControls = []struct {
	check  string
	faults relayFaults
}{
	{"interim-handling/1", relayFaults{dropAfter: 5}},
	{"interim-handling/1", relayFaults{buffer: true}},
	{"detecting-loss/1", relayFaults{}},
	{"tiers/1", relayFaults{rewriteEvents: true}},
	{"collapsing-key/1", relayFaults{}},
	{"collapsing-key/2", relayFaults{shareByURL: true}},
	{"collapsing-key/3", relayFaults{dropAckFields: true}},
	{"ring/1", relayFaults{dropLastEventID: true}},
	{"ring/2", relayFaults{shareByURL: true}},
	{"slow/1", relayFaults{shareByURL: true}},
}

func TestEveryIntermediaryCheckFailsOnItsDefect(t *testing.T) {
	reports := concurrently(len(intermediaryControls), func(i int) *Report {
		return runIntermediary(t, controlTimeout, func(up string) (string, error) { return startRelay(t, intermediaryControls[i].faults, up), nil })
	})
	for i, c := range intermediaryControls {
		t.Run(c.check, func(t *testing.T) {
			res, ok := reports[i].Result(c.check)
			if !ok || res.Status != Fail {
				t.Errorf("%s: %s %s, want fail on %+v\n%s", c.check, res.Status, res.Detail, c.faults, text(reports[i]))
			}
		})
	}
}

func TestEveryIntermediaryCheckHasANegativeControl(t *testing.T) {
	controlled := map[string]bool{}
	for _, c := range intermediaryControls {
		controlled[c.check] = true
	}
	for _, c := range IntermediaryChecks() {
		if !controlled[c.ID] {
			t.Errorf("%s has no negative control", c.ID)
		}
	}
}
