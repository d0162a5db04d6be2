package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/proxy/events?id=x&access_token=s3cr3t", "/proxy/events?id=x&access_token=********"},
		{"/proxy/events?access_token=s3cr3t&id=x", "/proxy/events?access_token=********&id=x"},
		{"/p?ACCESS_TOKEN=s3cr3t", "/p?ACCESS_TOKEN=********"},
		{"/p?access%5Ftoken=s3cr3t", "/p?access%5Ftoken=********"},
		{"/x?access_token=a&access_token=b", "/x?access_token=********&access_token=********"},
		{"/proxy/events?id=x&access_token=s3cret&z=1", "/proxy/events?id=x&access_token=********&z=1"},
		{"/proxy/events?id=https%3A%2F%2Fx", "/proxy/events?id=https%3A%2F%2Fx"},
		{"/users/alice", "/users/alice"},
		{"https://h/p?id=1&access_token=s3cr3t#f", "https://h/p?id=1&access_token=********#f"},
		{`Get "https://h/p?access_token=s3cr3t": EOF`, `Get "https://h/p?access_token=********": EOF`},
		{"Authorization: Bearer s3cr3t.x-y~z+/==", "Authorization: Bearer ********"},
		{"authorization: bearer s3cr3t", "authorization: bearer ********"},
		{`Bearer realm="subpub"`, `Bearer realm="subpub"`},
		{"nothing here", "nothing here"},
		{"a token of alice", "a token of alice"},
	} {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	l := Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	u, _ := url.Parse("https://h/p?access_token=s3cr3t")
	l = l.With("conn", "access_token=s3cr3t")
	l.Debug("handling request access_token=s3cr3t", "uri", "/p?access_token=s3cr3t",
		"url", u, "err", errors.New(`Get "https://h/?access_token=s3cr3t": EOF`),
		slog.Group("req", "header", "Bearer s3cr3t"), "n", 3)
	l.WithGroup("g").Info("x", "h", []byte("Bearer s3cr3t"))
	out := buf.String()
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("the secret was logged:\n%s", out)
	}
	if strings.Count(out, Mask) != 8 || !strings.Contains(out, "n=3") {
		t.Errorf("logged:\n%s", out)
	}
	if Logger(l) != l {
		t.Error("wrapping twice")
	}
}
