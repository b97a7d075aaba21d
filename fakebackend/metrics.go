package fakebackend

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are per server (own registry), so several servers in one process
// do not collide.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	registrations *prometheus.CounterVec
	rejections    *prometheus.CounterVec
	connected     prometheus.Gauge
	instances     prometheus.GaugeFunc
	handler       http.Handler
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sinchsim_requests_total", Help: "Requests decided, by message kind and code (ok or a rejection code).",
	}, []string{"kind", "code"})
	m.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sinchsim_registrations_total", Help: "Accepted registrations, by kind (createInstance, legacyRegister, authenticate, updateInstanceTtl).",
	}, []string{"kind"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sinchsim_rejections_total", Help: "Rejected requests, by code.",
	}, []string{"code"})
	m.connected = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sinchsim_connected_clients", Help: "Open WebSocket connections.",
	})
	m.reg.MustRegister(m.requests, m.registrations, m.rejections, m.connected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) setInstanceGauge(f func() float64) {
	m.instances = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sinchsim_instances", Help: "Instances held by the backend.",
	}, f)
	m.reg.MustRegister(m.instances)
}

func (m *metrics) decision(kind, code string) {
	m.requests.WithLabelValues(kind, code).Inc()
	switch {
	case code == CodeOK:
		switch kind {
		case "createInstance", "legacyRegister", "authenticate", "updateInstanceTtl":
			m.registrations.WithLabelValues(kind).Inc()
		}
	case kind != KindRevoke && kind != KindExpire && kind != KindReplace && kind != KindCallEnd:
		m.rejections.WithLabelValues(code).Inc()
	}
}
