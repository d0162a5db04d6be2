// Package chaos is the fault suite: subscribers on every protocol and
// format, directly at an origin and through two tiers of edges (origin ←
// edge tier 1 ← edge tier 2), follow one outbox while notes are posted to
// it at a steady rate, and each server is killed (SIGKILL) at seeded random
// moments and started again on the same address with the same data
// directory. Afterwards every subscriber's events are checked against the
// origin's log: every event exactly once and in order, or an explicit gap
// event where resuming was impossible. Then, still streaming, a revoked
// token, a flood of distinct query strings and an HTTP/2 client that opens
// a stream with no flow-control window are each shown to be dealt with
// without harm to the others.
//
// Run is the suite; `subpub bench chaos` (make chaos) is its command line,
// and it writes report.md and report.json. Its parts, one a file: the
// configuration (config.go) and the run's steps (run.go), the servers and
// their faults (servers.go, schedule.go), the subscribers (subscribers.go),
// the truth read back from the log (truth.go), the checker (checker.go),
// recovery times (recovery.go), the three attacks (revocation.go, flood.go,
// zerowindow.go; join.go joins a stream again and again for the first two)
// and the report (report.go).
package chaos
