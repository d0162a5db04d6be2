package testkit

import (
	"os"
	"testing"
)

// ToolMissing ends a test that needs a program this machine lacks: it
// skips it, or fails it where the tools are required
// (SUBPUB_REQUIRE_INTEROP=1, as CI sets), so that a missing tool there is
// a failure and not a test that silently did not run. why says what is
// missing and how to install it.
func ToolMissing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("SUBPUB_REQUIRE_INTEROP") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}
