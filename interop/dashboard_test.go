package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/subpub/subpub/dashboard"
)

// figures are what a dashboard page shows, read from its document as a
// person sees them (the totals since the server started), and how many
// readings of the server's figures the page has made.
type figures struct {
	Readings    int
	EventsIn    float64
	Deliveries  float64
	Subscribers float64
	TailCount   int
	Tail        []string
	TailState   string
	Latency     string
	Status      string
}

// readFigures reads the page's figures once it has made at least
// minReadings readings and, if until is not empty, once the JavaScript
// condition until (on the figures f) holds.
const readFigures = `new Promise((resolve) => {
	const num = (id) => Number(document.getElementById(id).textContent.replaceAll(',', ''));
	const read = () => ({
		Readings: window.dashboard.readings || 0,
		EventsIn: num('events-in-total'),
		Deliveries: num('deliveries-total'),
		Subscribers: num('subscriptions-total'),
		TailCount: num('tail-count'),
		Tail: [...document.querySelectorAll('#tail-events li')].map((li) => li.textContent),
		TailState: document.getElementById('tail-state').textContent,
		Latency: document.getElementById('latency-summary').textContent,
		Status: document.getElementById('status').textContent,
	});
	const check = () => {
		const f = read();
		if (f.Readings >= %d && (%s)) resolve(f); else setTimeout(check, 100);
	};
	check();
})`

// TestChromiumDashboardFollowsTheServers loads the edge's and the origin's
// dashboard pages in headless Chromium, each tailing alice's outbox, and
// posts notes: each page's totals of events in and deliveries out grow by
// at least the notes posted, its tail shows each note, the edge's latency
// histogram has observations, and once the notes are delivered the page's
// totals are those of the server's /metrics. Before any note, while the
// pages keep reading, their figures do not move (negative control: a page
// showing anything but the server's figures, or numbers that move by
// themselves, fails there).
func TestChromiumDashboardFollowsTheServers(t *testing.T) {
	const notes = 5
	chromium := needTool(t, chromiumPath(), "chromium")
	s := startServers(t, true)
	b, err := launchBrowser(t, chromium, "--disable-quic")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), deliveryTimeout)
	defer cancel()
	type dash struct {
		name       string
		eventsIn   string // the counter the page's "events in" shows
		delivered  string
		page       *page
		idle, busy figures
	}
	dashes := []*dash{
		{name: "edge", eventsIn: "subpub_edge_upstream_events_total", delivered: "subpub_edge_events_delivered_total"},
		{name: "origin", eventsIn: "subpub_origin_events_emitted_total", delivered: "subpub_origin_events_delivered_total"},
	}
	following := fmt.Sprintf("f.TailState === %q", "following "+outboxPath)
	for _, d := range dashes {
		p := s.server(d.name)
		if d.page, err = b.newPage(ctx); err != nil {
			t.Fatal(err)
		}
		url := "http://" + p.MetricsAddr + dashboard.Path + "?stream=" + outboxPath
		if err := d.page.navigate(ctx, url); err != nil {
			t.Fatal(err)
		}
		// Two readings make a rate; the tail is open.
		if err := d.page.evaluate(ctx, fmt.Sprintf(readFigures, 2, following), &d.idle); err != nil {
			t.Fatalf("%s dashboard: %v", d.name, err)
		}
	}
	t.Run("idle figures stay still", func(t *testing.T) {
		for _, d := range dashes {
			var later figures
			if err := d.page.evaluate(ctx, fmt.Sprintf(readFigures, d.idle.Readings+3, "true"), &later); err != nil {
				t.Fatalf("%s dashboard: %v", d.name, err)
			}
			if later.EventsIn != d.idle.EventsIn || later.Deliveries != d.idle.Deliveries || later.TailCount != d.idle.TailCount {
				t.Errorf("%s dashboard moved with nothing posted: %+v, then %+v", d.name, d.idle, later)
			}
			if d.idle.Subscribers < 1 {
				t.Errorf("%s dashboard shows %v subscribers while its own tail subscribes", d.name, d.idle.Subscribers)
			}
			d.idle = later
		}
	})
	want := s.publishNotes(t, notes, nil)
	t.Run("figures follow the notes", func(t *testing.T) {
		for _, d := range dashes {
			until := fmt.Sprintf("f.EventsIn >= %v && f.Deliveries >= %v && f.TailCount >= %d",
				d.idle.EventsIn+notes, d.idle.Deliveries+notes, d.idle.TailCount+notes)
			if err := d.page.evaluate(ctx, fmt.Sprintf(readFigures, 0, until), &d.busy); err != nil {
				t.Fatalf("%s dashboard: %v", d.name, err)
			}
			tail := strings.Join(d.busy.Tail, "\n")
			for _, content := range want {
				if !strings.Contains(tail, content) {
					t.Errorf("%s dashboard's tail lacks %q:\n%s", d.name, content, tail)
				}
			}
			if d.name == "edge" && !strings.Contains(d.busy.Latency, "observations") {
				t.Errorf("edge dashboard's latency: %q", d.busy.Latency)
			}
		}
	})
	t.Run("figures are the server's", func(t *testing.T) {
		for _, d := range dashes {
			p := s.server(d.name)
			in, err := p.Sum(d.eventsIn)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Sum(d.delivered)
			if err != nil {
				t.Fatal(err)
			}
			var f figures
			until := fmt.Sprintf("f.EventsIn === %v && f.Deliveries === %v", in, out)
			if err := d.page.evaluate(ctx, fmt.Sprintf(readFigures, 0, until), &f); err != nil {
				t.Fatalf("%s dashboard never showed the server's %v events in and %v deliveries: %v", d.name, in, out, err)
			}
		}
	})
}
