package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/testkit"
)

// startCLI runs a command line in-process in the background; the channel
// receives its exit code.
func startCLI(ctx context.Context, args ...string) (<-chan int, *testkit.LogBuffer, *testkit.LogBuffer) {
	var stdout, stderr testkit.LogBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	return done, &stdout, &stderr
}

// closedUDPPort is the same for UDP (QUIC).
func closedUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestSubFailsFastOnWhatRetryingCannotFix runs sub against real servers on
// loopback, each failing before a stream is established, and checks the
// exit status (curl's) and the one line that says what and why.
func TestSubFailsFastOnWhatRetryingCannotFix(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	refused := testkit.ClosedPort(t)
	refusedUDP := closedUDPPort(t)
	// A TCP server that reads a request and closes without answering.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
			}()
		}
	}()
	stream := o.URL().String() + "/public/news"
	tests := []struct {
		name string
		args []string
		code int
		line string // a regular expression for the whole of stderr
	}{
		{"an untrusted certificate (SUB over HTTP/2)", []string{stream}, 60,
			`^subpub sub: certificate problem with 127\.0\.0\.1:\d+: x509: certificate signed by unknown authority; trust its CA with --cacert FILE \(or skip verification with -k\)\n$`},
		{"an untrusted certificate (HTTP/3)", []string{"--http", "3", stream}, 60,
			`^subpub sub: certificate problem with 127\.0\.0\.1:\d+: x509: certificate signed by unknown authority; trust its CA with --cacert FILE`},
		{"an untrusted certificate (SSE)", []string{"--sse", stream}, 60,
			`^subpub sub: certificate problem with 127\.0\.0\.1:\d+: x509: certificate signed by unknown authority;`},
		{"a name that does not resolve", []string{"https://nowhere.invalid/public/news"}, 6,
			`^subpub sub: could not resolve host nowhere\.invalid: .+\n$`},
		{"a name that does not resolve (HTTP/3)", []string{"--http", "3", "https://nowhere.invalid/public/news"}, 6,
			`^subpub sub: could not resolve host nowhere\.invalid: .+\n$`},
		{"a refused connection", []string{"https://" + refused + "/public/news"}, 7,
			`^subpub sub: could not connect to ` + regexp.QuoteMeta(refused) + `: connection refused\n$`},
		{"a refused connection (cleartext SSE)", []string{"--sse", "http://" + refused + "/public/news"}, 7,
			`^subpub sub: could not connect to ` + regexp.QuoteMeta(refused) + `: connection refused\n$`},
		{"no answer over QUIC", []string{"--http", "3", "https://" + refusedUDP + "/public/news"}, 7,
			`^subpub sub: could not connect to ` + regexp.QuoteMeta(refusedUDP) + ` over QUIC: no answer \(is it listening on UDP, and does UDP get through\?\)\n$`},
		{"a 404", []string{"--cacert", o.CA.CAFile, o.URL().String() + "/nowhere"}, 22,
			`^subpub sub: https://127\.0\.0\.1:\d+/nowhere: 404 Not Found: no such stream: https://127\.0\.0\.1:\d+/nowhere\n$`},
		{"a 401", []string{"--cacert", o.CA.CAFile, "--sub", o.URL().String() + "/private/bob"}, 22,
			`^subpub sub: https://127\.0\.0\.1:\d+/private/bob: 40[13] `},
		{"a TLS handshake with a cleartext port", []string{"https://" + o.PlainAddr() + "/public/news"}, 35,
			`^subpub sub: TLS handshake with 127\.0\.0\.1:\d+ failed: tls: first record does not look like a TLS handshake \(is it an https port\?\)\n$`},
		{"a connection closed without a response", []string{"http://" + silent.Addr().String() + "/public/news"}, 52,
			`^subpub sub: 127\.0\.0\.1:\d+ closed the connection without a response \(is it an https port\?\)\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			code, out, errOut := runCLI(ctx, "", append([]string{"sub"}, tt.args...)...)
			if code != tt.code || out != "" || !regexp.MustCompile(tt.line).MatchString(errOut) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %s", code, out, errOut, tt.code, tt.line)
			}
			if elapsed := time.Since(start); elapsed > 15*time.Second {
				t.Errorf("took %v to fail", elapsed)
			}
		})
	}
}

// TestSubRetriesWhatMayPass checks that sub keeps trying, saying so each
// time, what a server asks it to try later (503) and any failure after a
// stream was established, and that --timeout then says what it waited for.
func TestSubRetriesWhatMayPass(t *testing.T) {
	t.Run("a 503 before any stream is retried until --timeout, which exits 28 with the reason", func(t *testing.T) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}))
		defer ts.Close()
		code, _, errOut := runCLI(t.Context(), "", "sub", "--sse", "--timeout", "1500ms", ts.URL+"/s")
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != 28 || len(lines) < 2 || lines[len(lines)-1] != "subpub sub: timed out after 1.5s with 0 events (the last attempt: 503 Service Unavailable: busy)" {
			t.Fatalf("exit %d, %q", code, errOut)
		}
		for _, l := range lines[:len(lines)-1] {
			if !regexp.MustCompile(`^subpub sub: retrying in \S+ \(503 Service Unavailable: busy\)$`).MatchString(l) {
				t.Errorf("line %q", l)
			}
		}
	})
	t.Run("a stream the server closes is resumed, with a line saying so", func(t *testing.T) {
		var mu sync.Mutex
		var requests []string
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n := len(requests)
			requests = append(requests, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", n+1, n+1)
		}))
		defer ts.Close()
		code, out, errOut := runCLI(t.Context(), "", "sub", "--sse", "--count", "3", ts.URL+"/s")
		if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "id=3 type=message event 3") {
			t.Errorf("exit %d, %q, %q", code, out, errOut)
		}
		if n := len(regexp.MustCompile(`(?m)^subpub sub: reconnecting in \S+ \(server closed the stream\)$`).FindAllString(errOut, -1)); n != 2 || strings.Count(errOut, "\n") != 2 {
			t.Errorf("stderr %q, want two reconnections", errOut)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(requests, ",") != ",1,2" {
			t.Errorf("requests resumed after %q", requests)
		}
	})
	t.Run("an event lost on the way is said, and resumed from the last one printed", func(t *testing.T) {
		o := testkit.NewOrigin(t, nil)
		proxy := testkit.NewDroppingProxy(t, o.PlainAddr(), 2)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		done, out, errOut := startCLI(ctx, "sub", "--sub", "--http", "1.1", "--count", "4", "http://"+proxy.Addr()+"/public/lossy")
		testkit.WaitUntil(t, "the subscription", func() bool { return o.Active() == 1 })
		var ids []string
		for i := range 4 {
			ids = append(ids, o.Publish("/public/lossy", fmt.Sprintf(`"n%d"`, i)).Event.ID)
		}
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d, %q, %q", code, out.String(), errOut.String())
			}
		case <-ctx.Done():
			t.Fatalf("sub did not finish: %q", errOut.String())
		}
		printed := regexp.MustCompile(`id=(\S+)`).FindAllStringSubmatch(out.String(), -1)
		var got []string
		for _, m := range printed {
			got = append(got, m[1])
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("printed ids %v, want %v", got, ids)
		}
		want := fmt.Sprintf(`^subpub sub: reconnecting in \S+ \(an event was lost or reordered on the way: event "%s" follows "%s", but the last event received was "%s"\)\n$`, ids[2], ids[1], ids[0])
		if !regexp.MustCompile(want).MatchString(errOut.String()) {
			t.Errorf("stderr %q, want one line matching %s", errOut.String(), want)
		}
	})
	t.Run("a refused connection after the stream was established is retried until the origin is back", func(t *testing.T) {
		o := testkit.NewOrigin(t, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		done, out, errOut := startCLI(ctx, "sub", "--sub", "--cacert", o.CA.CAFile, "--count", "2", o.URL().String()+"/public/news")
		testkit.WaitUntil(t, "the subscription", func() bool { return o.Active() == 1 })
		o.Publish("/public/news", `"one"`)
		testkit.WaitUntil(t, "the first event", func() bool { return strings.Contains(out.String(), "one") })
		o.Stop()
		testkit.WaitUntil(t, "a refused reconnection", func() bool { return strings.Contains(errOut.String(), "connection refused") })
		o.Start()
		testkit.WaitUntil(t, "the resubscription", func() bool { return o.Active() == 1 })
		o.Publish("/public/news", `"two"`)
		select {
		case code := <-done:
			if code != 0 || !strings.Contains(out.String(), "two") {
				t.Errorf("exit %d, %q, %q", code, out.String(), errOut.String())
			}
		case <-ctx.Done():
			t.Fatalf("sub did not finish: %q", errOut.String())
		}
		for _, l := range strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n") {
			if !regexp.MustCompile(`^subpub sub: reconnecting in \S+ \(.+\)$`).MatchString(l) {
				t.Errorf("line %q", l)
			}
		}
	})
}

// TestPubFailures checks pub's exit statuses and lines.
func TestPubFailures(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	refused := testkit.ClosedPort(t)
	for _, tt := range []struct {
		name string
		args []string
		code int
		line string
	}{
		{"an untrusted certificate", []string{o.URL().String() + "/outbox"}, 60, `^subpub pub: certificate problem with 127\.0\.0\.1:\d+: x509: certificate signed by unknown authority;`},
		{"a refused connection", []string{"http://" + refused + "/outbox"}, 7, `^subpub pub: could not connect to ` + regexp.QuoteMeta(refused) + `: connection refused\n$`},
		{"a name that does not resolve", []string{"http://nowhere.invalid/outbox"}, 6, `^subpub pub: could not resolve host nowhere\.invalid: `},
		{"a refusal", []string{"--cacert", o.CA.CAFile, o.URL().String() + "/outbox"}, 22, `^subpub pub: https://127\.0\.0\.1:\d+/outbox: 404 Not Found: no such stream: https://127\.0\.0\.1:\d+/outbox\n$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLIWithStdin(t, `{"type":"Note"}`, append([]string{"pub"}, tt.args...)...)
			if code != tt.code || !regexp.MustCompile(tt.line).MatchString(errOut) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, %q; want %d, %s", code, errOut, tt.code, tt.line)
			}
		})
	}
}
