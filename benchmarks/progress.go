package benchmarks

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress is the progress bar on standard error: the steps of the run
// weighted by their expected duration, what runs now, and an estimate of
// the time left. A nil *progress shows nothing.
type progress struct {
	w       io.Writer
	total   time.Duration
	started time.Time

	mu    sync.Mutex
	done  time.Duration
	label string
}

func newProgress(w io.Writer, total time.Duration) *progress {
	if w == nil {
		return nil
	}
	return &progress{w: w, total: max(total, time.Second), started: time.Now()}
}

// begin shows that a step starts.
func (p *progress) begin(label string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.label = label
	p.mu.Unlock()
	p.draw()
}

// finish counts a step of expected duration d as done.
func (p *progress) finish(d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done += d
	p.mu.Unlock()
	p.draw()
}

// close ends the bar's line.
func (p *progress) close() {
	if p == nil {
		return
	}
	fmt.Fprintln(p.w)
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	const width = 30
	frac := min(float64(p.done)/float64(p.total), 1)
	filled := int(frac * width)
	elapsed := time.Since(p.started)
	eta := "?"
	if frac > 0.02 {
		eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	}
	label := p.label
	if len(label) > 40 {
		label = label[:40]
	}
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %-40s elapsed %v, left ~%s   ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac, label,
		elapsed.Round(time.Second), eta)
}
