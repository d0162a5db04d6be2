package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/dashboard"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/cli"
)

// The demo's users and their tokens (development provisioning).
var demoUsers = [][2]string{{"alice", "alice-token"}, {"bob", "bob-token"}}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub demo", "[flags]", "  subpub demo          # then try the commands it prints, in another terminal\n  subpub demo --once   # run the scenario and exit\n", stdout, stderr)
	dataDir := fs.String("data", ".data/demo", "data `directory` (the database is reset at each start; certificates are kept)")
	originAddr := fs.String("origin", "localhost:8443", "origin TLS `address` (HTTP/1.1, HTTP/2, HTTP/3)")
	originPlain := fs.String("origin-plain", "localhost:8080", "origin cleartext `address`")
	edgeAddr := fs.String("edge", "localhost:9443", "edge TLS `address`")
	edgePlain := fs.String("edge-plain", "localhost:9080", "edge cleartext `address`")
	originMetrics := fs.String("origin-metrics", "localhost:9100", "origin metrics and dashboard `address` (empty: none)")
	edgeMetrics := fs.String("edge-metrics", "localhost:9101", "edge metrics and dashboard `address` (empty: none)")
	once := fs.Bool("once", false, "exit after the scenario instead of serving until interrupted")
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := os.RemoveAll(filepath.Join(*dataDir, "origin", "db")); err != nil {
		return err
	}

	// The origin.
	of := originFlags{serverFlags: demoServerFlags(*originAddr, *originPlain, filepath.Join(*dataDir, "origin"), *originMetrics)}
	for _, u := range demoUsers {
		of.users = append(of.users, struct{ name, token string }{u[0], u[1]})
	}
	fmt.Fprintln(stdout, "== starting the origin (ActivityPub, SUB and SSE over HTTP/1.1, HTTP/2 and HTTP/3)")
	o, err := of.build(ctx, stdout, quiet)
	if err != nil {
		return err
	}
	defer o.close()
	o.srv.Serve()

	// The edge in front of it.
	ef := edgeFlags{serverFlags: demoServerFlags(*edgeAddr, *edgePlain, filepath.Join(*dataDir, "edge"), *edgeMetrics)}
	*originAddr = boundAddr(*originAddr, o.srv.TLSAddr())
	ef.upstreams, ef.upCA = upstreamList{urls: stringList{"https://" + *originAddr}}, o.caFile
	ef.linger, ef.ringEvents, ef.ringBytes, ef.maxLag, ef.cacheBytes = 10*time.Second, 4096, 8<<20, 1<<20, 64<<20
	fmt.Fprintln(stdout, "\n== starting an edge in front of it (collapses identical subscriptions, fans out)")
	e, err := ef.build(ctx, stdout, quiet)
	if err != nil {
		return err
	}
	defer e.close()
	e.srv.Serve()
	*edgeAddr = boundAddr(*edgeAddr, e.srv.TLSAddr())
	*edgePlain = boundAddr(*edgePlain, e.srv.PlainListenAddr())
	stop := func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(shutdown)
		e.edge.Close() // its upstream subscriptions, before the origin goes
		o.srv.Shutdown(shutdown)
	}
	defer stop()

	// The metrics and the dashboards, which the scenario below moves.
	serving, stopServing := context.WithCancel(ctx)
	defer stopServing()
	dashboards := map[string]string{}
	for _, r := range []struct {
		role  string
		flags *serverFlags
		reg   *prometheus.Registry
	}{{"origin", &of.serverFlags, o.reg}, {"edge", &ef.serverFlags, e.reg}} {
		if r.flags.metricsAddr == "" {
			continue
		}
		ready := r.flags.ready // the edge's: its upstream answers
		if ready == nil {
			ready = func(context.Context) error { return nil }
		}
		addr, err := r.flags.serveMetrics(serving, r.role, r.reg, ready, io.Discard, quiet)
		if err != nil {
			return fmt.Errorf("%s %w", r.role, err)
		}
		dashboards[r.role] = "http://" + boundAddr(r.flags.metricsAddr, addr) + dashboard.Path + "?stream=/users/alice/outbox"
	}
	printDashboards := func() {
		for _, role := range []string{"edge", "origin"} {
			if u, ok := dashboards[role]; ok {
				fmt.Fprintf(stdout, "The %s's live dashboard: %s\n", role, u)
			}
		}
	}
	printDashboards()

	edgeURL := "https://" + *edgeAddr
	originURL := "https://" + *originAddr
	d := &demo{stdout: stdout, edgeCA: e.caFile, originCA: o.caFile}
	defer d.stopSubscribers()
	if err := d.run(ctx, originURL, edgeURL); err != nil {
		return err
	}
	d.say("\n== what the origin and the edge served")
	d.say("subscribers at the edge: %d; subscriptions it holds at the origin: %d (one per stream); the origin serves %d",
		e.streamer.Active(), e.edge.Upstreams(), o.streamer.Active())
	d.stopSubscribers()
	if *once {
		return nil
	}
	fmt.Fprintf(stdout, `
== the origin and the edge keep running; try, in another terminal:
  ./bin/subpub sub --cacert %[1]s https://%[3]s/users/alice/outbox
  ./bin/subpub sub --cacert %[1]s --http 3 --json https://%[3]s/users/alice/outbox
  ./bin/subpub sub --sse http://%[4]s/users/alice/outbox
  ./bin/subpub sub --cacert %[1]s -H 'Authorization: Bearer bob-token' https://%[3]s/users/bob/inbox
  echo '{"type":"Note","content":"hi","to":["https://www.w3.org/ns/activitystreams#Public"]}' | ./bin/subpub pub --cacert %[2]s --token alice-token %[5]s/users/alice/outbox
  curl -v --cacert %[1]s -X SUB https://%[3]s/users/alice/outbox   # -v: curl shows interim responses (106, 105) only in its verbose output
Press Ctrl-C to stop.
`, e.caFile, o.caFile, *edgeAddr, *edgePlain, originURL)
	printDashboards()
	<-ctx.Done()
	return nil
}

// demoServerFlags configure the demo's origin and edge alike but for where
// they listen and keep their data: no limit of subscriptions per client,
// for the demo's subscribers all come from one address.
func demoServerFlags(listen, listenPlain, dataDir, metricsAddr string) serverFlags {
	return serverFlags{
		listen:          listen,
		listenPlain:     listenPlain,
		dataDir:         dataDir,
		metricsAddr:     metricsAddr,
		keepAlive:       15 * time.Second,
		maxPerClient:    -1,
		maxQueuedTotal:  budget.DefaultLimit,
		shutdownTimeout: 5 * time.Second,
	}
}

// demo drives the scenario: subscribers on every protocol through the edge,
// then activities posted to the origin.
type demo struct {
	stdout           io.Writer
	edgeCA, originCA string

	mu      sync.Mutex // serializes output
	cancels []context.CancelFunc
	done    sync.WaitGroup
}

func (d *demo) run(ctx context.Context, originURL, edgeURL string) error {
	fmt.Fprintln(d.stdout, "\n== subscribers, all through the edge")
	outbox := edgeURL + "/users/alice/outbox"
	subs := []struct {
		label  string
		opts   client.Options
		url    string
		header string
	}{
		{"SUB  h2 alice/outbox", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2}, outbox, ""},
		{"SUB  h3 alice/outbox", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3}, outbox, ""},
		{"SUB  h1 alice/outbox", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11}, outbox, ""},
		{"SSE  h1 alice/outbox", client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11}, outbox, ""},
		{"SSE  h3 alice/outbox", client.Options{Mode: client.ModeSSE, HTTP: client.HTTP3}, outbox, ""},
		{"SUB  h2 bob/inbox   ", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2}, edgeURL + "/users/bob/inbox", "Bearer bob-token"},
	}
	opened := make(chan string, len(subs))
	for _, s := range subs {
		s.opts.CAFile = d.edgeCA
		if s.header != "" {
			s.opts.Header = map[string][]string{"Authorization": {s.header}}
		}
		if err := d.follow(ctx, s.label, s.url, s.opts, opened); err != nil {
			return err
		}
	}
	for range subs {
		select {
		case label := <-opened:
			d.say("%s: subscribed", label)
		case <-time.After(10 * time.Second):
			return errors.New("a subscriber did not connect within 10 s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	pub, err := client.New(client.Options{CAFile: d.originCA})
	if err != nil {
		return err
	}
	defer pub.Close()
	post := func(token, user, activity string) (string, error) {
		id, err := pub.Publish(ctx, originURL+"/users/"+user+"/outbox", token, []byte(activity))
		if err == nil {
			d.say("\n%s posts %s -> %s", user, summarizeJSON([]byte(activity)), id)
		}
		return id, err
	}
	const public = `"to":["https://www.w3.org/ns/activitystreams#Public"],"cc":["` + "%s" + `/users/alice/followers"]`
	follow, err := post("bob-token", "bob", fmt.Sprintf(`{"type":"Follow","object":"%s/users/alice","to":["%s/users/alice"]}`, originURL, originURL))
	if err != nil {
		return err
	}
	if _, err := post("alice-token", "alice", fmt.Sprintf(`{"type":"Accept","object":"%s","to":["%s/users/bob"]}`, follow, originURL)); err != nil {
		return err
	}
	for i, text := range []string{"Hello from the origin!", "One subscription upstream, many downstream.", "Caf\u00e9 \u2615: non-ASCII text arrives intact."} {
		time.Sleep(300 * time.Millisecond) // so that a person can follow the output
		note := fmt.Sprintf(`{"type":"Note","content":%q,`+public+`}`, text, originURL)
		if _, err := post("alice-token", "alice", note); err != nil {
			return fmt.Errorf("posting note %d: %w", i+1, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the last events arrive before the summary
	return nil
}

// follow subscribes in the background and prints each event.
func (d *demo) follow(ctx context.Context, label, url string, opts client.Options, opened chan<- string) error {
	c, err := client.New(opts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	d.cancels = append(d.cancels, cancel)
	d.done.Go(func() {
		defer c.Close()
		err := c.Run(ctx, &client.Subscription{
			URL:    url,
			OnOpen: func(client.Open) { opened <- label },
			OnEvent: func(e client.Event) {
				latency := ""
				if l, ok := e.Latency(); ok {
					latency = fmt.Sprintf(" (%v after publication)", l.Round(100*time.Microsecond))
				}
				d.say("  [%s] id=%s %s%s", label, e.ID, summarizeJSON(e.Data), latency)
			},
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			d.say("  [%s] ended: %v", label, err)
		}
	})
	return nil
}

func (d *demo) stopSubscribers() {
	for _, cancel := range d.cancels {
		cancel()
	}
	d.done.Wait()
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.stdout, format+"\n", args...)
}

// summarizeJSON describes an Activity Streams document in a few words:
// "Add Create{Note "Hello"}".
func summarizeJSON(data []byte) string {
	var doc map[string]any
	if json.Unmarshal(data, &doc) != nil {
		return strings.TrimSpace(string(data))
	}
	return summarize(doc, 0)
}

func summarize(doc map[string]any, depth int) string {
	t, _ := doc["type"].(string)
	if content, ok := doc["content"].(string); ok {
		return fmt.Sprintf("%s %q", t, content)
	}
	switch obj := doc["object"].(type) {
	case map[string]any:
		if depth < 3 {
			return t + "{" + summarize(obj, depth+1) + "}"
		}
	case string:
		return t + " " + obj
	}
	return t
}
