// Command slowpeers measures what clients that stop reading cost an edge,
// with the budget of bytes queued for slow peers (--max-queued-total) and
// without it, side by side in one run: one origin, two edges in front of it
// that differ only in that flag, and on each the same load: healthy HTTP/2
// subscribers that read everything, and HTTP/2 connections whose SUB
// streams are never read. It prints each edge's memory (RSS, sampled each
// second, and its peak), its queued_bytes gauge and cuts, the events the
// healthy subscribers received, and the CPU per delivery of every process,
// load generator included, with the load average.
//
//	go run ./benchmarks/slowpeers -stalled-conns 100 -duration 40s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/procstat"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
)

func main() {
	var (
		stalledConns   = flag.Int("stalled-conns", 100, "HTTP/2 connections per edge that never read")
		stalledStreams = flag.Int("stalled-streams", 20, "SUB streams on each of them")
		healthyConns   = flag.Int("healthy-conns", 10, "HTTP/2 connections per edge that read everything")
		healthyStreams = flag.Int("healthy-streams", 100, "SUB streams on each of them")
		rate           = flag.Int("rate", 20, "events published per second")
		size           = flag.Int("size", 6000, "bytes of each note's content")
		duration       = flag.Duration("duration", 40*time.Second, "how long to publish once every subscriber is open")
		budget         = flag.String("budget", "268435456", "--max-queued-total of the edge with a budget")
		sse            = flag.Bool("stalled-sse", false, "the stalled streams ask for SSE (GET), with flow-control windows of 1 GiB, so that the edge queues DATA for them, copied per stream, up to its connection's bound")
		warmup         = flag.Int("warmup", 8, "seconds of publishing before the stalled connections open, resuming from the first event of the run (in the edge's ring): each of their streams catches up that backlog, written by its own loop")
	)
	flag.Parse()
	stalledSSE = *sse
	if err := run(*stalledConns, *stalledStreams, *healthyConns, *healthyStreams, *rate, *size, *duration, *budget, *warmup); err != nil {
		log.Fatal(err)
	}
}

// stalledSSE: the stalled streams are SSE with huge windows (-stalled-sse).
var stalledSSE bool

// edgeRun is one edge under load and what was seen of it.
type edgeRun struct {
	name     string
	p        *launch.Process
	received atomic.Int64 // 105s read by the healthy subscribers
	firstID  atomic.Value // string: the id of the first event a healthy one read
	peakRSS  int64        // KiB, of the samples
	peakQ    float64
	cpu0     time.Duration
}

func run(stalledConns, stalledStreams, healthyConns, healthyStreams, rate, size int, duration time.Duration, budget string, warmup int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "slowpeers")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	origin, err := launch.Start(ctx, "origin", launch.Options{}, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0",
		"--data", dir+"/origin", "--user", "alice:alice-token", "--max-per-client", "-1", "--metrics", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer origin.Stop()
	edges := []*edgeRun{{name: "budget " + budget}, {name: "no budget (0)"}}
	for i, e := range edges {
		limit := budget
		if i == 1 {
			limit = "0"
		}
		e.p, err = launch.Start(ctx, "edge", launch.Options{}, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0",
			"--data", fmt.Sprintf("%s/edge%d", dir, i), "--upstream", origin.URL(""), "--upstream-cacert", origin.CAFile,
			"--max-per-client", "-1", "--metrics", "127.0.0.1:0", "--max-queued-total", limit)
		if err != nil {
			return err
		}
		defer e.p.Stop()
	}
	const path = "/users/alice/outbox"
	var wg sync.WaitGroup
	for _, e := range edges {
		for range healthyConns {
			wg.Go(func() { follow(ctx, e.p.PlainAddr, path, healthyStreams, e) })
		}
	}
	time.Sleep(2 * time.Second) // the healthy ones open first: the edges' upstreams are theirs
	openStalled := func() {
		for _, e := range edges {
			for range stalledConns {
				from, _ := e.firstID.Load().(string)
				if err := stall(ctx, e.p.PlainAddr, path, from, stalledStreams); err != nil {
					log.Print(err)
				}
			}
		}
	}

	pub, err := client.New(client.Options{CAFile: origin.CAFile, HTTP: client.HTTP11})
	if err != nil {
		return err
	}
	defer pub.Close()
	content := strings.Repeat("x", size)
	load0 := procstat.LoadAverage()
	self0 := procstat.SelfCPU()
	origin0 := procstat.Read(origin.Cmd.Process.Pid).CPU
	for _, e := range edges {
		e.cpu0 = procstat.Read(e.p.Cmd.Process.Pid).CPU
		e.received.Store(0)
	}
	published := publish(ctx, pub, origin.URL(path), content, rate, duration, func(sec int) {
		if sec == warmup {
			go openStalled()
		}
		line := fmt.Sprintf("t=%2ds", sec)
		for _, e := range edges {
			u := procstat.Read(e.p.Cmd.Process.Pid)
			q, _ := e.p.Sum("subpub_edge_queued_bytes")
			e.peakRSS, e.peakQ = max(e.peakRSS, u.RSSKB), max(e.peakQ, q)
			line += fmt.Sprintf("  [%s] rss %4d MiB queued %6.1f MiB", e.name, u.RSSKB>>10, q/(1<<20))
		}
		fmt.Println(line)
	})
	time.Sleep(2 * time.Second) // the last events reach the healthy
	selfCPU := procstat.SelfCPU() - self0
	originCPU := procstat.Read(origin.Cmd.Process.Pid).CPU - origin0
	load1 := procstat.LoadAverage()

	healthyTotal := int64(0)
	kind := "SUB"
	if stalledSSE {
		kind = "SSE, 1 GiB windows,"
	}
	fmt.Printf("\npublished %d events (asked %d/s, %d B notes) in %v; per edge %d healthy SUB subscribers (%d conns), and from t=%ds %d stalled %s (%d conns) resuming from the first event\n",
		published, rate, size, duration, healthyConns*healthyStreams, healthyConns, warmup, stalledConns*stalledStreams, kind, stalledConns)
	for _, e := range edges {
		u := procstat.Read(e.p.Cmd.Process.Pid)
		cpu := u.CPU - e.cpu0
		cuts, _ := e.p.Sum("subpub_edge_queued_budget_cuts_total")
		closed, _ := e.p.Metrics("subpub_edge_subscriptions_closed_total")
		delivered, _ := e.p.Sum("subpub_edge_events_delivered_total")
		byBudget, stalled := 0.0, 0.0
		for labels, v := range closed {
			if strings.Contains(labels, `reason="budget"`) {
				byBudget += v
			}
			if strings.Contains(labels, `reason="stalled"`) {
				stalled += v
			}
		}
		got := e.received.Load()
		healthyTotal += got
		want := published * int64(healthyConns*healthyStreams)
		fmt.Printf("edge [%s]: peak RSS %d MiB (VmHWM %d MiB), peak queued_bytes %.1f MiB, cuts %.0f, closed budget %.0f stalled %.0f\n",
			e.name, e.peakRSS>>10, u.PeakKB>>10, e.peakQ/(1<<20), cuts, byBudget, stalled)
		fmt.Printf("  healthy deliveries %d of %d; CPU %.2f s = %.2f µs per healthy delivery (%.2f µs per delivery the edge counted, %.0f)\n",
			got, want, cpu.Seconds(), perDelivery(cpu, got), perDelivery(cpu, int64(delivered)), delivered)
	}
	fmt.Printf("origin CPU %.2f s; load generator (readers, stalled, publisher) CPU %.2f s = %.2f µs per healthy delivery\n",
		originCPU.Seconds(), selfCPU.Seconds(), perDelivery(selfCPU, healthyTotal))
	fmt.Printf("load average: %s at the start, %s at the end\n", load0, load1)
	cancel()
	wg.Wait()
	return nil
}

// eventID is the id member of a PUB's Event field.
func eventID(f *http2.MetaHeadersFrame) string {
	for _, hf := range f.RegularFields() {
		if hf.Name != "event" {
			continue
		}
		if m := idMember.FindStringSubmatch(hf.Value); m != nil {
			return m[1]
		}
	}
	return ""
}

var idMember = regexp.MustCompile(`(?:^|[;,\s])id="([^"]*)"`)

func perDelivery(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

// publish posts notes at rate for d, calling tick each second, and returns
// how many were accepted.
func publish(ctx context.Context, c *client.Client, outbox, content string, rate int, d time.Duration, tick func(sec int)) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	start := time.Now()
	next := 1
	for i := 0; time.Since(start) < d; i++ {
		<-t.C
		wg.Go(func() {
			note := fmt.Appendf(nil, `{"type":"Note","content":"%d %s","to":["https://www.w3.org/ns/activitystreams#Public"]}`, i, content)
			if _, err := c.Publish(ctx, outbox, "alice-token", note); err == nil {
				n.Add(1)
			}
		})
		if time.Since(start) >= time.Duration(next)*time.Second {
			tick(next)
			next++
		}
	}
	wg.Wait()
	return n.Load()
}

// dialH2 opens an h2c connection (prior knowledge) and opens streams SUB
// streams of path on it, from after lastID if it is not empty: SUB, or
// with sse GET for text/event-stream with windows that never run out.
func dialH2(addr, path, lastID string, streams int, sse bool) (net.Conn, *http2.Framer, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	fr := http2.NewFramer(conn, conn)
	io.WriteString(conn, http2.ClientPreface)
	method := "SUB"
	if sse {
		method = "GET"
		fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 64 << 10}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		fr.WriteWindowUpdate(0, 1<<30)
	} else {
		fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 64 << 10})
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := range streams {
		block.Reset()
		for _, f := range [][2]string{{":method", method}, {":scheme", "http"}, {":authority", "edge"}, {":path", path}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if sse {
			enc.WriteField(hpack.HeaderField{Name: "accept", Value: "text/event-stream"})
		}
		if lastID != "" {
			enc.WriteField(hpack.HeaderField{Name: "last-event-id", Value: lastID})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, fr, nil
}

// stall opens streams that are never read, on a connection with a small
// receive buffer, resuming from after event from (which the edge's ring
// still holds); it is closed when ctx is done.
func stall(ctx context.Context, addr, path, from string, streams int) error {
	conn, _, err := dialH2(addr, path, from, streams, stalledSSE)
	if err != nil {
		return err
	}
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	context.AfterFunc(ctx, func() { conn.Close() })
	return nil
}

// follow reads every frame of streams SUB streams on one connection and
// counts the 105s, until ctx is done.
func follow(ctx context.Context, addr, path string, streams int, e *edgeRun) {
	conn, fr, err := dialH2(addr, path, "", streams, false)
	if err != nil {
		log.Print(err)
		return
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	fr.ReadMetaHeaders = hpack.NewDecoder(64<<10, nil)
	fr.MaxHeaderListSize = 1 << 20
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Printf("a healthy reader: %v", err)
			}
			return
		}
		load.AckControl(fr, f) // a failed write ends the connection, which is seen next
		if f, ok := f.(*http2.MetaHeadersFrame); ok && f.PseudoValue("status") == strconv.Itoa(105) {
			if e.received.Add(1) == 1 {
				e.firstID.Store(eventID(f))
			}
		}
	}
}
