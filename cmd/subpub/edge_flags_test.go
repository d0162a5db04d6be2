package main

import (
	"slices"
	"strings"
	"testing"
)

// TestUpstreamFlag: --upstream keeps its default until given, then holds
// every value given, repeated or comma-separated (as $SUBPUB_UPSTREAM
// does).
func TestUpstreamFlag(t *testing.T) {
	for _, tc := range []struct {
		given []string
		want  []string
	}{
		{nil, []string{"https://localhost:8443"}},
		{[]string{"http://a:1"}, []string{"http://a:1"}},
		{[]string{"http://a:1", "http://b:2"}, []string{"http://a:1", "http://b:2"}},
		{[]string{"http://a:1,http://b:2", "http://c:3"}, []string{"http://a:1", "http://b:2", "http://c:3"}},
	} {
		l := upstreamList{urls: stringList{"https://localhost:8443"}}
		for _, v := range tc.given {
			if err := l.Set(v); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(l.urls, tc.want) {
			t.Errorf("--upstream %v: %v, want %v", tc.given, l.urls, tc.want)
		}
	}
}

func TestEdgeRefusesAnUpstreamThatIsNotAURL(t *testing.T) {
	code, _, errOut := runCLI(t.Context(), "", "edge", "--data", t.TempDir(), "--listen", "127.0.0.1:0",
		"--upstream", "http://127.0.0.1:1", "--upstream", "ftp://x")
	if code == 0 || !strings.Contains(errOut, `--upstream "ftp://x" is not an http or https URL`) {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
