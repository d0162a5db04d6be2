package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/benchmarks/chaos"
	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestThreeOriginProcessesAndAnEdgeOnOnePostgres runs three origin
// processes on one PostgreSQL database and an edge in front of all three
// (--upstream three times), with 300 subscribers spread over the origins
// (SUB and SSE over HTTP/1.1) and the edge (SUB and SSE over HTTP/1.1,
// HTTP/2 and HTTP/3). Notes are posted through each origin in turn; then
// the origin the edge's upstream subscription is on is killed with SIGKILL
// while notes keep being posted through the others. Every subscriber
// receives every note once, in one order: the edge's without noticing (the
// edge resumes its upstream subscription on another origin from its last
// id), the surviving origins' directly, and the killed one's once they
// resume on another process from their last id.
func TestThreeOriginProcessesAndAnEdgeOnOnePostgres(t *testing.T) {
	store := testkit.Postgres(t)
	origins := make([]*launch.Process, 3)
	var upstreams []string
	for i := range origins {
		p := startProcess(t, "origin", launch.Options{},
			"--store", store, "--data", t.TempDir(), "--base-url", "https://social.example",
			"--listen", "", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--user", "alice:alice-token")
		origins[i] = p
		upstreams = append(upstreams, "--upstream", p.PlainURL(""))
	}
	edgeProc := startProcess(t, "edge", launch.Options{}, append(upstreams,
		"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0")...)

	reconnect := client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	direct := []*client.Client{
		testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11, Reconnect: reconnect}),
		testkit.NewClient(t, client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11, Reconnect: reconnect}),
	}
	const perOrigin, perWay = 60, 20 // 3 × 60 + 6 × 20 = 300
	var fs [3][]*testkit.Follower
	for i, o := range origins {
		for j := range perOrigin {
			f := testkit.Follow(t, direct[j%2], o.PlainURL("/users/alice/outbox"), "", nil)
			f.Name = fmt.Sprintf("subscriber %d of origin %d", j, i)
			fs[i] = append(fs[i], f)
		}
	}
	var viaEdge []*testkit.Follower
	for _, way := range testkit.EveryWay {
		opts := way.Options
		opts.CAFile, opts.Reconnect = edgeProc.CAFile, reconnect
		c := testkit.NewClient(t, opts)
		for j := range perWay {
			f := testkit.Follow(t, c, edgeProc.URL("/users/alice/outbox"), "", nil)
			f.Name = fmt.Sprintf("subscriber %d of the edge, %s", j, way.Name)
			viaEdge = append(viaEdge, f)
		}
	}
	everyone := append(slices.Concat(fs[:]...), viaEdge...)
	for _, f := range everyone {
		f.WaitOpen(t)
	}
	// The edge holds one upstream subscription, on one of the origins.
	serving := -1
	for i, o := range origins {
		n, err := o.Sum("subpub_origin_subscriptions_active")
		if err != nil {
			t.Fatal(err)
		}
		if n == perOrigin+1 {
			serving = i
		}
	}
	if serving < 0 {
		t.Fatal("no origin serves the edge's upstream subscription")
	}

	var mu sync.Mutex
	posted := 0
	post := func(o *launch.Process, n int) error {
		body := fmt.Sprintf(`{"type":"Note","content":"n%d","to":["https://www.w3.org/ns/activitystreams#Public"]}`, n)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, o.PlainURL("/users/alice/outbox"), bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer alice-token")
		req.Header.Set("Content-Type", "application/activity+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		mu.Lock()
		posted++
		mu.Unlock()
		return nil
	}
	for i := range 9 {
		if err := post(origins[i%3], i); err != nil {
			t.Fatalf("posting through origin %d: %v", i%3, err)
		}
	}
	want := fs[0][0].WaitCount(t, 9)
	if !increasing(want) {
		t.Fatalf("ids out of order: %v", want)
	}
	for _, f := range everyone {
		exactlyOnceInOrder(t, f.Name, want, f.WaitCount(t, 9))
	}

	// Notes keep coming through the two other origins while the one the
	// edge subscribes to is killed.
	survivors := slices.Delete([]*launch.Process{origins[0], origins[1], origins[2]}, serving, serving+1)
	done := make(chan error, 1)
	go func() {
		for i := range 40 {
			if err := post(survivors[i%2], 100+i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(20 * time.Millisecond)
	origins[serving].Kill()
	killed := time.Now()
	if err := testkit.Receive(t, done, "the posts"); err != nil {
		t.Fatal(err)
	}
	total := posted
	survivor := slices.Index(origins, survivors[0])
	want = fs[survivor][0].WaitCount(t, total)
	if !increasing(want) {
		t.Fatalf("ids out of order: %v", want)
	}
	for i := range fs {
		if i == serving {
			continue
		}
		for _, f := range fs[i] {
			exactlyOnceInOrder(t, f.Name, want, f.WaitCount(t, total))
		}
	}
	for _, f := range viaEdge {
		exactlyOnceInOrder(t, f.Name, want, f.WaitCount(t, total))
		if len(f.Retries) != 0 {
			t.Errorf("%s resubscribed (%v): the edge did not fail over on its own", f.Name, <-f.Retries)
		}
	}
	killedURL := origins[serving].PlainURL("")
	if health, err := edgeProc.Metrics("subpub_edge_upstream_healthy"); err != nil || health[`upstream="`+killedURL+`"`] != 0 {
		t.Errorf("the edge reports the killed upstream %s healthy: %v (%v)", killedURL, health, err)
	}
	// A figure, not a judgement: how much later than a survivor's own
	// subscriber the edge's received its first event after the kill.
	t.Logf("first event after the kill: %v after it directly from a survivor, %v through the edge",
		firstAfter(fs[survivor][0], killed), firstAfter(viaEdge[0], killed))
	// The killed origin's subscribers resume on a survivor from the last
	// id each received.
	for _, f := range fs[serving] {
		f.Cancel()
		had := f.IDs()
		r := testkit.Follow(t, direct[0], survivors[0].PlainURL("/users/alice/outbox"), had[len(had)-1], nil)
		r.Name = f.Name + ", resumed on another origin"
		exactlyOnceInOrder(t, r.Name, want, append(had, r.WaitCount(t, total-len(had))...))
		if r.Gaps() != 0 {
			t.Fatalf("%s was told of a gap", r.Name)
		}
	}

	// Negative control: the checker finds an event lost, one received
	// twice, and two swapped, in what an edge subscriber received.
	got := viaEdge[0].IDs()
	for _, tc := range []struct {
		defect string
		ids    []string
	}{
		{"lost", slices.Delete(slices.Clone(got), 10, 11)},
		{"duplicated", slices.Insert(slices.Clone(got), 10, got[10])},
		{"reordered", append(append(slices.Clone(got[:10]), got[11], got[10]), got[12:]...)},
	} {
		v := chaos.Check(seqs(t, want), received(t, tc.ids))
		if v.OK() || v.Lost+v.Duplicated+v.Reordered != 1 {
			t.Errorf("%s event: the checker says %+v", tc.defect, v)
		}
	}
}

// firstAfter is how long after t f received its first event.
func firstAfter(f *testkit.Follower, t time.Time) time.Duration {
	for _, e := range f.Events() {
		if e.Received.After(t) {
			return e.Received.Sub(t)
		}
	}
	return -1
}

// exactlyOnceInOrder checks that got holds every event of want once, in
// want's order, and nothing else (with the fault suite's checker).
func exactlyOnceInOrder(t *testing.T, who string, want, got []string) {
	t.Helper()
	if v := chaos.Check(seqs(t, want), received(t, got)); !v.OK() || v.Delivered != len(want) {
		t.Fatalf("%s: %s (%+v)", who, v.First, v)
	}
}

func seqs(t *testing.T, ids []string) []uint64 {
	t.Helper()
	out := make([]uint64, len(ids))
	for i, id := range ids {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			t.Fatalf("event id %q is not a sequence number", id)
		}
		out[i] = n
	}
	return out
}

func received(t *testing.T, ids []string) []chaos.Received {
	t.Helper()
	out := make([]chaos.Received, len(ids))
	for i, n := range seqs(t, ids) {
		out[i] = chaos.Received{ID: n}
	}
	return out
}

// increasing tells whether decimal ids increase strictly.
func increasing(ids []string) bool {
	prev := uint64(0)
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || n <= prev {
			return false
		}
		prev = n
	}
	return true
}
