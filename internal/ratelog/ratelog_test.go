package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), time.Hour, 3)
	l := slog.New(h).With("conn", 1)
	for i := range 1000 {
		l.Info("request canceled by the client", "n", i)
		slog.New(h).Info("http: TLS handshake error from 10.0.0.1:" + string(rune('0'+i%10)) + ": EOF")
	}
	l.Warn("request canceled by the client")
	out := buf.String()
	if n := strings.Count(out, `msg="request canceled by the client"`); n != 4 {
		t.Errorf("%d lines of one kind at info and warn, want 3 + 1:\n%s", n, out)
	}
	if n := strings.Count(out, "TLS handshake error"); n != 3 {
		t.Errorf("%d lines of a kind whose messages differ by digits, want 3:\n%s", n, out)
	}
	if strings.Contains(out, "suppressed") {
		t.Errorf("suppressed counted before an interval passed:\n%s", out)
	}

	// The next interval passes records again, the first saying how many
	// were dropped.
	buf.Reset()
	h = New(slog.NewTextHandler(&buf, nil), 10*time.Millisecond, 1)
	for range 5 {
		slog.New(h).Info("x")
	}
	time.Sleep(20 * time.Millisecond)
	slog.New(h).Info("x")
	if out := buf.String(); strings.Count(out, "msg=x") != 2 || !strings.Contains(out, "suppressed=4") {
		t.Errorf("logged:\n%s", out)
	}
}
