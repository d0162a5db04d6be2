package plot

import (
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func manyPoints() Chart {
	var series []Series
	for i, label := range []string{"origin SSE h1 (baseline)", "edge SSE h1", "edge SUB h2", "bare socket limit (SSE h1)"} {
		s := Series{Label: label}
		for n := 100.0; n <= 100000; n *= 10 {
			s.Points = append(s.Points, XY{X: n, Y: n * float64(10+i)})
		}
		series = append(series, s)
	}
	return Chart{Title: "deliveries", XLabel: "subscribers (N)", YLabel: "deliveries/s", LogX: true, LogY: true, Series: series}
}

// The legend is placed beside the data, not over it: its rectangle and
// the data area do not meet. Negative control: gonum's own placement, in
// a corner of the data area, does.
func TestLegendDoesNotCoverTheData(t *testing.T) {
	c := manyPoints()
	p, legend, err := c.lines()
	if err != nil {
		t.Fatal(err)
	}
	img, err := draw.NewFormattedCanvas(chartWidth, chartHeight, "png")
	if err != nil {
		t.Fatal(err)
	}
	dc := draw.New(img)
	plotArea, legendArea := layout(dc, p, legend)
	data := p.DataCanvas(plotArea).Rectangle
	box := legend.Rectangle(legendArea)
	if box.Size().X == 0 || box.Size().Y == 0 {
		t.Fatalf("no legend: %v", box)
	}
	if overlaps(data, box) {
		t.Errorf("the legend %v covers the data area %v", box, data)
	}
	if inside := legend.Rectangle(p.DataCanvas(dc)); !overlaps(p.DataCanvas(dc).Rectangle, inside) {
		t.Errorf("negative control: a legend inside the data area (%v) does not meet it (%v)", inside, p.DataCanvas(dc).Rectangle)
	}
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// A chart whose series are one point each is drawn as bars; one with
// curves, as lines. Both are saved in both formats.
func TestSaveChoosesBarsForSinglePoints(t *testing.T) {
	single := Chart{Title: "deliveries", XLabel: "subscribers (N)", YLabel: "deliveries/s", LogY: true,
		Series: []Series{{Label: "edge SUB h3", Points: []XY{{50000, 49800}}}, {Label: "edge SSE h3", Points: []XY{{50000, 50000}}}}}
	if !single.singlePoints() || manyPoints().singlePoints() {
		t.Fatal("singlePoints misjudges")
	}
	p, err := single.bars()
	if err != nil {
		t.Fatal(err)
	}
	if p.Title.Text != "deliveries (subscribers (N) = 50000)" || p.X.Min != 0 {
		t.Errorf("bars: title %q, axis from %v", p.Title.Text, p.X.Min)
	}
	dir := t.TempDir()
	for name, c := range map[string]Chart{"single": single, "many": manyPoints()} {
		if err := c.Save(dir, name); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".png", ".svg"} {
			if fi, err := os.Stat(filepath.Join(dir, name+ext)); err != nil || fi.Size() == 0 {
				t.Errorf("%s%s: %v", name, ext, err)
			}
		}
	}
}
