package testkit

import (
	"testing"

	"github.com/subpub/subpub/client"
)

// NewClient is a client with opts that is closed when the test ends.
func NewClient(t testing.TB, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
