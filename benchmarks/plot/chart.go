// Package plot draws the benchmarks' charts with gonum.org/v1/plot: lines
// with points on linear or logarithmic axes, or bars when each series is
// one point, saved as PNG and SVG. What the charts show is the caller's.
package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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

// Size of a saved chart.
const (
	chartWidth  = 11 * vg.Inch // the plot and, to its right, the legend
	chartHeight = 5.5 * vg.Inch
	// A bar chart is as high as its bars need.
	barsBaseHeight = 1.4 * vg.Inch
	barHeight      = 0.4 * vg.Inch
)

// Save draws the chart and saves it as name.png and name.svg in dir; a
// chart without series is not saved.
//
// Series of several points are drawn as lines with points, and the legend
// goes to the right of the plot, where it covers nothing. When no series
// has more than one point (a run at one N, say), lines would leave the plot
// nearly empty: the chart is drawn as bars instead, one per series, each
// labelled with its value, at the X value they share (named in the title).
func (c Chart) Save(dir, name string) error {
	if len(c.Series) == 0 {
		return nil
	}
	var (
		p      *plot.Plot
		legend plot.Legend
		err    error
	)
	height := chartHeight
	if c.singlePoints() {
		p, err = c.bars()
		height = barsBaseHeight + vg.Length(len(c.Series))*barHeight
	} else {
		p, legend, err = c.lines()
	}
	if err != nil {
		return err
	}
	for _, format := range []string{"png", "svg"} {
		if err := save(p, legend, height, format, filepath.Join(dir, name+"."+format)); err != nil {
			return err
		}
	}
	return nil
}

// singlePoints reports whether no series has more than one point.
func (c Chart) singlePoints() bool {
	for _, s := range c.Series {
		if len(s.Points) > 1 {
			return false
		}
	}
	return true
}

func (c Chart) newPlot() *plot.Plot {
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
	return p
}

// lines draws each series as a line (with its points, unless it has so
// many that it is a curve, a CDF) and returns the legend apart, for save
// to place beside the plot.
func (c Chart) lines() (*plot.Plot, plot.Legend, error) {
	p := c.newPlot()
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	colors := palette()
	for i, s := range c.Series {
		l, err := plotter.NewLine(xyer(s.Points))
		if err != nil {
			return nil, legend, err
		}
		l.Color = colors[i%len(colors)]
		l.Dashes = plotutil.Dashes(i / len(colors))
		l.Width = vg.Points(1.5)
		p.Add(l)
		if len(s.Points) > 20 { // a CDF: the line says it all
			legend.Add(s.Label, l)
			continue
		}
		pts, err := plotter.NewScatter(xyer(s.Points))
		if err != nil {
			return nil, legend, err
		}
		pts.Color = l.Color
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(2.5)
		p.Add(pts)
		legend.Add(s.Label, l, pts)
	}
	return p, legend, nil
}

// bars draws one horizontal bar per series, its value written at its end,
// on a linear axis (a bar on a logarithmic one has no base).
func (c Chart) bars() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.Title
	var at []string
	var values plotter.Values
	var names []string
	var labels plotter.XYLabels
	for i, s := range c.Series {
		v := 0.0
		if len(s.Points) == 1 {
			v = s.Points[0].Y
			at = append(at, strconv.FormatFloat(s.Points[0].X, 'f', -1, 64))
		}
		values = append(values, v)
		names = append(names, s.Label)
		labels.XYs = append(labels.XYs, plotter.XY{X: v, Y: float64(i)})
		labels.Labels = append(labels.Labels, " "+strconv.FormatFloat(v, 'f', significant(v), 64))
	}
	if at = slices.Compact(at); len(at) == 1 {
		p.Title.Text += fmt.Sprintf(" (%s = %s)", c.XLabel, at[0])
	}
	p.X.Label.Text = c.YLabel
	p.X.Tick.Marker = plainTicks{}
	p.Add(plotter.NewGrid())
	b, err := plotter.NewBarChart(values, vg.Points(14))
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.Color = palette()[0]
	b.LineStyle.Width = 0
	p.Add(b)
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].YAlign = -0.5 // centred on the bar
	}
	p.Add(l)
	p.NominalY(names...)
	p.X.Min = 0
	p.X.Max *= 1.15 // room for the labels past the longest bar
	return p, nil
}

// plainTicks are gonum's default ticks, labelled without trailing zeros.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}

// significant is how many decimals show three significant digits of v,
// for a bar's label.
func significant(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return 0
	case a >= 10:
		return 1
	default:
		return 2
	}
}

// layout splits dc between the plot and, to its right, as wide as it
// needs and level with the top of the plot's area below the title, the
// legend (none if it has no entries).
func layout(dc draw.Canvas, p *plot.Plot, legend plot.Legend) (plotArea, legendArea draw.Canvas) {
	pad := vg.Points(10) // each side of the legend
	width := legend.Rectangle(dc).Size().X
	if width == 0 {
		return dc, draw.Crop(dc, dc.Size().X, 0, 0, 0)
	}
	width += 2 * pad
	top := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	return draw.Crop(dc, 0, -width, 0, 0), draw.Crop(dc, dc.Size().X-width+pad, -pad, 0, -top)
}

// save writes p in format with the legend, if it has entries, to the right
// of the plot area, level with its top.
func save(p *plot.Plot, legend plot.Legend, height vg.Length, format, file string) error {
	c, err := draw.NewFormattedCanvas(chartWidth, height, format)
	if err != nil {
		return err
	}
	plotArea, legendArea := layout(draw.New(c), p, legend)
	p.Draw(plotArea)
	if legendArea.Size().X > 0 {
		legend.Draw(legendArea)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
