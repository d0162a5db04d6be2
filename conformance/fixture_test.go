package conformance

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait of a run in these tests: what should come
// comes in milliseconds on loopback.
const testTimeout = 5 * time.Second

// controlTimeout is the bound of the runs against broken servers and relays,
// most of whose waits are for what never comes: a shorter one makes them
// quicker, and can only make a check fail, never pass, so that a control
// still shows its check fails (the runs against correct implementations,
// which show that the checks pass, keep testTimeout).
const controlTimeout = 2 * time.Second

// startScripted starts a ScriptedServer with the given defects; it stops
// with the test.
func startScripted(t testing.TB, d defects) *ScriptedServer {
	t.Helper()
	s := &ScriptedServer{defects: d}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runServer runs the server checks against a ScriptedServer's stream
// /public/suite, publishing on it directly.
func runServer(t testing.TB, s *ScriptedServer, timeout time.Duration) *Report {
	t.Helper()
	report, err := Run(t.Context(), Config{
		URL:       s.URL() + "/public/suite",
		Publisher: &ScriptedPublisher{Server: s, Path: "/public/suite"},
		KeepAlive: DefaultScriptedKeepAlive,
		Timeout:   timeout,
	})
	if err != nil {
		t.Error(err) // not Fatal: runs run on goroutines of their own
		return &Report{}
	}
	return report
}

// text is the report as the command prints it, for failure messages.
func text(r *Report) string {
	var b bytes.Buffer
	r.WriteText(&b, true)
	return b.String()
}

// concurrently runs n runs of the suite at once and returns their reports:
// a run mostly waits (for keepalives, for what a broken server never
// sends), so running them one after the other would take minutes.
func concurrently(n int, run func(i int) *Report) []*Report {
	reports := make([]*Report, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { reports[i] = run(i) })
	}
	wg.Wait()
	return reports
}

// negativeControl is a target broken in one way, by cause, and the check
// that must fail on it.
type negativeControl[C any] struct {
	check string
	cause C
}

// expectEachFails wants every control's check to fail in the report of the
// run against its broken target, reports[i] being controls[i]'s.
func expectEachFails[C any](t *testing.T, controls []negativeControl[C], reports []*Report) {
	t.Helper()
	for i, c := range controls {
		t.Run(c.check, func(t *testing.T) {
			res, ok := reports[i].Result(c.check)
			if !ok || res.Status != Fail {
				t.Errorf("%s: %s %s, want fail on %+v\n%s", c.check, res.Status, res.Detail, c.cause, text(reports[i]))
			}
		})
	}
}

// expectEveryCheckControlled wants every check but the exempt ones to have
// a negative control: a check that cannot fail is a defect of the suite.
func expectEveryCheckControlled[C any](t *testing.T, checks []*Check, controls []negativeControl[C], exempt ...string) {
	t.Helper()
	controlled := map[string]bool{}
	for _, id := range exempt {
		controlled[id] = true
	}
	for _, c := range controls {
		controlled[c.check] = true
	}
	for _, c := range checks {
		if !controlled[c.ID] {
			t.Errorf("%s has no negative control", c.ID)
		}
	}
}
