package conformance

import (
	"fmt"
)

// Level is the strength of the requirement a check tests, in the words of
// RFC 2119. A failed MUST makes the run fail; SHOULD and MAY failures are
// reported as such.
type Level string

const (
	MUST   Level = "MUST"
	SHOULD Level = "SHOULD"
	MAY    Level = "MAY"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the check could not be made (the server does not offer what it
	// needs, or an earlier step failed); it says why.
	Skip Status = "skip"
)

// Check is one requirement of the draft, and how to test it.
type Check struct {
	// ID is the anchor of the draft section the requirement is in and a
	// number within it, "first-106/2".
	ID string
	// Section is that section's title.
	Section string
	Level   Level
	// Requirement quotes the draft, or names the requirement where the
	// sentence is long.
	Requirement string
	run         checkFunc
}

// Section is the anchor part of the check's ID.
func (c *Check) SectionAnchor() string {
	for i := range len(c.ID) {
		if c.ID[i] == '/' {
			return c.ID[:i]
		}
	}
	return c.ID
}

// Result is what a check found.
type Result struct {
	Status Status
	// Detail says what was seen: on failure, the evidence; on skip, why.
	Detail string
}

func pass(format string, args ...any) Result {
	return Result{Status: Pass, Detail: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, args...)}
}

func skip(format string, args ...any) Result {
	return Result{Status: Skip, Detail: fmt.Sprintf(format, args...)}
}
