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

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestThreeOriginProcessesOnOnePostgres runs three origin processes on one
// PostgreSQL database with 300 subscribers spread over them, posts through
// each in turn, then kills one with SIGKILL while notes keep being posted
// through the others: every surviving subscriber receives every note once,
// in one order, and the killed one's subscribers resume on another process
// from their last id, missing and repeating nothing.
func TestThreeOriginProcessesOnOnePostgres(t *testing.T) {
	store := testkit.Postgres(t)
	origins := make([]*launch.Process, 3)
	for i := range origins {
		p, err := launch.Start(t.Context(), "origin", launch.Options{},
			"--store", store, "--data", t.TempDir(), "--base-url", "https://social.example",
			"--listen", "", "--listen-plain", "127.0.0.1:0", "--user", "alice:alice-token")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop() })
		origins[i] = p
	}
	c := testkit.NewClient(t, client.Options{Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	const perOrigin = 100
	var fs [3][]*testkit.Follower
	for i, o := range origins {
		for j := 0; j < perOrigin; j++ {
			f := testkit.Follow(t, c, o.PlainURL("/users/alice/outbox"), "", nil)
			f.Name = fmt.Sprintf("subscriber %d of origin %d", j, i)
			fs[i] = append(fs[i], f)
		}
	}
	for i := range fs {
		for _, f := range fs[i] {
			f.WaitOpen(t)
		}
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
	for i := 0; i < 9; i++ {
		if err := post(origins[i%3], i); err != nil {
			t.Fatalf("posting through origin %d: %v", i%3, err)
		}
	}
	want := fs[0][0].WaitCount(t, 9)
	for i := range fs {
		for _, f := range fs[i] {
			if got := f.WaitCount(t, 9); !slices.Equal(got, want) {
				t.Fatalf("%s received %v, %s %v", f.Name, got, fs[0][0].Name, want)
			}
		}
	}
	if !increasing(want) {
		t.Fatalf("ids out of order: %v", want)
	}

	// Notes keep coming through origins 0 and 1 while origin 2 is killed.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 40; i++ {
			if err := post(origins[i%2], 100+i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(20 * time.Millisecond)
	origins[2].Kill()
	if err := testkit.Receive(t, done, "the posts"); err != nil {
		t.Fatal(err)
	}
	total := posted
	want = fs[0][0].WaitCount(t, total)
	if !increasing(want) {
		t.Fatalf("ids out of order: %v", want)
	}
	for i := range 2 {
		for _, f := range fs[i] {
			if got := f.WaitCount(t, total); !slices.Equal(got, want) {
				t.Fatalf("%s received %v, want %v", f.Name, got, want)
			}
		}
	}
	// The killed origin's subscribers resume on origin 1 from the last id
	// each received.
	for _, f := range fs[2] {
		f.Cancel()
		had := f.IDs()
		last := had[len(had)-1]
		r := testkit.Follow(t, c, origins[1].PlainURL("/users/alice/outbox"), last, nil)
		r.Name = f.Name + ", resumed on origin 1"
		if got := append(had, r.WaitCount(t, total-len(had))...); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", r.Name, got, want)
		}
		if r.Gaps() != 0 {
			t.Fatalf("%s was told of a gap", r.Name)
		}
	}
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
