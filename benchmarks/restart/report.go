package restart

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/subpub/subpub/benchmarks/reportfile"
)

// Report is a run's result.
type Report struct {
	Subscribers int     `json:"subscribers"`
	Spread      int     `json:"spread"`
	Rate        int     `json:"rate_per_s"`
	Settle      string  `json:"settle"`
	Rounds      int     `json:"rounds"`
	Machine     string  `json:"machine"`
	Phases      []Phase `json:"phases"`
}

// Phase is what one edge configuration cost during one storm: from the
// kill until every subscriber was back and Settle after.
type Phase struct {
	Round     int    `json:"round"`
	Mode      string `json:"mode"`
	EdgeFlags string `json:"edge_flags"`
	// RestartSeconds: from the kill until the new edge listened;
	// BackSeconds: until every subscriber had an event of its new stream;
	// WindowSeconds: the whole measured window.
	RestartSeconds float64 `json:"restart_s"`
	BackSeconds    float64 `json:"back_s"`
	WindowSeconds  float64 `json:"window_s"`
	Back           int     `json:"back"`
	// Incomplete says that not every subscriber was back when the run
	// stopped waiting (stormTimeout): BackSeconds is then that wait.
	Incomplete bool `json:"incomplete,omitempty"`
	// What the origin served in the window: subscriptions opened (SUB or
	// SSE), subscriptions it refused, and requests of any kind but the
	// run's publications (from its access log).
	OriginSubscriptions int64 `json:"origin_subscriptions"`
	OriginRefused       int64 `json:"origin_refused"`
	OriginRequests      int64 `json:"origin_requests"`
	// OriginUnanswered counts the requests the origin never answered (its
	// access log's status 0: the edge gave up waiting, or the connection
	// was closed first).
	OriginUnanswered int64 `json:"origin_unanswered"`
	// EdgeCatchUps is the new edge's subpub_edge_catchups_total by
	// outcome.
	EdgeCatchUps map[string]int64 `json:"edge_catchups"`
	// CPU seconds in the window by process (the edge's since it started
	// again).
	CPU map[string]float64 `json:"cpu_s"`
	// What the subscribers saw: streams established again (more than one
	// each means refusals or failures), ids missing or repeated after the
	// one each resumed from, gap events, and the attempts refused, by
	// status (the edge's 503 past its bound on catch-ups, its 502 or 504
	// when the origin did not answer).
	Reconnects int64            `json:"reconnects"`
	Skipped    int64            `json:"skipped"`
	Repeated   int64            `json:"repeated"`
	Gaps       int64            `json:"gaps"`
	Refused    map[string]int64 `json:"refused,omitempty"`
	LoadBefore string           `json:"load_before"`
	LoadAfter  string           `json:"load_after"`
}

// Load reads the report.json in dir.
func Load(dir string) (*Report, error) {
	var r Report
	if err := reportfile.Read(dir, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Write writes report.json and report.md into dir.
func (r *Report) Write(dir string) error {
	return reportfile.Write(dir, r, r.Markdown())
}

// Table is the comparison as a Markdown table (ASCII, for the draft): a row per mode, its rounds
// added up (the time until all were back: the slowest round's), and a row
// of ratios (separate over shared).
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| edge | restarts | origin subscriptions | origin requests (unanswered) | catch-ups opened / shared / refused | all back after (slowest) | CPU origin | CPU edge | CPU load generator | load average (1 min, before each) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	var totals []Phase
	for _, mode := range Modes {
		t := r.total(mode.Name)
		if t.Round == 0 {
			continue
		}
		totals = append(totals, t)
		fmt.Fprintf(&b, "| %s | %d | %d | %d (%d) | %d / %d / %d | %s | %.2f s | %.2f s | %.2f s | %s |\n",
			t.Mode, t.Round, t.OriginSubscriptions, t.OriginRequests, t.OriginUnanswered,
			t.EdgeCatchUps[catchUpOpened], t.EdgeCatchUps[catchUpShared], t.EdgeCatchUps[catchUpRefused],
			backText(t, r.Subscribers*t.Round), t.CPU[cpuOrigin], t.CPU[cpuEdge], t.CPU[cpuLoad], t.LoadBefore)
	}
	if len(totals) == 2 {
		s, o := totals[0], totals[1]
		fmt.Fprintf(&b, "| %s / %s | | %s | %s | | | %s | %s | %s | |\n", o.Mode, s.Mode,
			ratio(float64(o.OriginSubscriptions), float64(s.OriginSubscriptions)),
			ratio(float64(o.OriginRequests), float64(s.OriginRequests)),
			ratio(o.CPU[cpuOrigin], s.CPU[cpuOrigin]), ratio(o.CPU[cpuEdge], s.CPU[cpuEdge]),
			ratio(o.CPU[cpuLoad], s.CPU[cpuLoad]))
	}
	return b.String()
}

// Names in Phase's maps.
const (
	catchUpOpened  = "opened"
	catchUpShared  = "shared"
	catchUpRefused = "refused"
	cpuOrigin      = "origin"
	cpuEdge        = "edge"
	cpuLoad        = "load generator"
)

// total adds up the rounds of a mode: Round is their number, BackSeconds
// the slowest, LoadBefore the 1-minute load averages before each.
func (r *Report) total(mode string) Phase {
	t := Phase{Mode: mode, EdgeCatchUps: map[string]int64{}, CPU: map[string]float64{}}
	var loads []string
	for _, p := range r.Phases {
		if p.Mode != mode {
			continue
		}
		t.Round++
		t.OriginSubscriptions += p.OriginSubscriptions
		t.OriginRefused += p.OriginRefused
		t.OriginRequests += p.OriginRequests
		t.OriginUnanswered += p.OriginUnanswered
		for k, v := range p.EdgeCatchUps {
			t.EdgeCatchUps[k] += v
		}
		for k, v := range p.CPU {
			t.CPU[k] += v
		}
		t.BackSeconds = max(t.BackSeconds, p.BackSeconds)
		t.Incomplete = t.Incomplete || p.Incomplete
		t.Back += p.Back
		t.Reconnects += p.Reconnects
		t.Skipped += p.Skipped
		t.Repeated += p.Repeated
		t.Gaps += p.Gaps
		for k, v := range p.Refused {
			if t.Refused == nil {
				t.Refused = map[string]int64{}
			}
			t.Refused[k] += v
		}
		if f := strings.Fields(p.LoadBefore); len(f) > 0 {
			loads = append(loads, f[0])
		}
	}
	t.LoadBefore = strings.Join(loads, ", ")
	return t
}

// backText says how long it took every subscriber to come back, or how
// many of want had when the run stopped waiting.
func backText(p Phase, want int) string {
	if p.Incomplete {
		return fmt.Sprintf("%d of %d after %.0f s", p.Back, want, p.BackSeconds)
	}
	return fmt.Sprintf("%.1f s", p.BackSeconds)
}

// byStatus is "503: 12, 504: 3", or "none".
func byStatus(n map[string]int64) string {
	if len(n) == 0 {
		return "none"
	}
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%s: %d", status, n[status]))
	}
	return strings.Join(parts, ", ")
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

// Markdown is the whole report.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# The origin's load after an edge restart\n\n")
	fmt.Fprintf(&b, "%d subscribers (SSE over HTTP/1.1, one connection each) follow one stream through an edge; the edge is killed (SIGKILL) and started again on the same addresses with an empty ring; each subscriber comes back after a random delay below %v with the id of the last event it processed, which lags the last one it received by 0 to %d events. %d notes a second are posted throughout. The window runs from the kill until every subscriber has an event of its new stream, and %s more. The two edges take turns, %d rounds each, against the same origin. Machine: %s.\n\n",
		r.Subscribers, firstRetry, r.Spread-1, r.Rate, r.Settle, r.Rounds, r.Machine)
	b.WriteString(r.Table())
	b.WriteString("\n`shared` is the edge's default: a catch-up subscription is shared by the subscribers resuming from its position or from any id its ring holds, and new ones are bounded (`--catchup-rate`). `separate` opens one for each subscriber that the shared ring cannot serve, with no bound (`--separate-catchups --catchup-rate -1`), as edges did before. Origin subscriptions include the shared one of each restart. CPU is user and system time in the windows: the origin's, the new edge's since it started, and this process's (the subscribers).\n\n")
	b.WriteString("What the subscribers saw after resuming, in all rounds:\n\n")
	b.WriteString("| edge | streams established again | ids missing | ids repeated | gap events | attempts refused, by status |\n|---|---|---|---|---|---|\n")
	for _, mode := range Modes {
		t := r.total(mode.Name)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", t.Mode, t.Reconnects, t.Skipped, t.Repeated, t.Gaps, byStatus(t.Refused))
	}
	b.WriteString("\nEach round:\n\n")
	b.WriteString("| round | edge | origin subscriptions | origin requests (unanswered) | catch-ups opened / shared / refused | all back after | CPU origin | CPU edge | CPU load generator | load average before, after |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %d | %s | %d | %d (%d) | %d / %d / %d | %s | %.2f s | %.2f s | %.2f s | %s; %s |\n",
			p.Round, p.Mode, p.OriginSubscriptions, p.OriginRequests, p.OriginUnanswered,
			p.EdgeCatchUps[catchUpOpened], p.EdgeCatchUps[catchUpShared], p.EdgeCatchUps[catchUpRefused],
			backText(p, r.Subscribers), p.CPU[cpuOrigin], p.CPU[cpuEdge], p.CPU[cpuLoad], p.LoadBefore, p.LoadAfter)
	}
	return b.String()
}
