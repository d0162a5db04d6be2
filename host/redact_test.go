package host_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/testkit"
)

// TestServerLogsNoCredential serves requests that carry a token in their
// query over HTTP/1.1, HTTP/2 and HTTP/3 with a debug-level Logger: quic-go
// logs each HTTP/3 request's URI, and the Server masks the token in it.
func TestServerLogsNoCredential(t *testing.T) {
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var log testkit.LogBuffer
	srv := &host.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		Addr:      "127.0.0.1:0",
		TLSConfig: ca.TLSConfig(),
		Logger:    slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	const secret = "s3cr3t-t0ken-value"
	for _, version := range []string{client.HTTP11, client.HTTP2, client.HTTP3} {
		c := testkit.NewClient(t, client.Options{HTTP: version, CAFile: ca.CAFile})
		req, err := http.NewRequest(http.MethodGet, "https://"+srv.TLSAddr().String()+"/p?id=1&access_token="+secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		resp.Body.Close()
	}
	if out := log.String(); strings.Contains(out, secret) || !strings.Contains(out, "/p?id=1&access_token=********") {
		t.Errorf("logged:\n%s", out)
	}
}
