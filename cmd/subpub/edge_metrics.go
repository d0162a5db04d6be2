package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/subpub/subpub/edge"
	"github.com/subpub/subpub/stream"
)

// edgeMetrics exposes what an Edge observes upstream; its Streamer's
// streamMetrics cover the downstream side (subscribers by protocol and
// format, events out, drops by reason).
type edgeMetrics struct {
	upstreams  *prometheus.GaugeVec
	reconnects prometheus.Counter
	health     *prometheus.GaugeVec
	eventsIn   prometheus.Counter
	latency    prometheus.Histogram
	replays    *prometheus.CounterVec
	catchUps   *prometheus.CounterVec
	refRefused prometheus.Counter
	cache      *prometheus.CounterVec
	authChecks *prometheus.CounterVec
	canceled   prometheus.Counter
}

var _ edge.Metrics = (*edgeMetrics)(nil)

func newEdgeMetrics(s metricSet, e *edge.Edge, streamer *stream.Streamer) *edgeMetrics {
	m := &edgeMetrics{
		upstreams: s.gaugeVec("upstream_subscriptions",
			"Upstream subscriptions open, by kind: shared (one per key) or catchup.", "kind"),
		reconnects: s.counter("upstream_reconnects_total", "Upstream subscriptions lost and resumed with the last id seen."),
		health: s.gaugeVec("upstream_healthy",
			"1 while an upstream is chosen for requests and subscriptions; 0 from a failure (no answer, or 500 and above) until it answers again (it is tried again after a backoff).", "upstream"),
		eventsIn: s.counter("upstream_events_total", "Events received from upstream."),
		latency: s.histogram("event_latency_seconds",
			"Time from publication to arrival at the edge, for events that carry their publish time.",
			prometheus.ExponentialBuckets(0.0005, 2, 16)),
		replays: s.counterVec("replays_total",
			"Subscribers resuming with Last-Event-ID, served from the ring (hit) or by catching up upstream (miss).", "result"),
		catchUps: s.counterVec("catchups_total",
			"Subscribers resuming from an id no ring holds, by outcome: opened (a new upstream catch-up subscription), shared (one open already), refused (503: past --catchup-rate).", "outcome"),
		refRefused: s.counter("refs_refused_total",
			"Events whose ref names another origin than their stream's: not fetched, not relayed (a gap takes their place)."),
		cache: s.counterVec("cache_requests_total", "GET requests by cache outcome.", "outcome"),
		authChecks: s.counterVec("authorization_checks_total",
			"Checks upstream that a private stream's credentials may still read it, before admitting another subscriber, by result: allowed, refused, failed.", "result"),
		canceled: s.requestsCanceled(),
	}
	s.gaugeFunc("fanout_ratio", "Downstream subscriptions per shared upstream subscription.", func() float64 {
		up := e.Upstreams()
		if up == 0 {
			return 0
		}
		return float64(streamer.Active()) / float64(up)
	})
	return m
}

func (m *edgeMetrics) UpstreamOpened(kind edge.UpstreamKind) {
	m.upstreams.WithLabelValues(string(kind)).Inc()
}
func (m *edgeMetrics) UpstreamClosed(kind edge.UpstreamKind) {
	m.upstreams.WithLabelValues(string(kind)).Dec()
}
func (m *edgeMetrics) UpstreamReconnect() { m.reconnects.Inc() }
func (m *edgeMetrics) UpstreamHealth(upstream string, healthy bool) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.health.WithLabelValues(upstream).Set(v)
}
func (m *edgeMetrics) Cache(outcome string) { m.cache.WithLabelValues(outcome).Inc() }
func (m *edgeMetrics) RequestCanceled()     { m.canceled.Inc() }
func (m *edgeMetrics) RefRefused()          { m.refRefused.Inc() }
func (m *edgeMetrics) CatchUp(outcome string) {
	m.catchUps.WithLabelValues(outcome).Inc()
}
func (m *edgeMetrics) AuthorizationCheck(result string) {
	m.authChecks.WithLabelValues(result).Inc()
}

func (m *edgeMetrics) EventReceived(latency time.Duration, known bool) {
	m.eventsIn.Inc()
	if known {
		m.latency.Observe(latency.Seconds())
	}
}

func (m *edgeMetrics) Replay(hit bool) {
	if hit {
		m.replays.WithLabelValues("hit").Inc()
	} else {
		m.replays.WithLabelValues("miss").Inc()
	}
}
