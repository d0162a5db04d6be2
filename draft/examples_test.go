// Package draft_test keeps the Internet-Draft true to the code: it extracts
// every example exchange from the markdown of the draft and replays it
// against running servers, an origin and an edge in front of one, checking
// that what they send has the structure the example shows. A change to the
// code or to the draft that makes them disagree fails the test.
package draft_test

import (
	"slices"
	"strings"
	"testing"
)

func TestEveryExampleOfTheDraftIsWhatTheServersSend(t *testing.T) {
	examples, err := readExamples(draftFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) == 0 {
		t.Fatalf("%s has no examples", draftFile)
	}
	var anchors []string
	for _, ex := range examples {
		anchors = append(anchors, ex.anchor)
		newScenario, ok := scenarios[ex.anchor]
		if !ok {
			t.Errorf("%s is not replayed: give it a scenario", ex.anchor)
			continue
		}
		t.Run(ex.anchor, func(t *testing.T) {
			t.Parallel()
			for _, tp := range []topology{fromOrigin, throughEdge} {
				t.Run(tp.String(), func(t *testing.T) {
					t.Parallel()
					sc := newScenario()
					w := newWorld(t, tp, sc, ex)
					var rw rewrite
					if sc.prepare != nil {
						rw = sc.prepare(w)
					}
					replay(t, ex, w.front.PlainAddr, rw, func(n int) {
						if act := sc.after[n]; act != nil {
							act(w)
						}
					})
					if sc.check != nil && !t.Failed() {
						sc.check(w)
					}
				})
			}
		})
	}
	for anchor := range scenarios {
		if !slices.Contains(anchors, anchor) {
			t.Errorf("a scenario for %s, which %s does not have", anchor, draftFile)
		}
	}
}

// The comparison must accept each example as it is written and catch a
// change to what the protocol defines, or the test above proves nothing.
func TestAnExampleMatchesItselfAndNotAChangedCopy(t *testing.T) {
	examples, err := readExamples(draftFile)
	if err != nil {
		t.Fatal(err)
	}
	texts, err := readBlocks(draftFile)
	if err != nil {
		t.Fatal(err)
	}
	byAnchor := map[string]*example{}
	for _, ex := range examples {
		byAnchor[ex.anchor] = ex
		t.Run(ex.anchor+" matches itself", func(t *testing.T) {
			for i, s := range ex.steps {
				if diffs := compareStep(s, s); len(diffs) > 0 {
					t.Errorf("step %d: %v", i+1, diffs)
				}
			}
		})
	}
	changes := []struct {
		anchor, old, new string
	}{
		{"example-basic", "HTTP/1.1 106 No Operation\nEnable-SUB: ?1", "HTTP/1.1 105 PUB\nEnable-SUB: ?1"},
		// The acknowledgement's mark, which the negotiation rests on.
		{"example-basic", "HTTP/1.1 106 No Operation\nEnable-SUB: ?1\n", "HTTP/1.1 106 No Operation\n"},
		{"example-basic", "Subscription-Sharing: shared", "Subscription-Sharing: per-credential"},
		{"example-basic", "Subscription-Sharing: shared", "Cache-Control: public"},
		{"example-basic", "Subscription-Sharing: shared\nVary: Authorization\n", "Subscription-Sharing: shared\n"},
		{"example-basic", `type=Update`, `type=Create`},
		{"example-basic", `type=Update`, `type="Update"`},
		{"example-basic", `id="1243244"`, `id=1243244`},
		{"example-basic", `t=1763900000123`, `t=@1763900000`},
		{"example-basic", `Event-Data: "{\"type\":\"Update\"`, `Event-Data: "{\"type\":\"Create\"`},
		{"example-basic", `\"object\":{\"content\":\"Hi!\"}`, `\"object\":\"Hi!\"`},
		{"example-basic", `prev="1243243", `, ``},
		{"example-basic", `prev="1243243"`, `prev=1243243`},
		{"example-gap", `Event: gap="https://origin.example/users/alice/outbox"`, `Event: type=gap`},
		{"example-gap", `gap="https://origin.example/users/alice/outbox"`, `gap="https://origin.example/users/alice"`},
		{"example-gap", `Event-Data: ""`, `Event-Data: :aHR0cHM6Ly9vcmlnaW4uZXhhbXBsZS8=:`},
		{"example-ref", `Event: ref="/events/1243351"`, `Event: ref="/events/1"`},
		{"example-ref", `Event: ref="/events/1243351"`, `Event: ref="/events/1243351"` + "\nEvent-Data: \"\""},
		{"example-sse", "retry: 2000\n\n", ""},
		{"example-sse", "\n:\n", "\n"},
		{"example-sse", "event: Delete", "event: Remove"},
		{"example-sse", "t: 1763900019456\n", ""},
		{"example-sse", "prev: 1243244\n", ""},
		{"example-sse", "Subscription-Sharing: shared\nCache-Control: no-cache", "Subscription-Sharing: shared\nCache-Control: public"},
		{"example-sse", "Subscription-Sharing: shared\n", ""},
		{"example-405", "Allow: GET, HEAD", "Allow: GET, HEAD, SUB"},
		{"example-405", `"status":405`, `"status":404`},
		{"example-505", "HTTP/1.0 505", "HTTP/1.1 505"},
		{"example-401", `Bearer realm="subpub"`, `Basic realm="subpub"`},
		{"example-429", "Retry-After: 10", "Retry-After: Sun, 23 Nov 2025 12:13:30 GMT"},
		{"example-503", "Content-Type: application/problem+json", "Content-Type: application/json"},
	}
	for _, c := range changes {
		ex := byAnchor[c.anchor]
		if ex == nil {
			t.Errorf("no %s", c.anchor)
			continue
		}
		text := texts[c.anchor]
		if !strings.Contains(text, c.old) {
			t.Errorf("%s does not contain %q", c.anchor, c.old)
			continue
		}
		changed, err := parseExample(c.anchor, strings.Replace(text, c.old, c.new, 1))
		if err != nil {
			t.Errorf("%s with %q: %v", c.anchor, c.new, err)
			continue
		}
		if !differ(ex, changed) {
			t.Errorf("%s: replacing %q by %q goes unnoticed", c.anchor, c.old, c.new)
		}
	}
}

// differ reports whether the comparison finds any difference between the
// steps of two examples.
func differ(want, got *example) bool {
	if len(want.steps) != len(got.steps) {
		return true
	}
	for i := range want.steps {
		if len(compareStep(want.steps[i], got.steps[i])) > 0 {
			return true
		}
	}
	return false
}
