package chaos

import (
	"os"
	"testing"
)

// TestShortFaultSuite runs the suite's short form: subscribers on every
// way at every tier, each server killed once, the revocation and the
// query-string flood; every event must arrive exactly once and in order,
// and every attack be dealt with.
func TestShortFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and kills them")
	}
	cfg := Short()
	cfg.Progress = os.Stderr
	if testing.Verbose() {
		cfg.ServerLog = os.Stderr
	}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Markdown())
	if !rep.Pass {
		t.Errorf("the fault suite failed (seed %d):\n%s", rep.Seed, rep.Markdown())
	}
}
