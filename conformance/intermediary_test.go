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

// startEdge runs `subpub edge` in front of upstream, with flags besides
// its defaults; it stops with the test.
func startEdge(t testing.TB, upstream string, flags ...string) (string, error) {
	p, err := launch.Start(t.Context(), "edge", launch.Options{}, append([]string{
		"--upstream", upstream, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir()}, flags...)...)
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

// TestEdgeWithSeparateCatchUpsFailsTheSharingCheck: the edge told not to
// share catch-ups (--separate-catchups, as it was before it did) fails
// ring/3 and still passes ring/2, which every catch-up must.
func TestEdgeWithSeparateCatchUpsFailsTheSharingCheck(t *testing.T) {
	report := runIntermediary(t, testTimeout, func(up string) (string, error) { return startEdge(t, up, "--separate-catchups") })
	for id, want := range map[string]Status{"ring/2": Pass, "ring/3": Fail} {
		if res, _ := report.Result(id); res.Status != want {
			t.Errorf("%s %s (%s), want %s", id, res.Status, res.Detail, want)
		}
	}
}

// intermediaryControls are the negative controls of the intermediary
// checks: a relay broken in one way, and the check that must fail on it.
var intermediaryControls = []negativeControl[relayFaults]{
	{"interim-handling/1", relayFaults{dropAfter: 5}},
	{"interim-handling/1", relayFaults{buffer: true}},
	{"detecting-loss/1", relayFaults{}},
	{"tiers/1", relayFaults{rewriteEvents: true}},
	{"collapsing-key/1", relayFaults{}},
	{"collapsing-key/2", relayFaults{shareByURL: true}},
	{"collapsing-key/3", relayFaults{dropAckFields: true}},
	{"ring/1", relayFaults{dropLastEventID: true}},
	{"ring/2", relayFaults{shareByURL: true}},
	{"ring/3", relayFaults{}},
	{"slow/1", relayFaults{shareByURL: true}},
}

func TestEveryIntermediaryCheckFailsOnItsDefect(t *testing.T) {
	reports := concurrently(len(intermediaryControls), func(i int) *Report {
		return runIntermediary(t, controlTimeout, func(up string) (string, error) { return startRelay(t, intermediaryControls[i].cause, up), nil })
	})
	expectEachFails(t, intermediaryControls, reports)
}

func TestEveryIntermediaryCheckHasANegativeControl(t *testing.T) {
	expectEveryCheckControlled(t, IntermediaryChecks(), intermediaryControls)
}
