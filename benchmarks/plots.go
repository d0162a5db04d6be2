package benchmarks

import (
	"fmt"

	"github.com/subpub/subpub/benchmarks/plot"
)

// writePlots draws the run's figures, each as PNG and SVG: deliveries/s
// versus N per rate, latency CDFs per point, server memory versus N, and
// the latency percentiles over the lossy link.
func writePlots(dir string, res *Results) error {
	for _, rate := range res.Config.Rates {
		err := plot.Chart{
			Title:  fmt.Sprintf("Deliveries per second, %d events/s", rate),
			XLabel: "subscribers (N)", YLabel: "deliveries/s", LogX: true, LogY: true,
			Series: res.seriesByN(rate, func(p PointResult) float64 { return p.DeliveriesPerSec }),
		}.Save(dir, fmt.Sprintf("deliveries-R%d", rate))
		if err != nil {
			return err
		}
	}
	for _, n := range res.Config.Subscribers {
		for _, rate := range res.Config.Rates {
			var series []plot.Series
			for _, p := range res.pointsAt(n, rate) {
				if p.Error != "" || p.Latency.Count() == 0 {
					continue
				}
				xs, ys := p.Latency.CDF()
				series = append(series, newSeries(p.Label, xs, ys))
			}
			if len(series) == 0 {
				continue
			}
			err := plot.Chart{
				Title:  fmt.Sprintf("Latency CDF, %s subscribers × %d events/s", thousands(n), rate),
				XLabel: "latency (ms)", YLabel: "fraction delivered", LogX: true,
				Series: series,
			}.Save(dir, fmt.Sprintf("cdf-N%d-R%d", n, rate))
			if err != nil {
				return err
			}
		}
	}
	var memory []plot.Series
	for _, rate := range res.Config.Rates[len(res.Config.Rates)-1:] {
		memory = res.seriesByN(rate, func(p PointResult) float64 {
			if len(p.Servers) == 0 {
				return -1
			}
			return p.Servers[len(p.Servers)-1].PeakRSSMB
		})
	}
	err := plot.Chart{
		Title:  "Peak RSS of the server facing the subscribers",
		XLabel: "subscribers (N)", YLabel: "MB", LogX: true, LogY: true,
		Series: memory,
	}.Save(dir, "memory")
	if err != nil {
		return err
	}
	return lossChart(dir, res)
}

// newSeries keeps the points a logarithmic axis can show.
func newSeries(label string, xs, ys []float64) plot.Series {
	s := plot.Series{Label: label}
	for i := range xs {
		if xs[i] > 0 && ys[i] > 0 {
			s.Points = append(s.Points, plot.XY{X: xs[i], Y: ys[i]})
		}
	}
	return s
}

// seriesByN is, for every system, a figure of its points at rate by N.
func (r *Results) seriesByN(rate int, figure func(PointResult) float64) []plot.Series {
	var out []plot.Series
	for _, sys := range Systems() {
		s := plot.Series{Label: sys.Label}
		for _, p := range r.Points {
			if p.System == sys.Name && p.Rate == rate && p.Error == "" {
				if v := figure(p); v > 0 {
					s.Points = append(s.Points, plot.XY{X: float64(p.N), Y: v})
				}
			}
		}
		if len(s.Points) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func lossChart(dir string, res *Results) error {
	var out []plot.Series
	for _, name := range []string{"edge-sub-h2", "edge-sub-h3", "edge-sse-h2", "edge-sse-h3"} {
		sys, _ := systemByName(name)
		p50, p99 := plot.Series{Label: sys.Label + " p50"}, plot.Series{Label: sys.Label + " p99"}
		for _, r := range res.Loss.Runs {
			if r.System == name && r.Error == "" && r.P99MS > 0 {
				p50.Points = append(p50.Points, plot.XY{X: 100 * r.Drop, Y: r.P50MS})
				p99.Points = append(p99.Points, plot.XY{X: 100 * r.Drop, Y: r.P99MS})
			}
		}
		if len(p99.Points) > 0 {
			out = append(out, p50, p99)
		}
	}
	if len(out) == 0 {
		return nil
	}
	title := fmt.Sprintf("Latency over a lossy link (%.0f ms RTT, %d subscriptions on one connection)", 2*res.Loss.DelayMS, res.Loss.Subscribers)
	return plot.Chart{
		Title:  title,
		XLabel: "drop probability each way (%)", YLabel: "latency (ms)", LogY: true,
		Series: out,
	}.Save(dir, "loss")
}
