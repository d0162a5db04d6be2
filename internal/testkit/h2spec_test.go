package testkit

import (
	"os"
	"slices"
	"testing"
)

func TestH2SpecFailuresNamesEachFailedCase(t *testing.T) {
	report, err := os.ReadFile("testdata/h2spec-origin-races.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http2/5.1/8", "http2/5.1/9", "http2/6.9.1/3", "http2/8.1/1", "http2/8.1.2.1/3"}
	if got := H2SpecFailures(report); !slices.Equal(got, want) {
		t.Errorf("failures %q, want %q", got, want)
	}
	for _, tt := range []struct {
		name, report string
		want         []string
	}{
		{"no failures", "1: Sends a client connection preface ✔\n145 tests, 145 passed, 0 skipped, 0 failed\n", nil},
		{"a generic case", "145 tests\nFailures: \n\nGeneric tests for HTTP/2 server\n  2. Streams and Multiplexing\n    × 3: Sends a PRIORITY frame\n", []string{"generic/2/3"}},
		{"an hpack case", "145 tests\nFailures: \n\nHPACK: Header Compression for HTTP/2\n  6. Binary Format\n    6.3. Dynamic Table Size Update\n      × 1: Sends a dynamic table size update\n", []string{"hpack/6.3/1"}},
	} {
		if got := H2SpecFailures([]byte(tt.report)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: failures %q, want %q", tt.name, got, tt.want)
		}
	}
}
