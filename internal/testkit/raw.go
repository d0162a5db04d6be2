package testkit

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
)

// RawConn is a cleartext connection on which a test writes requests as they
// are and reads what the server answers, to look at the bytes on the wire.
type RawConn struct {
	net.Conn
	// R reads what the server answers.
	R *bufio.Reader
}

// DialRaw connects to addr. The connection is closed when the test ends.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return NewRawConn(t, conn)
}

// NewRawConn is a RawConn on conn, for a test that dials it itself. conn is
// closed when the test ends.
func NewRawConn(t testing.TB, conn net.Conn) *RawConn {
	t.Cleanup(func() { conn.Close() })
	return &RawConn{Conn: conn, R: bufio.NewReader(conn)}
}

// Send writes request as it is.
func (c *RawConn) Send(t testing.TB, request string) {
	t.Helper()
	if _, err := io.WriteString(c.Conn, request); err != nil {
		t.Fatal(err)
	}
}

// ResponseHead reads the status line and fields of the next response,
// interim or final.
func (c *RawConn) ResponseHead(t testing.TB) (status string, fields []string) {
	t.Helper()
	for {
		line, err := c.R.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return status, fields
		}
		if status == "" {
			status = line
		} else {
			fields = append(fields, line)
		}
	}
}
