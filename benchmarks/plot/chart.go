// Package plot draws the benchmarks' charts with gonum.org/v1/plot: lines
// with points on linear or logarithmic axes, saved as PNG and SVG. What the
// charts show is the caller's.
package plot

import (
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart is a line chart: a title, labelled axes, each linear or
// logarithmic, and one line per series.
type Chart struct {
	Title          string
	XLabel, YLabel string
	LogX, LogY     bool
	Series         []Series
}

// Series is one line of a chart, its points in order.
type Series struct {
	Label  string
	Points []XY
}

// XY is a point of a series.
type XY struct{ X, Y float64 }

// xyer gives gonum the points of a series.
type xyer []XY

func (p xyer) Len() int                { return len(p) }
func (p xyer) XY(i int) (x, y float64) { return p[i].X, p[i].Y }

// Save draws the chart's series as lines with points and saves it as
// name.png and name.svg in dir; a chart without series is not saved.
//
// The legend goes top left: a CDF leaves it empty, and charts with a
// logarithmic Y axis get a decade of headroom for it.
func (c Chart) Save(dir, name string) error {
	if len(c.Series) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	for i, s := range c.Series {
		l, err := plotter.NewLine(xyer(s.Points))
		if err != nil {
			return err
		}
		colors := palette()
		l.Color = colors[i%len(colors)]
		l.Dashes = plotutil.Dashes(i / len(colors))
		l.Width = vg.Points(1.5)
		p.Add(l)
		if len(s.Points) > 20 { // a CDF: the line says it all
			p.Legend.Add(s.Label, l)
			continue
		}
		pts, err := plotter.NewScatter(xyer(s.Points))
		if err != nil {
			return err
		}
		pts.Color = l.Color
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(2.5)
		p.Add(pts)
		p.Legend.Add(s.Label, l, pts)
	}
	if c.LogY {
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
