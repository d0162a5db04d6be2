package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestSUBSubscribersFetchingAPayloadCostTheOriginOneRequest: twenty SUB
// subscribers receive an event by reference and all fetch its payload
// through the edge at once; the edge fetched it before relaying the event,
// so its cache answers them all and the origin serves it once. Without a
// cache (the negative control) every subscriber's request reaches the
// origin.
func TestSUBSubscribersFetchingAPayloadCostTheOriginOneRequest(t *testing.T) {
	const subscribers = 20
	for _, tt := range []struct {
		name      string
		cache     bool
		wantFetch int64
	}{
		{"cached", true, 1},
		{"no cache (negative control)", false, 1 + subscribers},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) {
				if !tt.cache {
					e.Cache = nil
				}
			})
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
			subs := testkit.FollowMany(t, c, e.url("/public/refs"), "", subscribers)
			big := `{"big":"` + strings.Repeat("x", 20<<10) + `"}`
			o.PublishEvent("/public/refs", eventByRef(o, big))
			var wg sync.WaitGroup
			for i, s := range subs {
				ev := s.WaitCount(t, 1)
				ref := s.Events()[0].Ref
				if ref == "" {
					t.Fatalf("subscriber %d got event %s without its ref", i, ev[0])
				}
				target, err := url.Parse(e.url("/public/refs"))
				if err != nil {
					t.Fatal(err)
				}
				payloadURL, _ := target.Parse(ref)
				wg.Go(func() {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, payloadURL.String(), nil)
					resp, err := c.RoundTrip(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					if body, _ := io.ReadAll(resp.Body); string(body) != big {
						t.Errorf("subscriber %d fetched %d bytes (%s), want the payload", i, len(body), resp.Status)
					}
				})
			}
			wg.Wait()
			if n := o.RefFetches.Load(); n != tt.wantFetch {
				t.Errorf("origin served the payload %d times for %d subscribers, want %d", n, subscribers, tt.wantFetch)
			}
		})
	}
}

// TestRefsToAnotherOriginAreNeitherFetchedNorRelayed: an event whose ref
// names another host reaches subscribers as a gap standing for that event
// alone (its prev and id, naming the stream to resynchronize from), and that host gets no request; an event
// with a ref on the stream's origin (the negative control) is fetched once
// and delivered.
func TestRefsToAnotherOriginAreNeitherFetchedNorRelayed(t *testing.T) {
	var foreignHits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, `{"from":"elsewhere"}`)
	}))
	t.Cleanup(foreign.Close)
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	var subs []*testkit.Follower
	for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
		c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
		s := testkit.Follow(t, c, e.url("/public/refs"), "", nil)
		s.Name = fmt.Sprint("mode ", mode)
		subs = append(subs, s)
	}
	for _, s := range subs {
		s.WaitOpen(t)
	}
	o.Publish("/public/refs", "{}") // so that the foreign one has a prev
	refused := o.PublishEvent("/public/refs", wire.Event{Type: "Create", Ref: foreign.URL + "/payload"}).Event
	foreignID, foreignPrev := refused.ID, refused.Prev
	if foreignPrev == "" {
		t.Fatalf("the origin published %+v without a prev", refused)
	}
	big := `{"big":"` + strings.Repeat("z", 20<<10) + `"}`
	o.PublishEvent("/public/refs", eventByRef(o, big))
	for _, s := range subs {
		s.WaitCount(t, 3)
		events := s.Events()[1:]
		if ev := events[0]; !ev.IsGap() || ev.ID != foreignID || ev.Prev != foreignPrev || ev.Ref != "" || len(ev.Data) != 0 || ev.Gap != "/public/refs" {
			t.Errorf("%s: the event with a foreign ref arrived as %+v, want a gap after %q up to %s naming /public/refs", s.Name, ev.Event, foreignPrev, foreignID)
		}
		if ev := events[1]; ev.IsGap() || ev.Ref == "" && string(ev.Data) != big {
			t.Errorf("%s: the event with a ref on the origin arrived as type %q ref %q, %d bytes", s.Name, ev.Type, ev.Ref, len(ev.Data))
		}
	}
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("the foreign host got %d requests, want none", n)
	}
	if n := o.RefFetches.Load(); n != 1 {
		t.Errorf("the origin served its payload %d times, want 1", n)
	}
}
