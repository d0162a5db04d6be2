package conformance

import (
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
)

// originKeepAlive is the keepalive interval the origin under test runs
// with, so that the keepalive check takes seconds.
const originKeepAlive = time.Second

// startOrigin runs `subpub origin` with alice; it stops with the test.
func startOrigin(t *testing.T) *launch.Process {
	t.Helper()
	p, err := launch.Start(t.Context(), "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--keepalive", originKeepAlive.String(), "--user", "alice:alice-token")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// runAgainst runs the server checks on alice's outbox at base (the origin
// or an edge in front of it), publishing at the origin.
func runAgainst(t *testing.T, o *launch.Process, caFile, stream string) *Report {
	t.Helper()
	c, err := client.New(client.Options{CAFile: o.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	report, err := Run(t.Context(), Config{
		URL:       stream,
		Publisher: &OutboxPublisher{Client: c, Outbox: o.URL("/users/alice/outbox"), Token: "alice-token"},
		CAFile:    caFile,
		KeepAlive: originKeepAlive,
		Timeout:   testTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// requireNoFailure fails the test on every failed check, and on a skipped
// one other than those allowed.
func requireNoFailure(t *testing.T, report *Report, skippable ...string) {
	t.Helper()
	for _, res := range report.Results {
		allowed := false
		for _, id := range skippable {
			allowed = allowed || id == res.ID
		}
		if res.Status == Fail || (res.Status == Skip && !allowed) {
			t.Errorf("%s %s: %s", res.ID, res.Status, res.Detail)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log(text(report))
	}
}

func TestSubpubOriginPassesEveryServerCheck(t *testing.T) {
	o := startOrigin(t)
	requireNoFailure(t, runAgainst(t, o, o.CAFile, o.URL("/users/alice/outbox")))
}

func TestSubpubEdgePassesEveryServerCheck(t *testing.T) {
	o := startOrigin(t)
	e, err := launch.Start(t.Context(), "edge", launch.Options{},
		"--upstream", o.URL(""), "--upstream-cacert", o.CAFile,
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--keepalive", originKeepAlive.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	requireNoFailure(t, runAgainst(t, o, e.CAFile, e.URL("/users/alice/outbox")))
}
