package testkit

import (
	"net"
	"testing"
)

// ClosedPort is the address of a loopback TCP listener opened and closed:
// nothing listens there, so a connection is refused.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
