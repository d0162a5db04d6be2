// Package restart measures what an edge's restart costs its origin: 5,000
// subscribers follow a stream through an edge, the edge is killed (SIGKILL)
// and started again with an empty ring, and every subscriber comes back
// with its Last-Event-ID at once. It counts the subscriptions and requests
// the origin serves during that storm and the CPU of every process (the
// origin, the edge, and this one, the load generator), once with the edge
// sharing catch-ups (its default) and once with --separate-catchups (one
// per subscriber, as edges did before), in the same run against the same
// origin, so that the comparison is a ratio.
//
// The subscribers' ids differ, as they do after a restart: each resumes
// from the last event it processed, which lags the last it received by 0
// to Spread-1 events (a fixed lag each, spread evenly over the
// subscribers), as a client that records its position only once an event
// is handled does. Were all ids the same, the first subscriber back would
// open the shared subscription from that id and every other one would be
// served from its ring, with or without sharing.
package restart
