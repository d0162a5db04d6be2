package benchmarks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
)

// writeReport writes report.md: the machine, the targets, the sweep's
// tables with ratios to the baseline and to the physical limit of the same
// run, memory, bytes on the wire, the lossy link, the plots and the method.
func writeReport(dir string, res *Results) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	p("# subpub benchmarks\n\n")
	p("Run on %s, %s. Reproduce with `make bench` (quick) or `make bench-full` (this sweep); the raw figures are in `results.json`.\n\n", m.Date[:10], time.Duration(res.Elapsed*float64(time.Second)).Round(time.Second))
	p("| machine | |\n|---|---|\n")
	p("| CPU | %s, %d cores |\n| memory | %.0f GiB |\n| kernel | Linux %s |\n| OS | %s |\n| Go | %s |\n", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.OS, m.Go)
	if m.Peers != "" {
		p("| peers | %s |\n", m.Peers)
	}
	c := res.Config
	p("\nServers and load generator share the machine: every figure is from one run, systems in turn at each point, and the ones worth quoting are ratios within the run. ")
	p("Each point: fresh servers, %d s warm-up, %.0f s measured window, up to %.0f s drain for the window's last deliveries. HTTP/2 and HTTP/3 subscriptions are multiplexed %d per connection (%s each); HTTP/1.1 uses one connection per subscription.\n\n",
		int(c.WarmupSeconds), c.WindowSeconds, c.DrainSeconds, c.PerConnection, muxConnection(c.MultiplexedReader))
	s := res.Sample
	p("**The event.** alice posts a public `Create{Note}` of %d bytes to her outbox; the origin emits an `%s` event on the outbox stream whose data (%d bytes) embeds the activity. On the wire: %d bytes as an SSE frame, %d bytes as the `Event` and `Event-Data` fields of a 105 response (before HPACK/QPACK, TLS and transport headers).\n\n",
		s.ActivityBytes, s.Type, s.DataBytes, s.SSEBytes, s.PUBBytes)

	p("## Targets\n\nThe goals the edge is measured against, as this run measured them (goals for the report, not tests); those this run's points do not reach are left out.\n\n")
	p("| target | measured | |\n|---|---|---|\n")
	for _, t := range targets(res) {
		if t.Verdict != notMeasured {
			p("| %s | %s | %s |\n", t.Target, t.Measured, t.Verdict)
		}
	}

	p("\n## Fan-out sweep\n\n")
	p("Deliveries/s counts the window's events delivered (by the end of the drain) per second of window; *× base* and *× limit* divide by the baseline's and the bare sender's figure at the same point. ")
	p("Origin: TCP connections to the origin and its active subscriptions while the subscribers were connected. CPU is the window's, in seconds and %% of one core; RSS is each server's peak (VmHWM). *Resubscribed* counts subscriptions the server ended (a subscriber too far behind is cut off and resumes with Last-Event-ID) that the reader re-established.\n")
	for _, n := range c.Subscribers {
		for _, rate := range c.Rates {
			rows := res.pointsAt(n, rate)
			if len(rows) == 0 {
				continue
			}
			base, hasBase := res.point(baselineSystem, n, rate)
			limit, hasLimit := res.point(limitSystem, n, rate)
			p("\n### %s subscribers × %d events/s\n\n", thousands(n), rate)
			// One table of 16 columns is unreadable: three, each a question
			// (how much, how fast, at what cost), the system in each.
			p("**Deliveries.**\n\n")
			p("| system | deliveries/s | × base | × limit | delivered | publish/s | resubscribed |\n|---|---:|---:|---:|---:|---:|---:|\n")
			for _, r := range rows {
				if r.Error != "" {
					p("| %s | failed: %s ||||| |\n", r.Label, oneLine(r.Error))
					continue
				}
				p("| %s | %s | %s | %s | %.1f%% | %.1f / %.0f | %d |\n",
					r.Label, thousands(int(r.DeliveriesPerSec)),
					ratio(r.DeliveriesPerSec, base.DeliveriesPerSec, hasBase), ratio(r.DeliveriesPerSec, limit.DeliveriesPerSec, hasLimit),
					100*r.Fraction, r.Publish.Achieved, r.Publish.Requested, r.Reconnects)
			}
			p("\n**Latency**, from publication to the subscriber.\n\n")
			p("| system | p50 | p90 | p99 | p99 × limit | max |\n|---|---:|---:|---:|---:|---:|\n")
			for _, r := range rows {
				if r.Error == "" {
					p("| %s | %s | %s | %s | %s | %s |\n", r.Label, ms(r.P50MS), ms(r.P90MS), ms(r.P99MS), ratio(r.P99MS, limit.P99MS, hasLimit), ms(r.MaxMS))
				}
			}
			p("\n**Cost.** CPU per delivery is, for each process, µs of CPU time per event delivered to one subscriber: the process nearest 100%% of a core is what limited the point.\n\n")
			p("| system | origin conns / subs | server CPU | server peak RSS | load gen CPU | CPU µs per delivery |\n|---|---:|---|---|---:|---|\n")
			for _, r := range rows {
				if r.Error == "" {
					p("| %s | %s | %s | %s | %.0f%% | %s |\n", r.Label, originCell(r), cpuCell(r.Servers), rssCell(r.Servers), r.LoadGen.CPUPercent, perDeliveryCell(r))
				}
			}
			for _, r := range rows {
				if r.Bare != nil && r.Bare.Writes > 0 {
					p("\nBare sender: %.1f events per write system call.\n", float64(r.Bare.Frames)/float64(r.Bare.Writes))
				}
			}
		}
	}
	p("\nPlots: deliveries/s versus N (`deliveries-R*.png`), latency CDFs (`cdf-N*-R*.png`), server memory versus N (`memory.png`).\n")

	p("\n## Memory per idle subscriber\n\nRSS growth of the server (the edge; the origin for the baseline) when idle subscriptions are added to one, divided by their number.\n\n")
	p("| system | subscribers | RSS before | RSS after | per subscriber |\n|---|---:|---:|---:|---:|\n")
	for _, mr := range res.Memory {
		if mr.Error != "" {
			p("| %s | failed: %s |||| \n", mr.Label, oneLine(mr.Error))
			continue
		}
		p("| %s | %s | %.1f MB | %.1f MB | %.1f KiB |\n", mr.Label, thousands(mr.Subscribers), mr.BeforeMB, mr.AfterMB, mr.PerSubKiB)
	}

	p("\n## Bytes on the wire per event per subscriber\n\n")
	p("Measured at the loopback interface: what one more subscriber costs per event, both directions (the acknowledgements too), IP and TCP/UDP headers, TLS or QUIC, HTTP framing and header compression included; events published one at a time (%d/s), so none shares a write with another. HTTP/1.1 is cleartext, HTTP/2 and HTTP/3 are over TLS/QUIC. The event itself is %d bytes as SSE, %d as PUB fields. PUB over HTTP/2 is the exception: HPACK's dynamic table lets every stream of a connection after the first refer to the same `Event-Data` entry (while the subscribers are in step; a 1.1 KB entry leaves room for three in the 4 KiB table), whereas quic-go's QPACK has no dynamic table and DATA frames are not compressed.\n\n", wireRate, s.SSEBytes, s.PUBBytes)
	p("| protocol | encoding | system | bytes/event/subscriber | × SSE frame | read by the reader |\n|---|---|---|---:|---:|---:|\n")
	for _, w := range res.Wire {
		if w.Error != "" {
			p("| %s | %s | %s | failed: %s | | |\n", w.Proto, w.Format, w.Label, oneLine(w.Error))
			continue
		}
		reader := ""
		if w.ReaderBytesPerEvent > 0 {
			reader = fmt.Sprintf("%.0f B", w.ReaderBytesPerEvent)
		}
		p("| %s | %s | %s | %.0f B | %.2f | %s |\n", w.Proto, strings.ToUpper(w.Format), w.Label, w.BytesPerEvent, w.BytesPerEvent/float64(s.SSEBytes), reader)
	}

	writeLossSection(p, res)

	p("\n## Method\n\n")
	p("- Servers are separate processes (`subpub origin`, `subpub edge`, the bare sender, the peers), started fresh for each point; their CPU time (utime+stime) and peak RSS (VmHWM) come from /proc. The load generator (subscribers and publisher) is the bench process; its CPU is given too.\n")
	p("- The publisher posts at a steady rate, each post in its own goroutine (at most %d in flight; a tick past that is skipped and counted), so it never waits for the fan-out; *publish/s* is what it achieved. The origin stamps each event with its commit time (`t`, ms), and each subscriber records receive time − `t` in a log-linear histogram (1.6%% resolution). No post straddles a window bound, so every event is in or out of the window.\n", load.DefaultMaxInFlight)
	if c.MultiplexedReader == load.ReaderLean {
		p("- HTTP/1.1 SSE (baseline, edge, bare sender, peers) is read by a lean reader off cleartext sockets, and SUB and SSE over HTTP/2 and HTTP/3 by its multiplexed counterparts, off connections of their own (x/net's HTTP/2 framer and HPACK decoder; quic-go's QUIC streams, the HTTP/3 frames and static-table QPACK read in place), which look at nothing of an event but its `t`; SUB over HTTP/1.1, and both protocols over the lossy link, by subpub's client. The edge subscribes to the origin over HTTP/2 with TLS.\n")
	} else {
		p("- HTTP/1.1 SSE (baseline, edge, bare sender, peers) is read by a lean reader off cleartext sockets; SUB and HTTP/2 and HTTP/3 subscriptions by subpub's client. The edge subscribes to the origin over HTTP/2 with TLS.\n")
	}
	p("- The bare sender writes pre-encoded SSE frames straight to N sockets, each socket's writer writing all that is pending in one system call: the machine's limit for this fan-out. It stamps `t` when it takes the event; the origin stamps it in the transaction that logs the event, so subpub's latencies include the origin's commit (SQLite) and, through the edge, the upstream hop.\n")
	p("- The window's events are counted from their times after the run (the origin's log replayed from the start, the bare sender's own count, nchan's publisher), so *delivered* is exact even when a busy server accepts publications late.\n")
	p("- Memory per idle subscriber and bytes per event are differences between two states of the same fresh servers (one subscriber, then %s more), so what does not depend on the subscribers cancels out.\n", thousands(c.IdleSubscribers))
	for _, note := range res.Notes {
		p("- %s\n", note)
	}
	// The analysis of a run is written by a person after it, beside the
	// results, and kept when the report is rendered again.
	if note, err := os.ReadFile(filepath.Join(dir, "notes.md")); err == nil {
		p("\n## Closing note\n\n%s", note)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}

func writeLossSection(p func(string, ...any), res *Results) {
	l := res.Loss
	p("\n## HTTP/3 versus HTTP/2 under loss\n\n")
	if l.Skipped != "" {
		p("Not measured: %s.\n", l.Skipped)
		return
	}
	if len(l.Runs) == 0 {
		p("Not measured in this run.\n")
		return
	}
	p("Servers in one network namespace, subscribers in another, joined by a user-space link (TUN devices, 198.18.0.0/15) with %.0f ms one-way delay (%.0f ms RTT) and the same drop probability each way. %d subscriptions multiplexed on one connection, %d events/s; the publisher is beside the servers.\n\n",
		l.DelayMS, 2*l.DelayMS, l.Subscribers, l.Rate)
	p("| system | drop | delivered | p50 | p90 | p99 | max | packets down | dropped (down/up) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range l.Runs {
		if r.Error != "" {
			p("| %s | %.1f%% | failed: %s |||||||\n", r.Label, 100*r.Drop, oneLine(r.Error))
			continue
		}
		p("| %s | %.1f%% | %.1f%% | %s | %s | %s | %s | %d | %d / %d |\n", r.Label, 100*r.Drop, 100*r.Fraction,
			ms(r.P50MS), ms(r.P90MS), ms(r.P99MS), ms(r.MaxMS), r.PacketsDown, r.DroppedDown, r.DroppedUp)
	}
	p("\nPlot: `loss.png` (p50 and p99 per protocol and drop rate).\n")
}

// pointsAt are the results at N and R, in system order.
func (r *Results) pointsAt(n, rate int) []PointResult {
	var out []PointResult
	for _, p := range r.Points {
		if p.N == n && p.Rate == rate {
			out = append(out, p)
		}
	}
	return out
}

func ratio(v, ref float64, ok bool) string {
	if !ok || ref <= 0 || v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v/ref)
}

func originCell(r PointResult) string {
	if r.OriginConnections < 0 {
		return "–"
	}
	return fmt.Sprintf("%d / %d", r.OriginConnections, r.OriginSubscriptions)
}

func cpuCell(servers []Usage) string {
	var parts []string
	for _, s := range servers {
		parts = append(parts, fmt.Sprintf("%s %.1f s (%.0f%%)", s.Role, s.CPUSeconds, s.CPUPercent))
	}
	return strings.Join(parts, ", ")
}

// perDeliveryCell is each process's CPU time in the window per delivery
// made in it, the load generator's included.
func perDeliveryCell(r PointResult) string {
	var parts []string
	for _, s := range append(append([]Usage(nil), r.Servers...), r.LoadGen) {
		if us, ok := r.cpuPerDelivery(s); ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", s.Role, us))
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func rssCell(servers []Usage) string {
	var parts []string
	for _, s := range servers {
		parts = append(parts, fmt.Sprintf("%s %.0f MB", s.Role, s.PeakRSSMB))
	}
	return strings.Join(parts, ", ")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "|", "/")
}

// muxConnection names what a multiplexed connection of the load generator
// is, for the reader that read it.
func muxConnection(reader string) string {
	if reader == load.ReaderLean {
		return "one connection of the lean reader"
	}
	return "one `client.Client`"
}
