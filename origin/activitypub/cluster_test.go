package activitypub

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
)

// newCluster starts n servers, each with its own connection pool and
// listener, on one PostgreSQL database of the test's own.
func newCluster(t *testing.T, n int) []*testEnv {
	t.Helper()
	url := testkit.Postgres(t)
	envs := make([]*testEnv, n)
	for i := range envs {
		envs[i] = &testEnv{t: t, dir: url}
		envs[i].start()
	}
	return envs
}

// followOutbox subscribes per servers to alice's outbox on each of envs.
func followOutbox(t *testing.T, envs []*testEnv, per int) []*testkit.Follower {
	t.Helper()
	c := testkit.NewClient(t, client.Options{Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	var fs []*testkit.Follower
	for i, e := range envs {
		for j := 0; j < per; j++ {
			f := testkit.Follow(t, c, e.url(actorURL("alice")+"/outbox"), "", nil)
			f.Name = fmt.Sprintf("subscriber %d of server %d", j, i)
			f.WaitOpen(t)
			fs = append(fs, f)
		}
	}
	return fs
}

// sameIDs checks that every follower received want, in order, each once.
func sameIDs(t *testing.T, fs []*testkit.Follower, want []string) {
	t.Helper()
	for _, f := range fs {
		if got := f.WaitCount(t, len(want)); !slices.Equal(got, want) {
			t.Fatalf("%s received %v, want %v", f.Name, got, want)
		}
	}
}

// TestClusterServesEveryEventEverywhere posts notes through each of three
// servers on one PostgreSQL database in turn: subscribers spread over the
// three receive every event once and in the order of the log; then one
// server is closed mid-run and the others' subscribers lose nothing.
func TestClusterServesEveryEventEverywhere(t *testing.T) {
	envs := newCluster(t, 3)
	fs := followOutbox(t, envs, 10)
	const notes = 12
	for i := 0; i < notes; i++ {
		envs[i%3].postNote("alice", "note "+strconv.Itoa(i), publicCollection)
	}
	want := loggedIDs(envs[0].loggedEvents("/users/alice/outbox"))
	if len(want) != notes {
		t.Fatalf("the log has %d events of alice's outbox, want %d", len(want), notes)
	}
	sameIDs(t, fs, want)

	// One server goes away; the others carry on with every event.
	envs[2].streamer.Shutdown(t.Context())
	envs[2].ts.Close()
	envs[2].store.Close()
	for i := 0; i < notes; i++ {
		envs[i%2].postNote("alice", "after "+strconv.Itoa(i), publicCollection)
	}
	want = loggedIDs(envs[0].loggedEvents("/users/alice/outbox"))
	sameIDs(t, fs[:20], want)

	// Every id resumes on any server, and paging after it is exact.
	mid := want[notes/2]
	for i, e := range envs[:2] {
		f := testkit.Follow(t, testkit.NewClient(t, client.Options{}), e.url(actorURL("alice")+"/outbox"), mid, nil)
		f.Name = "resuming on server " + strconv.Itoa(i)
		if got := f.WaitCount(t, len(want)-notes/2-1); !slices.Equal(got, want[notes/2+1:]) {
			t.Fatalf("%s received %v, want %v", f.Name, got, want[notes/2+1:])
		}
		if f.Gaps() != 0 {
			t.Fatalf("%s was told of a gap", f.Name)
		}
	}
	page := envs[1].get("", actorURL("alice")+"/outbox?min_id="+mid, http.StatusOK)
	if items, _ := page["orderedItems"].([]any); len(items) != len(want)-notes/2-1 {
		t.Fatalf("?min_id=%s on another server: %d items, want %d", mid, len(items), len(want)-notes/2-1)
	}
}

// TestClusterConcurrentPublishersNeverReorder posts from three servers at
// once: every subscriber, on any server, receives the log's order, with no
// id skipped, although the transactions of different processes race.
func TestClusterConcurrentPublishersNeverReorder(t *testing.T) {
	envs := newCluster(t, 3)
	fs := followOutbox(t, envs, 3)
	const perServer = 15
	var wg sync.WaitGroup
	for i, e := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perServer; j++ {
				e.postNote("alice", fmt.Sprintf("server %d note %d", i, j), publicCollection)
			}
		}()
	}
	wg.Wait()
	want := loggedIDs(envs[0].loggedEvents("/users/alice/outbox"))
	if len(want) != 3*perServer {
		t.Fatalf("the log has %d events, want %d", len(want), 3*perServer)
	}
	sameIDs(t, fs, want)
}

// TestFollowerWaitsForAHoleInTheLog is the negative control of the
// follower's watermark: an event committed before an earlier sequence
// number is visible is not handed over until that one is, though a reader
// of everything visible would have read it.
func TestFollowerWaitsForAHoleInTheLog(t *testing.T) {
	envs := newCluster(t, 1)
	s := envs[0].store
	ctx := t.Context()
	after := s.LastSeq()
	insert := func(seq uint64) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, `INSERT INTO events (seq, type, data, ref, created_at) VALUES (?, 'Add', '{}', '', 0)`, int64(seq)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.ExecContext(ctx, `INSERT INTO event_streams (stream, seq) VALUES ('/hole', ?)`, int64(seq)); err != nil {
			t.Fatal(err)
		}
	}
	insert(after + 2)
	var visible int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE seq > ?`, int64(after)).Scan(&visible); err != nil || visible != 1 {
		t.Fatalf("visible after %d: %d (%v), want 1", after, visible, err)
	}
	if got, err := s.readLogAfter(ctx, after, followBatch); err != nil || len(got) != 0 {
		t.Fatalf("with %d missing, read %d events (%v), want none", after+1, len(got), err)
	}
	insert(after + 1)
	got, err := s.readLogAfter(ctx, after, followBatch)
	if err != nil || len(got) != 2 || got[0].Seq != after+1 || got[1].Seq != after+2 || got[1].Streams[0].Key != "/hole" {
		t.Fatalf("once the hole is filled: %+v (%v), want %d and %d", got, err, after+1, after+2)
	}
}

func loggedIDs(events []loggedTestEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// TestFollowerPollsForWhatNoNotificationAnnounced logs an event without the
// NOTIFY a commit sends, as if the notification had been lost: the
// subscriber receives it all the same, from the follower's poll.
func TestFollowerPollsForWhatNoNotificationAnnounced(t *testing.T) {
	envs := newCluster(t, 1)
	fs := followOutbox(t, envs, 1)
	s := envs[0].store
	ctx := t.Context()
	// Once the follower listens, and has read the log on starting to (so
	// that what wakes it next is the poll, not that).
	testkit.WaitUntil(t, "the follower listening", func() bool {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE query = ?`, "LISTEN "+notifyChannel).Scan(&n)
		return err == nil && n == 1
	})
	time.Sleep(100 * time.Millisecond)
	seq := s.LastSeq() + 1
	for _, q := range []string{
		`INSERT INTO events (seq, type, data, ref, created_at) VALUES (?, 'Add', '{}', '', 0)`,
		`INSERT INTO event_streams (stream, seq) VALUES ('/users/alice/outbox', ?)`,
		`UPDATE counters SET value = ? WHERE name = 'last_seq'`,
	} {
		if _, err := s.db.ExecContext(ctx, q, int64(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if got := fs[0].WaitCount(t, 1); got[0] != strconv.FormatUint(seq, 10) {
		t.Fatalf("received %v, want %d", got, seq)
	}
}
