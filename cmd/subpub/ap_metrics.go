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

func newActivityPubMetrics(reg prometheus.Registerer) *activityPubMetrics {
	const ns = "subpub_origin"
	m := &activityPubMetrics{
		posted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "activities_posted_total",
			Help: "Activities accepted by outboxes, by type."}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "activities_rejected_total",
			Help: "Posted activities refused, by status."}, []string{"status"}),
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_emitted_total",
			Help: "Events published, one per affected stream, by the kind of the stream's resource."}, []string{"stream"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "events_pruned_total",
			Help: "Events deleted from the log for retention."}),
		canceled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "requests_canceled_total",
			Help: "Requests their client cancelled (reset the stream, closed the connection) before they were answered."}),
		storage: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "storage_errors_total",
			Help: "Requests that failed on the database, by condition: busy (locked by another process, 503), full (507)."}, []string{"condition"}),
	}
	reg.MustRegister(m.posted, m.rejected, m.emitted, m.pruned, m.canceled, m.storage)
	return m
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
