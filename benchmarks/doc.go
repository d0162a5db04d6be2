// Package benchmarks measures subpub against the ways people fan events out
// today, on the machine it runs on, in one run: N subscribers to one
// ActivityPub outbox stream, a note published R times a second, and for
// each system in turn (the origin's SSE as the baseline, the edge over
// SUB and SSE on HTTP/1.1, HTTP/2 and HTTP/3, a bare socket sender as the
// physical limit, and optionally nginx+nchan and Varnish) the deliveries per
// second, the fraction delivered, end-to-end latency percentiles, the
// publish rate achieved, what the origin serves, and the CPU and memory of
// every server process. It also measures the edge's memory per idle
// subscriber, the bytes one event costs per subscriber on the wire for each
// protocol and encoding, and HTTP/2 against HTTP/3 over a link with delay
// and loss made of two network namespaces and a user-space relay.
//
// Run is the harness; cmd/subpub-bench (`subpub bench`) is its command
// line. It writes results.json, report.md and the plots (PNG and SVG). Its
// parts are packages of their own: load (the load generator's roles, in
// this process or in child processes), stats (latency distributions),
// procstat (CPU and memory of processes), netem (the lossy link) and plot
// (drawing the charts).
//
// The servers are separate processes, so that their CPU time and peak
// memory can be read from /proc; the load generator runs in the calling
// process and reports its own CPU. Everything shares the machine, so the
// figures to quote are ratios between the rows of one run.
package benchmarks
