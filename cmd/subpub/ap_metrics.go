package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/subpub/subpub/origin/activitypub"
)

// activityPubMetrics exposes what the ActivityPub application observes.
type activityPubMetrics struct {
	posted   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	emitted  *prometheus.CounterVec
	pruned   prometheus.Counter
	canceled prometheus.Counter
	storage  *prometheus.CounterVec
}

var _ activitypub.Metrics = (*activityPubMetrics)(nil)

func newActivityPubMetrics(s metricSet) *activityPubMetrics {
	return &activityPubMetrics{
		posted:   s.counterVec("activities_posted_total", "Activities accepted by outboxes, by type.", "type"),
		rejected: s.counterVec("activities_rejected_total", "Posted activities refused, by status.", "status"),
		emitted: s.counterVec("events_emitted_total",
			"Events published, one per affected stream, by the kind of the stream's resource.", "stream"),
		pruned:   s.counter("events_pruned_total", "Events deleted from the log for retention."),
		canceled: s.requestsCanceled(),
		storage: s.counterVec("storage_errors_total",
			"Requests that failed on the database, by condition: busy (locked by another process, 503), full (507).", "condition"),
	}
}

func (m *activityPubMetrics) ActivityPosted(t string) { m.posted.WithLabelValues(t).Inc() }
func (m *activityPubMetrics) ActivityRejected(status int) {
	m.rejected.WithLabelValues(strconv.Itoa(status)).Inc()
}
func (m *activityPubMetrics) EventEmitted(kind string) { m.emitted.WithLabelValues(kind).Inc() }
func (m *activityPubMetrics) EventsPruned(n int)       { m.pruned.Add(float64(n)) }
func (m *activityPubMetrics) RequestCanceled()         { m.canceled.Inc() }
func (m *activityPubMetrics) StorageError(condition string) {
	m.storage.WithLabelValues(condition).Inc()
}
