package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/subpub/subpub/host"
)

// ShutdownTimeout bounds how long a test's server has, once the test is
// over, to end its subscriptions as a shutting-down server does before its
// connections are closed.
const ShutdownTimeout = 5 * time.Second

// StartServer starts srv and shuts it down when the test ends, within
// ShutdownTimeout. A cleanup the test registered before the call runs after
// the shutdown, so that what the server's handler uses may be closed there.
func StartServer(t testing.TB, srv *host.Server) {
	t.Helper()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	})
}
