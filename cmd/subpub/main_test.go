package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// runCLI runs the command line in-process and returns its exit code and
// output.
func runCLI(ctx context.Context, _ string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// startProcess starts role in a child process with args and stops it when
// the test ends.
func startProcess(t testing.TB, role string, opts launch.Options, args ...string) *launch.Process {
	t.Helper()
	p, err := launch.Start(t.Context(), role, opts, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// startEdge starts an edge in front of origin o, with args besides the
// upstream's, and stops it when the test ends.
func startEdge(t testing.TB, o *launch.Process, opts launch.Options, args ...string) *launch.Process {
	t.Helper()
	return startProcess(t, "edge", opts, append(args, "--upstream", o.URL(""), "--upstream-cacert", o.CAFile)...)
}

// startOrigin starts an origin with the users alice and bob.
func startOrigin(t *testing.T) *launch.Process {
	t.Helper()
	return startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--user", "alice:alice-token", "--user", "bob:bob-token")
}

func TestSubAndPub(t *testing.T) {
	o := startOrigin(t)
	outbox := o.URL("/users/alice/outbox")

	t.Run("sub prints --count events as JSON lines and exits 0", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		result := make(chan [3]string, 1)
		go func() {
			code, out, errOut := runCLI(ctx, "", "sub", "--cacert", o.CAFile, "--http", "3", "--count", "3", "--json", "-v", outbox)
			result <- [3]string{fmt.Sprint(code), out, errOut}
		}()
		// Publish until the subscriber has what it asked for: it may
		// subscribe after the first notes.
		var got [3]string
	publishing:
		for i := 0; ; i++ {
			code, id, errOut := runCLIWithStdin(t, fmt.Sprintf(`{"type":"Note","content":"n%d","to":["https://www.w3.org/ns/activitystreams#Public"]}`, i),
				"pub", "--cacert", o.CAFile, "--token", "alice-token", outbox, "-")
			if code != 0 || !strings.HasPrefix(id, o.BaseURL) {
				t.Fatalf("pub exited %d: %q %s", code, id, errOut)
			}
			select {
			case got = <-result:
				break publishing
			case <-time.After(100 * time.Millisecond):
			}
		}
		if got[0] != "0" {
			t.Fatalf("sub exited %s: %s", got[0], got[2])
		}
		lines := strings.Split(strings.TrimSpace(got[1]), "\n")
		if len(lines) != 3 {
			t.Fatalf("printed %d lines: %q", len(lines), got[1])
		}
		var ev struct {
			ID        string   `json:"id"`
			Type      string   `json:"type"`
			Data      string   `json:"data"`
			LatencyMS *float64 `json:"latency_ms"`
			Proto     string   `json:"proto"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Type != "Add" || ev.LatencyMS == nil || ev.Proto != "h3" || !json.Valid([]byte(ev.Data)) || ev.ID == "" {
			t.Errorf("line %q: %+v %v", lines[0], ev, err)
		}
		// -v shows the exchange as curl -v does.
		for _, want := range []string{"> SUB /users/alice/outbox HTTP/3\n> host: ", "\n> user-agent: subpub\n>\n", "\n< HTTP/3 106\n", "\n< HTTP/3 105\n< event: id=", "\n< event-data: "} {
			if !strings.Contains("\n"+got[2], want) {
				t.Errorf("-v does not show %q:\n%s", want, got[2])
			}
		}
	})
	t.Run("sub gives up after --timeout with a one-line reason", func(t *testing.T) {
		code, _, errOut := runCLI(t.Context(), "", "sub", "--sse", "--timeout", "300ms", o.PlainURL("/users/alice/outbox"))
		if code != 28 || !strings.Contains(errOut, "timed out after 300ms with 0 events") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("sub -v shows the final response of a refusal", func(t *testing.T) {
		code, _, errOut := runCLI(t.Context(), "", "sub", "-v", "--http", "1.1", "--cacert", o.CAFile, o.URL("/users/nobody/outbox"))
		if code != 22 || !strings.HasPrefix(errOut, "> SUB /users/nobody/outbox HTTP/1.1\n> Host: ") || !strings.Contains(errOut, "\n< HTTP/1.1 404\n") || !strings.Contains(errOut, "\n< Content-Type: application/problem+json\n") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("sub reports a refusal with its status and detail", func(t *testing.T) {
		code, _, errOut := runCLI(t.Context(), "", "sub", "-k", o.URL("/users/alice/inbox"))
		if code != 22 || !strings.Contains(errOut, "401 Unauthorized") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("pub reports a refused activity", func(t *testing.T) {
		code, _, errOut := runCLIWithStdin(t, `{"type":"Like"}`, "pub", "-k", "--token", "alice-token", outbox)
		if code != 22 || !strings.Contains(errOut, "400 Bad Request") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("pub names the refusal once, without the library's name", func(t *testing.T) {
		code, _, errOut := runCLIWithStdin(t, `{"type":"Note"}`, "pub", "-k", "--token", "alice-token", o.URL("/users/alice/followers"))
		if code != 22 || strings.Contains(errOut, "client:") || strings.Count(errOut, "GET, HEAD, SUB") != 1 || !strings.Contains(errOut, "405 Method Not Allowed") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("bench without subpub-bench beside it says how to build it", func(t *testing.T) {
		code, _, errOut := runCLI(t.Context(), "", "bench", "--help")
		if code != 1 || !strings.Contains(errOut, "subpub-bench is not there: build it with `make build`") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
}

// runCLIWithStdin runs pub with stdin from a string: the command reads
// os.Stdin, so it runs as a child process.
func runCLIWithStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	bin, err := launch.Binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return code, strings.TrimSpace(stdout.String()), stderr.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Run("stray arguments, bad flags and bad values, on every command", func(t *testing.T) {
		for _, args := range [][]string{
			{"origin", "extra-argument"}, {"edge", "extra-argument"}, {"demo", "extra-argument"}, {"version", "extra-argument"},
			{"sub", "https://x/", "extra-argument"}, {"pub", "https://x/outbox", "file", "extra-argument"},
			{"origin", "--nope"}, {"edge", "--nope"}, {"demo", "--nope"}, {"sub", "--nope", "https://x/"}, {"pub", "--nope", "https://x/"}, {"version", "--nope"},
			{"sub"}, {"pub"},
			{"sub", "--http", "4", "https://x/"}, {"sub", "--sse", "--sub", "https://x/"}, {"sub", "--count", "many", "https://x/"},
			{"origin", "--user", "alice"}, {"origin", "--log-level", "loud"}, {"origin", "--log-format", "xml"}, {"edge", "--keepalive", "soon"},
			{"edge", "--cache-control-field", "not a name"},
		} {
			code, out, errOut := runCLI(t.Context(), "", args...)
			if code != 2 || out != "" || strings.Count(errOut, "\n") != 2 || !strings.Contains(errOut, "Run 'subpub "+args[0]+" --help' for its flags and examples.") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
	})
	t.Run("an unknown command", func(t *testing.T) {
		code, _, errOut := runCLI(t.Context(), "", "nonsense")
		if code != 2 || !strings.Contains(errOut, `unknown command "nonsense"`) {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("pub's help does not show $SUBPUB_TOKEN's value", func(t *testing.T) {
		t.Setenv("SUBPUB_TOKEN", "secret-token")
		code, _, errOut := runCLI(t.Context(), "", "pub", "--help")
		if code != 0 || strings.Contains(errOut, "secret-token") || !strings.Contains(errOut, "(or $SUBPUB_TOKEN, or --token-file)") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("help shows the flags in the --flag style and examples", func(t *testing.T) {
		for _, cmd := range []string{"origin", "edge", "sub", "pub", "demo"} {
			code, _, errOut := runCLI(t.Context(), "", cmd, "--help")
			if code != 0 || !strings.Contains(errOut, "examples:") || !strings.Contains(errOut, "\n  --version\n") || strings.Contains(errOut, "\n  -version") {
				t.Errorf("%s --help: exit %d, %q", cmd, code, errOut)
			}
		}
	})
}

func TestAServerThatCannotListenSaysWhichAndWhere(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"origin", "--listen", addr, "--data", t.TempDir()}, "subpub origin: the origin cannot listen on tcp " + addr + ": address already in use\n"},
		{[]string{"edge", "--listen", "", "--listen-plain", addr, "--data", t.TempDir()}, "subpub edge: the edge cannot listen on tcp " + addr + ": address already in use\n"},
		{[]string{"demo", "--once", "--data", t.TempDir(), "--origin", "127.0.0.1:0", "--origin-plain", "127.0.0.1:0", "--edge", addr, "--origin-metrics", "", "--edge-metrics", ""}, "subpub demo: the edge cannot listen on tcp " + addr + ": address already in use\n"},
	} {
		code, _, errOut := runCLI(t.Context(), "", tt.args...)
		if code != 1 || errOut != tt.want {
			t.Errorf("%q: exit %d, %q, want %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestSubPrintsTheIDEachEventCarries checks --json and the line format
// against a scripted event stream: an event without an id field carries
// the stream's last event ID; the payload is always data, a string.
func TestSubPrintsTheIDEachEventCarries(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 5\ndata: {\"n\":1}\n\ndata: plain text\n\nid: 6\x00\ndata: after a NUL id\n\nid: 7\n\ndata: after an id-only block\n\n")
	}))
	defer ts.Close()
	code, out, errOut := runCLI(t.Context(), "", "sub", "--sse", "--json", "--count", "4", ts.URL+"/s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []string
	for line := range strings.Lines(out) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if _, hasText := ev["text"]; hasText {
			t.Errorf("%q names the payload text", line)
		}
		got = append(got, fmt.Sprintf("%v %v", ev["id"], ev["data"]))
	}
	want := []string{`5 {"n":1}`, "5 plain text", "5 after a NUL id", "7 after an id-only block"}
	if !slices.Equal(got, want) {
		t.Errorf("printed %q, want %q", got, want)
	}
	code, out, errOut = runCLI(t.Context(), "", "sub", "--sse", "--count", "2", ts.URL+"/s")
	if code != 0 || strings.Count(out, " id=5 ") != 2 {
		t.Errorf("exit %d: %q %s", code, out, errOut)
	}
}

// A server that answers SUB with a 106 that does not acknowledge it (no
// Enable-SUB: a proxy that does not implement SUB) and then nothing: sub
// says on stderr that it falls back to SSE, and prints the SSE events.
// With --sub it does not fall back (the control).
func TestSubSaysItFallsBackToSSE(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "SUB" {
			w.WriteHeader(106)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1\ndata: over SSE\n\n")
	}))
	defer ts.Close()
	code, out, errOut := runCLI(t.Context(), "", "sub", "--acknowledge-timeout", "200ms", "--count", "1", ts.URL+"/s")
	if code != 0 || !strings.Contains(out, "over SSE") || !strings.Contains(errOut, "subpub sub: falling back to SSE (the next hop did not acknowledge SUB") {
		t.Errorf("exit %d: stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t.Context(), "", "sub", "--sub", "--acknowledge-timeout", "200ms", "--timeout", "1s", ts.URL+"/s")
	if code != 28 || strings.Contains(errOut, "falling back") || out != "" {
		t.Errorf("--sub: exit %d: stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	var want string
	for _, args := range [][]string{{"--version"}, {"version"}, {"sub", "--version"}, {"pub", "--version"}, {"origin", "--version"}, {"edge", "--version"}, {"demo", "--version"}, {"sub", "https://x/", "--version"}} {
		code, out, errOut := runCLI(t.Context(), "", args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "subpub ") || !strings.Contains(out, " "+runtime.Version()+" ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if want == "" {
			want = out
		} else if out != want {
			t.Errorf("%q printed %q, --version %q", args, out, want)
		}
	}
}

func TestDemoRunsTheScenario(t *testing.T) {
	code, out, errOut := runCLI(t.Context(), "", "demo", "--once", "--data", t.TempDir(),
		"--origin", "localhost:0", "--origin-plain", "localhost:0", "--edge", "localhost:0", "--edge-plain", "localhost:0",
		"--origin-metrics", "localhost:0", "--edge-metrics", "localhost:0")
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", code, out, errOut)
	}
	// Six subscribers through the edge each saw the three notes; bob's
	// inbox saw the Accept too; the origin served one subscription per
	// stream.
	if n := strings.Count(out, `Add{Create{Note "Hello from the origin!"}}`); n != 6 {
		t.Errorf("the first note reached %d subscribers, want 6:\n%s", n, out)
	}
	if !strings.Contains(out, "subscriptions it holds at the origin: 2") {
		t.Errorf("summary:\n%s", out)
	}
	for _, role := range []string{"edge", "origin"} {
		if !strings.Contains(out, "The "+role+"'s live dashboard: http://localhost:") {
			t.Errorf("no URL of the %s's dashboard:\n%s", role, out)
		}
	}
}
