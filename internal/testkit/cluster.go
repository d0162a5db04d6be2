package testkit

import (
	"fmt"
	"testing"
)

// ClusterPoint is one configuration of the cluster benchmarks: how many
// servers publish through one store, and which store.
type ClusterPoint struct {
	Name string
	// Servers is how many origin servers share the store.
	Servers int
	// Postgres: the servers share one PostgreSQL database; otherwise the
	// one server has its own SQLite file.
	Postgres bool
}

// clusterPoints and clusterSubscribers are the matrix the cluster
// benchmarks measure. BenchmarkClusterPublish (servers in the test's
// process) and BenchmarkClusterProcesses (servers as processes) both run
// it, so that their figures compare point for point.
var (
	clusterPoints = []ClusterPoint{
		{"sqlite-1", 1, false},
		{"postgres-1", 1, true},
		{"postgres-3", 3, true},
	}
	clusterSubscribers = []int{0, 1000}
)

// RunClusterMatrix runs bench at every point of the cluster matrix, with
// and without subscribers, as sub-benchmarks named
// "<point>/subscribers-<n>".
func RunClusterMatrix(b *testing.B, bench func(b *testing.B, p ClusterPoint, subscribers int)) {
	for _, p := range clusterPoints {
		for _, subscribers := range clusterSubscribers {
			b.Run(fmt.Sprintf("%s/subscribers-%d", p.Name, subscribers), func(b *testing.B) {
				bench(b, p, subscribers)
			})
		}
	}
}
