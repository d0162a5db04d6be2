package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/subpub/subpub/benchmarks/reportfile"

	"github.com/subpub/subpub/benchmarks/load"
)

// Report is what a run found: report.json holds it, report.md says it.
type Report struct {
	Seed    uint64        `json:"seed"`
	Began   time.Time     `json:"began"`
	Seconds float64       `json:"seconds"`
	Config  ConfigSummary `json:"config"`
	// Cores is the machine's CPU count; LoadBefore and LoadAfter its load
	// averages (1, 5, 15 minutes) as the run began and ended: recovery
	// times on a machine shared with other work are longer.
	Cores      int    `json:"cores"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Published is the publisher's account; Events the log's.
	Published load.PublishStats `json:"published"`
	Events    int               `json:"events"`
	// Total sums every subscriber's verdict; Groups by where and how it
	// subscribed; Failed lists the first problem of each subscriber that
	// failed (the first few).
	Total      Verdict            `json:"total"`
	Groups     []GroupVerdict     `json:"groups"`
	Failed     []string           `json:"failed,omitempty"`
	Faults     []Fault            `json:"faults"`
	Recovery   []Recovery         `json:"recovery"`
	Revocation RevocationResult   `json:"revocation"`
	Floods     []FloodResult      `json:"floods"`
	ZeroWindow []ZeroWindowResult `json:"zero_window,omitempty"`
	Pass       bool               `json:"pass"`
}

// ConfigSummary is the configuration the report was made with.
type ConfigSummary struct {
	Subscribers           int     `json:"subscribers"`
	Rate                  int     `json:"rate_per_s"`
	KillsPerServer        int     `json:"kills_per_server"`
	MinWaitS              float64 `json:"min_wait_s"`
	MaxWaitS              float64 `json:"max_wait_s"`
	MaxDownS              float64 `json:"max_down_s"`
	FloodRequests         int     `json:"flood_requests"`
	MaxUpstreamsPerClient int     `json:"max_upstreams_per_client"`
	ZeroWindow            bool    `json:"zero_window"`
}

func summarize(cfg Config) ConfigSummary {
	return ConfigSummary{
		Subscribers: cfg.Subscribers, Rate: cfg.Rate, KillsPerServer: cfg.KillsPerServer,
		MinWaitS: cfg.MinWait.Seconds(), MaxWaitS: cfg.MaxWait.Seconds(), MaxDownS: cfg.MaxDown.Seconds(),
		FloodRequests: cfg.FloodRequests, MaxUpstreamsPerClient: cfg.MaxUpstreamsPerClient, ZeroWindow: cfg.ZeroWindow,
	}
}

// GroupVerdict is the sum of the verdicts of the subscribers at one server
// that subscribed one way.
type GroupVerdict struct {
	Server      string `json:"server"`
	Way         string `json:"way"`
	Subscribers int    `json:"subscribers"`
	// Failed counts subscribers whose verdict is not OK; Ended those whose
	// subscription ended before the run did (it should not); Retries their
	// resubscriptions.
	Failed  int `json:"failed"`
	Ended   int `json:"ended"`
	Retries int `json:"retries"`
	Verdict
}

// maxFailedListed bounds the subscribers' problems listed in the report.
const maxFailedListed = 20

// check gives each subscriber's verdict against the log's events.
func (r *Report) check(expected []uint64, subs []*subscriber) {
	r.Events = len(expected)
	index := map[[2]string]*GroupVerdict{}
	for _, s := range subs {
		key := [2]string{s.server, s.way.Name}
		g := index[key]
		if g == nil {
			g = &GroupVerdict{Server: s.server, Way: s.way.Name}
			index[key] = g
		}
		v := Check(expected, s.received())
		s.mu.Lock()
		if s.badIDs > 0 {
			v.Unexpected += s.badIDs
			v.note("%d event ids are not sequence numbers", s.badIDs)
		}
		ended, retries := s.ended, s.retries
		s.mu.Unlock()
		g.Subscribers++
		g.Retries += retries
		if ended != nil {
			g.Ended++
			v.note("its subscription ended: %v", ended)
		}
		if !v.OK() || ended != nil {
			g.Failed++
			if len(r.Failed) < maxFailedListed {
				r.Failed = append(r.Failed, fmt.Sprintf("%s at %s: %s", s.way.Name, s.server, v.First))
			}
		}
		g.Verdict = g.Verdict.Add(v)
		r.Total = r.Total.Add(v)
	}
	r.Groups = nil
	for _, server := range []string{Edge2, Edge1, Origin} {
		for _, way := range wayNames() {
			if g := index[[2]string{server, way}]; g != nil {
				r.Groups = append(r.Groups, *g)
			}
		}
	}
}

// judge says whether the run passed: every subscriber's events exactly
// once and in order (or stood for by a gap), every fault recovered from,
// and every attack dealt with.
func (r *Report) judge() {
	pass := r.Total.OK() && r.Total.Expected > 0 && r.Revocation.Pass
	for _, g := range r.Groups {
		pass = pass && g.Failed == 0
	}
	for _, f := range r.Faults {
		pass = pass && f.Err == ""
	}
	for _, rec := range r.Recovery {
		pass = pass && rec.NotResumed == 0
	}
	for _, f := range r.Floods {
		pass = pass && f.Pass
	}
	for _, z := range r.ZeroWindow {
		pass = pass && z.Pass
	}
	r.Pass = pass
}

// Write writes report.json and report.md into dir.
func (r *Report) Write(dir string) error {
	return reportfile.Write(dir, r, r.Markdown())
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// Markdown is the report for people.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	c := r.Config
	w("# Fault suite: %s\n\n", passFail(r.Pass))
	w("Run %s, %.0f s, seed %d (`subpub bench chaos --seed %d` draws the same faults).\n\n", r.Began.Format(time.RFC3339), r.Seconds, r.Seed, r.Seed)
	w("%d subscribers to alice's outbox (%s), on SUB and SSE over HTTP/1.1, HTTP/2 and HTTP/3 each, ", c.Subscribers, placementText())
	w("with subpub's client (default reconnection); %d notes a second posted to the origin (%d accepted, %d refused while it was down); ", c.Rate, r.Published.InWindow, r.Published.Errors)
	w("%d kill -9 of each server, %.0f to %.0f s apart, each down for up to %.1f s and started again on the same address with the same data. ", c.KillsPerServer, c.MinWaitS, c.MaxWaitS, c.MaxDownS)
	w("The edge in front of the origin subscribes over HTTP/3, the one in front of it over HTTP/2. ")
	w("%d cores; load average %s as the run began, %s as it ended.\n\n", r.Cores, r.LoadBefore, r.LoadAfter)

	w("## Every event exactly once, in order\n\n")
	t := r.Total
	w("%d events in the log; %d subscriber × event pairs checked: %d delivered, **%d lost, %d duplicated, %d reordered**, %d unexpected, %d gap events (standing for %d events).\n\n",
		r.Events, t.Expected, t.Delivered, t.Lost, t.Duplicated, t.Reordered, t.Unexpected, t.Gaps, t.GapCovered)
	w("| at | way | subscribers | checked | lost | duplicated | reordered | gaps | failed | resubscriptions |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, g := range r.Groups {
		w("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", g.Server, g.Way, g.Subscribers, g.Expected, g.Lost, g.Duplicated, g.Reordered, g.Gaps, g.Failed, g.Retries)
	}
	for _, f := range r.Failed {
		w("\n- %s", f)
	}
	w("\n\n## Time from fault to resumed delivery\n\n")
	w("From the SIGKILL to the first reception of an event published after it, for each subscriber whose events cross the killed server: p50 / p99 (max) in ms.\n\n")
	w("| way | origin killed | edge1 killed | edge2 killed | all faults |\n|---|---|---|---|---|\n")
	cell := map[[2]string]Recovery{}
	for _, rec := range r.Recovery {
		cell[[2]string{rec.Server, rec.Way}] = rec
	}
	for _, way := range wayNames() {
		w("| %s", way)
		for _, server := range []string{Origin, Edge1, Edge2, "all"} {
			rec, ok := cell[[2]string{server, way}]
			switch {
			case !ok:
				w(" | –")
			case rec.NotResumed > 0:
				w(" | %.0f / %.0f (%.0f), %d of %d not resumed", rec.P50MS, rec.P99MS, rec.MaxMS, rec.NotResumed, rec.Samples)
			default:
				w(" | %.0f / %.0f (%.0f)", rec.P50MS, rec.P99MS, rec.MaxMS)
			}
		}
		w(" |\n")
	}
	w("\n## Faults\n\n")
	w("Each fault's wait and time down are drawn from the seed; down for is from the SIGKILL until the new process listened. Resumed: p50 and max over the subscribers behind the killed server.\n\n")
	w("| # | killed | at (UTC) | after the previous | down for | subscribers behind it | resumed p50 / max (ms) | not resumed |\n|--:|---|---|--:|--:|--:|---|--:|\n")
	for i, f := range r.Faults {
		w("| %d | %s | %s | %.2f s | %.2f s | %d | %.0f / %.0f | %d |\n", i+1, f.Server, f.KilledAt.UTC().Format("15:04:05.000"),
			f.Wait.Seconds(), f.Restarted.Sub(f.KilledAt).Seconds(), f.Affected, f.ResumedP50MS, f.ResumedMaxMS, f.NotResumed)
	}

	v := r.Revocation
	w("\n## Revocation: %s\n\n", passFail(v.Pass))
	w("`subpub token revoke` of the token of %d private subscriptions to alice's own view of her outbox (%s), while they were open: ", len(v.Subscribers), strings.Join(v.Subscribers, ", "))
	w("%d of %d ended with 401, after %s ms (bound %v); %d events published after the bound reached them. ", v.Ended401, len(v.Subscribers), floats(v.EndMS), revokedStreamsEnd, v.DeliveredAfterEnd)
	w("%d joins through both edges with the token, one every %v: %d refused with 401 (the first %.0f ms after the revocation), %s, %d admitted later than the bound (%v: --auth-max-age plus --revocation-check).", v.Joins, joinEvery, v.JoinsRefused401, v.FirstRefusedMS, admittedText(v.LastAdmittedMS), v.JoinsAdmittedLate, revokedJoinsRefused)
	if v.Error != "" {
		w(" Error: %s.", v.Error)
	}
	w("\n\n## Query-string flood\n\n")
	w("Distinct `?x=N` subscriptions from another client address (%s), %d workers, while subscribers from the usual address join every %v; edges' --max-upstreams-per-client %d.\n\n", flooder, floodWorkers, legitEvery, c.MaxUpstreamsPerClient)
	w("| flooded | result | requests | answers | seconds | upstream subscriptions before / max (read every 100 ms) | origin's subscriptions before / max | legitimate joins admitted |\n|---|---|--:|---|--:|---|---|---|\n")
	for _, f := range r.Floods {
		w("| %s | %s | %d | %s | %.1f | %.0f / %.0f | %.0f / %.0f | %d of %d |\n", f.Server, passFail(f.Pass), f.Requests, answers(f.Answers), f.Seconds, f.UpstreamsBefore, f.UpstreamsMax, f.OriginActiveBefore, f.OriginActiveMax, f.LegitAdmitted, f.LegitJoins)
	}
	if len(r.ZeroWindow) > 0 {
		w("\n## Zero-window HTTP/2 client\n\n")
		w("An SSE stream opened over h2c with SETTINGS_INITIAL_WINDOW_SIZE 0, the client answering SETTINGS and PING but never giving a window (the servers' stall bound is 30 s).\n\n")
		w("| server | result | ended | after | counted as stalled |\n|---|---|---|--:|--:|\n")
		for _, z := range r.ZeroWindow {
			how := z.How
			if z.Error != "" {
				how = z.Error
			}
			w("| %s | %s | %s | %.1f s | %.0f |\n", z.Server, passFail(z.Pass), how, z.EndedMS/1000, z.StalledCounted)
		}
	} else {
		w("\n(The zero-window client was not run.)\n")
	}
	return b.String()
}

func placementText() string {
	var parts []string
	for _, p := range placements {
		parts = append(parts, fmt.Sprintf("%.0f%% at %s", p.share*100, p.server))
	}
	return strings.Join(parts, ", ")
}

func floats(ms []float64) string {
	var parts []string
	for _, v := range ms {
		parts = append(parts, fmt.Sprintf("%.0f", v))
	}
	return strings.Join(parts, ", ")
}

func answers(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// admittedText says when the last join was admitted (-1: none was).
func admittedText(ms float64) string {
	if ms < 0 {
		return "none admitted"
	}
	return fmt.Sprintf("the last admitted %.0f ms after it", ms)
}
