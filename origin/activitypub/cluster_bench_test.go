package activitypub

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/stream"
)

// BenchmarkClusterPublish posts notes to alice's outbox, one publisher per
// server posting through it at once, with benchSubscribers SSE subscribers
// over HTTP/1.1 spread over the servers, on SQLite (one server) and on one
// PostgreSQL database (one and three servers, each with its own pool and
// listener, in this process). It reports publications per second, the p99
// of publish-to-delivery (from the event's commit time t, in
// milliseconds), and this process's CPU time per delivery (the
// PostgreSQL server's is not counted).
//
//	go test -run '^$' -bench ClusterPublish -benchtime 300x ./origin/activitypub
func BenchmarkClusterPublish(b *testing.B) {
	testkit.RunClusterMatrix(b, func(b *testing.B, p testkit.ClusterPoint, subscribers int) {
		benchClusterPublish(b, p.Servers, p.Postgres, subscribers)
	})
}

// benchClusterPublish is one point of BenchmarkClusterPublish.
func benchClusterPublish(b *testing.B, servers int, shared bool, subscribers int) {
	location := b.TempDir()
	if shared {
		location = testkit.Postgres(b)
	}
	urls := make([]string, servers)
	for i := range urls {
		urls[i] = benchServer(b, location)
	}
	c := testkit.NewClient(b, client.Options{})
	fs := make([]*testkit.Follower, subscribers)
	for i := range fs {
		fs[i] = testkit.Follow(b, c, urls[i%len(urls)]+"/users/alice/outbox", "", nil)
	}
	for _, f := range fs {
		f.WaitOpen(b)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range urls {
		n := b.N / len(urls)
		if i < b.N%len(urls) {
			n++
		}
		wg.Go(func() {
			for j := 0; j < n; j++ {
				benchPost(b, u, j)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var lat []time.Duration
	for _, f := range fs {
		f.WaitCountWithin(b, b.N, time.Minute)
		for _, e := range f.Events() {
			if d, ok := e.Latency(); ok {
				lat = append(lat, d)
			}
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pub/s")
	b.ReportMetric(0, "ns/op")
	if subscribers > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*subscribers), "cpu-µs/delivery")
	}
}

// benchServer serves a Server on location (a directory or a postgres://
// URL) over HTTP/1.1 and returns its URL.
func benchServer(b *testing.B, location string) string {
	var store *Store
	var err error
	if IsPostgresURL(location) {
		store, err = OpenPostgres(b.Context(), location)
	} else {
		store, err = OpenStore(location)
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := store.EnsureUser(b.Context(), "alice", tokenOf("alice")); err != nil {
		b.Fatal(err)
	}
	streamer := &stream.Streamer{MaxPerClient: -1}
	srv := &Server{BaseURL: testBase, Store: store, Hub: &origin.Hub{Log: store}, Streamer: streamer}
	ts := httptest.NewServer(srv)
	b.Cleanup(func() {
		streamer.Shutdown(b.Context())
		ts.Close()
		store.Close()
	})
	return ts.URL
}

func benchPost(b *testing.B, base string, n int) {
	body := fmt.Sprintf(`{"type":"Note","content":"n%d","to":["%s"]}`, n, publicCollection)
	req, _ := http.NewRequest(http.MethodPost, base+"/users/alice/outbox", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+tokenOf("alice"))
	req.Header.Set("Content-Type", contentTypeActivity)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Errorf("posting: status %d", resp.StatusCode)
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
