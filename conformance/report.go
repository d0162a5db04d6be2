package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Report is the outcome of a run, in the order the checks ran.
type Report struct {
	// Role is "origin" or "intermediary".
	Role string `json:"role"`
	// Target is the URL tested (for an intermediary, its base URL).
	Target string `json:"target"`
	// Upstream is the scripted upstream's URL (intermediaries only).
	Upstream string    `json:"upstream,omitempty"`
	Started  time.Time `json:"started"`
	// Versions are the HTTP versions the target was found to offer ("h1",
	// "h2", "h3").
	Versions []string      `json:"versions,omitempty"`
	Results  []CheckResult `json:"results"`
	Summary  Summary       `json:"summary"`
}

// CheckResult is one check and its result.
type CheckResult struct {
	ID          string `json:"id"`
	Section     string `json:"section"`
	Level       Level  `json:"level"`
	Requirement string `json:"requirement"`
	Status      Status `json:"status"`
	Detail      string `json:"detail,omitempty"`
}

// Summary counts the results.
type Summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// MustFailures counts the failed MUSTs: a conforming implementation
	// has none.
	MustFailures int `json:"must_failures"`
}

func (r *Report) add(c *Check, res Result) {
	r.Results = append(r.Results, CheckResult{ID: c.ID, Section: c.Section, Level: c.Level, Requirement: c.Requirement, Status: res.Status, Detail: res.Detail})
	switch res.Status {
	case Pass:
		r.Summary.Passed++
	case Fail:
		r.Summary.Failed++
		if c.Level == MUST {
			r.Summary.MustFailures++
		}
	default:
		r.Summary.Skipped++
	}
}

// Result returns the result of the check with the given id, and whether it
// ran.
func (r *Report) Result(id string) (CheckResult, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return CheckResult{}, false
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// statusMarks are the marks h2spec prints before each case.
var statusMarks = map[Status]string{Pass: "✔", Fail: "×", Skip: "-"}

// WriteText prints the results as h2spec does: grouped by section, one line
// a check, the evidence under each failure and the reason under each skip
// (and under every check when verbose), then the counts.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "%s %s", r.Role, r.Target)
	if r.Upstream != "" {
		fmt.Fprintf(w, " (scripted upstream %s)", r.Upstream)
	}
	if len(r.Versions) > 0 {
		fmt.Fprintf(w, ", offering %v", r.Versions)
	}
	fmt.Fprintln(w)
	section := ""
	for _, res := range r.Results {
		if res.Section != section {
			section = res.Section
			fmt.Fprintf(w, "\n  %s\n", section)
		}
		fmt.Fprintf(w, "    %s %s [%s] %s\n", statusMarks[res.Status], res.ID, res.Level, res.Requirement)
		if res.Detail != "" && (verbose || res.Status != Pass) {
			fmt.Fprintf(w, "        %s\n", res.Detail)
		}
	}
	s := r.Summary
	fmt.Fprintf(w, "\n%d checks, %d passed, %d skipped, %d failed (%d MUST)\n", len(r.Results), s.Passed, s.Skipped, s.Failed, s.MustFailures)
}
