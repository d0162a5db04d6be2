package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/subpub/subpub/dashboard"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// metricSet makes the collectors of one role (origin, edge) under its
// namespace, registering each as it is made, so that none is made and left
// out of the exposition.
type metricSet struct {
	reg       prometheus.Registerer
	namespace string
}

func (s metricSet) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: s.namespace, Name: name, Help: help})
	s.reg.MustRegister(c)
	return c
}

func (s metricSet) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: s.namespace, Name: name, Help: help}, labels)
	s.reg.MustRegister(v)
	return v
}

func (s metricSet) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: s.namespace, Name: name, Help: help}, labels)
	s.reg.MustRegister(v)
	return v
}

func (s metricSet) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: s.namespace, Name: name, Help: help, Buckets: buckets})
	s.reg.MustRegister(h)
	return h
}

// gaugeFunc and counterFunc expose a value read at each scrape.
func (s metricSet) gaugeFunc(name, help string, f func() float64) {
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: s.namespace, Name: name, Help: help}, f))
}

func (s metricSet) counterFunc(name, help string, f func() float64) {
	s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: s.namespace, Name: name, Help: help}, f))
}

// requestsCanceled counts what both roles' handlers see alike: a request
// given up by its client before it was answered.
func (s metricSet) requestsCanceled() prometheus.Counter {
	return s.counter("requests_canceled_total",
		"Requests their client cancelled (reset the stream, closed the connection) before they were answered.")
}

// streamMetrics exposes what an stream.Streamer observes, in Prometheus
// form. Each role (origin, edge) registers its own under its namespace.
type streamMetrics struct {
	active    *prometheus.GaugeVec
	closed    *prometheus.CounterVec
	delivered *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	rejected  *prometheus.CounterVec
	fannedOut *prometheus.GaugeVec
}

var _ stream.Metrics = (*streamMetrics)(nil)

func newStreamMetrics(s metricSet) *streamMetrics {
	return &streamMetrics{
		active:    s.gaugeVec("subscriptions_active", "Subscriptions being served, by HTTP version and format (pub or sse).", "proto", "format"),
		closed:    s.counterVec("subscriptions_closed_total", "Subscriptions ended, by reason.", "proto", "format", "reason"),
		delivered: s.counterVec("events_delivered_total", "Events written to subscribers (one per subscriber per event).", "proto", "format"),
		bytes:     s.counterVec("bytes_written_total", "Bytes of events written to subscribers (PUB: status line and fields before header compression).", "proto", "format"),
		rejected:  s.counterVec("subscriptions_rejected_total", "Subscriptions refused before streaming, by status.", "proto", "status"),
		fannedOut: s.gaugeVec("subscriptions_fanned_out",
			"Subscriptions written by their connection's fan-out (one pass per event for all of a connection's streams), by HTTP version and format.",
			"proto", "format"),
	}
}

func (m *streamMetrics) SubscriptionOpened(proto string, f wire.Format) {
	m.active.WithLabelValues(proto, f.String()).Inc()
}

func (m *streamMetrics) SubscriptionClosed(proto string, f wire.Format, reason string) {
	m.active.WithLabelValues(proto, f.String()).Dec()
	m.closed.WithLabelValues(proto, f.String(), reason).Inc()
}

func (m *streamMetrics) Delivered(proto string, f wire.Format, events, bytes int) {
	m.delivered.WithLabelValues(proto, f.String()).Add(float64(events))
	m.bytes.WithLabelValues(proto, f.String()).Add(float64(bytes))
}

func (m *streamMetrics) FannedOut(proto string, f wire.Format, delta int) {
	m.fannedOut.WithLabelValues(proto, f.String()).Add(float64(delta))
}

func (m *streamMetrics) Rejected(proto string, status int) {
	m.rejected.WithLabelValues(proto, strconv.Itoa(status)).Inc()
}

// registerBudgetMetrics exposes the account of bytes queued for slow peers
// (see package internal/budget).
func registerBudgetMetrics(s metricSet, b *budget.Budget) {
	read := func(f func() int64) func() float64 { return func() float64 { return float64(f()) } }
	s.gaugeFunc("queued_bytes", "Bytes held for peers slower than they are written to: HTTP/2 connections' write queues, HTTP/1.1 and HTTP/3 writes in progress; counted against --max-queued-total.", read(b.Queued))
	s.gaugeFunc("queued_bytes_releasing", "Bytes still held by peers cut off for the budget, freed as they end.", read(b.Releasing))
	s.gaugeFunc("queued_bytes_limit", "The budget of queued_bytes (--max-queued-total); 0: none.", read(b.Limit))
	s.counterFunc("queued_budget_cuts_total",
		"Peers cut off because queued_bytes passed the budget, the one holding the most first (an HTTP/2 connection, an HTTP/1.1 or HTTP/3 subscription).",
		read(b.Cuts))
}

// newRegistry is a registry with the Go runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// readyTimeout bounds a /readyz check (the edge's request upstream).
const readyTimeout = 2 * time.Second

// serveMetrics serves, on addr until ctx is done: the Prometheus text
// exposition at /metrics; /healthz, 200 while the process serves; /readyz,
// 200 while ready says so (listening, not shutting down, and for the edge
// its upstream answering) and 503 with the reason otherwise, for a load
// balancer or an orchestrator; the live page at /dashboard/ (dash); and,
// with withPprof, the runtime profiles at /debug/pprof/.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, withPprof bool, ready func(context.Context) error, dash *dashboard.Handler, logger *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle(dashboard.Path, dash)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { srv.Close() })
	return ln.Addr(), nil
}
