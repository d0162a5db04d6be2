package conformance

import (
	"fmt"
	"strings"

	"github.com/subpub/subpub/client"
)

// perSubscription applies inspect to every SUB subscription of the main
// round and fails with the problems it names, each with its HTTP version.
func perSubscription(s *suiteRun, inspect func(r *recording, responses []response, events []client.Event) []string) Result {
	m := s.main
	if m.err != nil {
		return fail("%v", m.err)
	}
	var problems []string
	looked := 0
	for _, r := range m.subs {
		responses, events, _, _ := r.snapshot()
		for _, p := range inspect(r, responses, events) {
			problems = append(problems, versionNames[r.Version]+": "+p)
		}
		looked++
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(firstOf(problems, 5), "; "))
	}
	return pass("looked at %d subscriptions (%s)", looked, strings.Join(m.offered(), ", "))
}

// firstOf is the first n of items, and how many more there were.
func firstOf(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("and %d more", len(items)-n))
}

func itoa(n int) string { return fmt.Sprint(n) }

func quote(s string) string { return fmt.Sprintf("%q", s) }

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// waitError says what a wait for n events met.
func waitError(got, n int, err error, timeout interface{ String() string }) error {
	if err != nil {
		return fmt.Errorf("%d of %d events, then the subscription ended: %v", got, n, err)
	}
	return fmt.Errorf("%d of %d events within %s", got, n, timeout)
}
