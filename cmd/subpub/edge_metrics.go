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

func newEdgeMetrics(reg prometheus.Registerer, e *edge.Edge, s *stream.Streamer) *edgeMetrics {
	const ns = "subpub_edge"
	m := &edgeMetrics{
		upstreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "upstream_subscriptions",
			Help: "Upstream subscriptions open, by kind: shared (one per key) or catchup."}, []string{"kind"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upstream_reconnects_total",
			Help: "Upstream subscriptions lost and resumed with the last id seen."}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "upstream_healthy",
			Help: "1 while an upstream is chosen for requests and subscriptions; 0 from a failure (no answer, or 500 and above) until it answers again (it is tried again after a backoff)."}, []string{"upstream"}),
		eventsIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upstream_events_total",
			Help: "Events received from upstream."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "event_latency_seconds",
			Help:    "Time from publication to arrival at the edge, for events that carry their publish time.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "replays_total",
			Help: "Subscribers resuming with Last-Event-ID, served from the ring (hit) or by catching up upstream (miss)."}, []string{"result"}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "catchups_total",
			Help: "Subscribers resuming from an id no ring holds, by outcome: opened (a new upstream catch-up subscription), shared (one open already), refused (503: past --catchup-rate)."}, []string{"outcome"}),
		refRefused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "refs_refused_total",
			Help: "Events whose ref names another origin than their stream's: not fetched, not relayed (a gap takes their place)."}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cache_requests_total",
			Help: "GET requests by cache outcome."}, []string{"outcome"}),
		authChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "authorization_checks_total",
			Help: "Checks upstream that a private stream's credentials may still read it, before admitting another subscriber, by result: allowed, refused, failed."}, []string{"result"}),
		canceled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "requests_canceled_total",
			Help: "Requests their client cancelled (reset the stream, closed the connection) before they were answered."}),
	}
	fanOut := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "fanout_ratio",
		Help: "Downstream subscriptions per shared upstream subscription."}, func() float64 {
		up := e.Upstreams()
		if up == 0 {
			return 0
		}
		return float64(s.Active()) / float64(up)
	})
	reg.MustRegister(m.upstreams, m.reconnects, m.health, m.eventsIn, m.latency, m.replays, m.catchUps, m.refRefused, m.cache, m.authChecks, m.canceled, fanOut)
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
