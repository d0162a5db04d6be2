package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/benchmarks/procstat"
	"github.com/subpub/subpub/benchmarks/stats"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// Bounds of BenchmarkClusterProcesses, upper bounds for "it never
// happened" only.
const (
	// clusterBenchSetup bounds how long the subscriptions may take to be
	// established.
	clusterBenchSetup = 2 * time.Minute
	// clusterBenchDrain bounds how long the last deliveries may take after
	// the last note is accepted.
	clusterBenchDrain = 2 * time.Minute
)

// BenchmarkClusterProcesses is BenchmarkClusterPublish (in
// origin/activitypub) with every origin its own process, as deployed:
// origin processes on SQLite (one) or on one PostgreSQL database (one and
// three), no subscribers or 1,000 SSE subscribers over HTTP/1.1 spread
// evenly over them (the load generator's lean readers, in this process),
// and one publisher per process posting notes through it one after the
// other as fast as they are accepted, b.N notes in all. It reports
// publications per second, the p99 of publish-to-delivery (from the
// event's publish time t, in milliseconds, to within the millisecond t is
// given in), and the CPU time per delivery (per publication without
// subscribers) of every process: each origin (origin-N), the PostgreSQL
// server (its postmaster and every backend and worker under it), and this
// process, the load generator (loadgen: the publishers and the readers).
// The split says where a publication's cost goes: the database, the
// origins (NOTIFY's listener and the fan-out to the subscribers), or
// reading the streams. Without subscribers the limit is the store's.
// Processes are read from /proc at the start and the end: a PostgreSQL
// backend that exits in between (the pools keep theirs open) would take
// its CPU time with it.
//
//	go test -run '^$' -bench ClusterProcesses -benchtime 300x ./cmd/subpub
func BenchmarkClusterProcesses(b *testing.B) {
	testkit.RunClusterMatrix(b, func(b *testing.B, p testkit.ClusterPoint, subscribers int) {
		benchClusterProcesses(b, p.Servers, p.Postgres, subscribers)
	})
}

// benchClusterProcesses is one case of BenchmarkClusterProcesses.
func benchClusterProcesses(b *testing.B, processes int, postgres bool, subscribers int) {
	const token = "alice-token"
	var db testkit.PostgresServer
	if postgres {
		db = testkit.StartPostgres(b)
	}
	origins := make([]*launch.Process, processes)
	for i := range origins {
		args := []string{"--data", b.TempDir(), "--base-url", "https://social.example",
			"--listen", "", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
			"--max-per-client", "-1", "--log-level", "warn", "--user", "alice:" + token}
		if postgres {
			args = append(args, "--store", db.URL)
		}
		origins[i] = startProcess(b, "origin", launch.Options{}, args...)
	}
	var subs []*load.Subscribers
	for i, o := range origins {
		n := share(subscribers, processes, i)
		if n == 0 {
			continue
		}
		s, err := load.Subscribe(b.Context(), load.Target{Reader: load.ReaderLean, Addr: o.PlainAddr, Path: "/users/alice/outbox"}, n, clusterBenchSetup)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Stop)
		subs = append(subs, s)
	}
	publisher, err := client.New(client.Options{HTTP: client.HTTP11})
	if err != nil {
		b.Fatal(err)
	}
	defer publisher.Close()

	// Every event published from now on counts.
	start := time.Now()
	window := load.Window{StartMS: start.UnixMilli(), EndMS: start.Add(24 * time.Hour).UnixMilli()}
	for _, s := range subs {
		s.SetWindow(window)
	}
	cpu0 := clusterCPU(origins, db)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, o := range origins {
		wg.Go(func() {
			for j := range share(b.N, processes, i) {
				body := fmt.Appendf(nil, `{"type":"Note","content":"n%d-%d","to":["https://www.w3.org/ns/activitystreams#Public"]}`, i, j)
				if _, err := publisher.Publish(b.Context(), o.PlainURL("/users/alice/outbox"), token, body); err != nil {
					b.Errorf("posting through origin %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	accepted := time.Since(start)
	want := int64(b.N) * int64(subscribers)
	delivered := func() int64 {
		var n int64
		for _, s := range subs {
			n += s.Delivered()
		}
		return n
	}
	ctx, cancel := context.WithTimeout(b.Context(), clusterBenchDrain)
	defer cancel()
	for delivered() < want && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cpu := clusterCPU(origins, db)
	if got := delivered(); got != want {
		b.Fatalf("%d of %d deliveries within %v of the last note", got, want, clusterBenchDrain)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "pub/s")
	per, unit := want, "delivery"
	if subscribers == 0 {
		per, unit = int64(b.N), "pub"
	} else {
		var lat stats.Latency
		for _, s := range subs {
			lat = lat.Merge(s.Latency())
		}
		b.ReportMetric(lat.Quantile(0.99), "p99-ms")
	}
	cpuPer := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(per) }
	for i := range origins {
		b.ReportMetric(cpuPer(cpu.origins[i]-cpu0.origins[i]), fmt.Sprintf("origin-%d-cpu-µs/%s", i+1, unit))
	}
	if postgres {
		b.ReportMetric(cpuPer(cpu.postgres-cpu0.postgres), "postgres-cpu-µs/"+unit)
	}
	b.ReportMetric(cpuPer(cpu.loadgen-cpu0.loadgen), "loadgen-cpu-µs/"+unit)
}

// share is the i-th of parts shares of n, as even as they can be.
func share(n, parts, i int) int {
	s := n / parts
	if i < n%parts {
		s++
	}
	return s
}

// clusterCPUTime is the CPU time each process of a cluster has used.
type clusterCPUTime struct {
	origins           []time.Duration
	postgres, loadgen time.Duration
}

// clusterCPU reads the CPU time of the origins, of the PostgreSQL server's
// process tree (none if db.PID is 0) and of this process.
func clusterCPU(origins []*launch.Process, db testkit.PostgresServer) clusterCPUTime {
	var c clusterCPUTime
	for _, o := range origins {
		c.origins = append(c.origins, procstat.Read(o.Cmd.Process.Pid).CPU)
	}
	if db.PID != 0 {
		c.postgres = procstat.Read(db.PID).CPU
	}
	c.loadgen = procstat.SelfCPU()
	return c
}
