package benchmarks

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots draws the run's figures, each as PNG and SVG: deliveries/s
// versus N per rate, latency CDFs per point, server memory versus N, and
// the latency percentiles over the lossy link.
func writePlots(dir string, res *Results) error {
	for _, rate := range res.Config.Rates {
		err := lineChart(dir, fmt.Sprintf("deliveries-R%d", rate),
			fmt.Sprintf("Deliveries per second, %d events/s", rate), "subscribers (N)", "deliveries/s", true, true,
			res.seriesByN(rate, func(p PointResult) float64 { return p.DeliveriesPerSec }))
		if err != nil {
			return err
		}
	}
	for _, n := range res.Config.Subscribers {
		for _, rate := range res.Config.Rates {
			var series []series
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
			err := lineChart(dir, fmt.Sprintf("cdf-N%d-R%d", n, rate),
				fmt.Sprintf("Latency CDF, %s subscribers × %d events/s", thousands(n), rate), "latency (ms)", "fraction delivered", true, false, series)
			if err != nil {
				return err
			}
		}
	}
	var memory []series
	for _, rate := range res.Config.Rates[len(res.Config.Rates)-1:] {
		memory = res.seriesByN(rate, func(p PointResult) float64 {
			if len(p.Servers) == 0 {
				return -1
			}
			return p.Servers[len(p.Servers)-1].PeakRSSMB
		})
	}
	if err := lineChart(dir, "memory", "Peak RSS of the server facing the subscribers", "subscribers (N)", "MB", true, true, memory); err != nil {
		return err
	}
	return lossChart(dir, res)
}

// series is one line of a chart.
type series struct {
	label string
	xys   plotter.XYs
}

// newSeries keeps the points a logarithmic axis can show.
func newSeries(label string, xs, ys []float64) series {
	s := series{label: label}
	for i := range xs {
		if xs[i] > 0 && ys[i] > 0 {
			s.xys = append(s.xys, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	return s
}

// seriesByN is, for every system, a figure of its points at rate by N.
func (r *Results) seriesByN(rate int, figure func(PointResult) float64) []series {
	var out []series
	for _, sys := range Systems() {
		s := series{label: sys.Label}
		for _, p := range r.Points {
			if p.System == sys.Name && p.Rate == rate && p.Error == "" {
				if v := figure(p); v > 0 {
					s.xys = append(s.xys, plotter.XY{X: float64(p.N), Y: v})
				}
			}
		}
		if len(s.xys) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func lossChart(dir string, res *Results) error {
	var out []series
	for _, name := range []string{"edge-sub-h2", "edge-sub-h3", "edge-sse-h2", "edge-sse-h3"} {
		sys, _ := systemByName(name)
		p50, p99 := series{label: sys.Label + " p50"}, series{label: sys.Label + " p99"}
		for _, r := range res.Loss.Runs {
			if r.System == name && r.Error == "" && r.P99MS > 0 {
				p50.xys = append(p50.xys, plotter.XY{X: 100 * r.Drop, Y: r.P50MS})
				p99.xys = append(p99.xys, plotter.XY{X: 100 * r.Drop, Y: r.P99MS})
			}
		}
		if len(p99.xys) > 0 {
			out = append(out, p50, p99)
		}
	}
	if len(out) == 0 {
		return nil
	}
	title := fmt.Sprintf("Latency over a lossy link (%.0f ms RTT, %d subscriptions on one connection)", 2*res.Loss.DelayMS, res.Loss.Subscribers)
	return lineChart(dir, "loss", title, "drop probability each way (%)", "latency (ms)", false, true, out)
}

// lineChart draws series as lines with points and saves name.png and
// name.svg.
//
// The legend goes top left: a CDF leaves it empty, and charts with a
// logarithmic Y axis get a decade of headroom for it.
func lineChart(dir, name, title, xLabel, yLabel string, logX, logY bool, lines []series) error {
	if len(lines) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	for i, s := range lines {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		colors := palette()
		l.Color = colors[i%len(colors)]
		l.Dashes = plotutil.Dashes(i / len(colors))
		l.Width = vg.Points(1.5)
		p.Add(l)
		if len(s.xys) > 20 { // a CDF: the line says it all
			p.Legend.Add(s.label, l)
			continue
		}
		pts, err := plotter.NewScatter(s.xys)
		if err != nil {
			return err
		}
		pts.Color = l.Color
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(2.5)
		p.Add(pts)
		p.Legend.Add(s.label, l, pts)
	}
	if logY {
		p.Y.Max *= 10 // headroom for the legend above the data
	}
	for _, ext := range []string{".png", ".svg"} {
		if err := p.Save(9*vg.Inch, 5.5*vg.Inch, filepath.Join(dir, name+ext)); err != nil {
			return err
		}
	}
	return nil
}

// palette is ten colours told apart at a glance (Tableau 10), one per
// system.
func palette() []color.Color {
	hex := []uint32{0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f, 0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0x000000}
	out := make([]color.Color, len(hex))
	for i, h := range hex {
		out[i] = color.RGBA{R: uint8(h >> 16), G: uint8(h >> 8), B: uint8(h), A: 255}
	}
	return out
}
