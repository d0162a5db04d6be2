// Package load is the benchmarks' load generator: subscribers that record
// the latency of every delivery (lean readers for SSE over HTTP/1.1 and for
// SUB and SSE over HTTP/2 and HTTP/3, or subpub's client for any protocol
// and encoding), a publisher at a steady
// rate, the bare sender (the machine's limit of fan-out), and the child
// processes that play these roles where the harness needs a process of its
// own: to measure it, or to place it in a network namespace.
package load
