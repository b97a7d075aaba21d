package fakebackend

import (
	"net/http"
	"sync"
	"time"

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
	hour          lastHour
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

// decision counts one event, decided at backend time at.
func (m *metrics) decision(at time.Time, kind, code string) {
	m.requests.WithLabelValues(kind, code).Inc()
	switch {
	case code == CodeOK:
		switch kind {
		case "createInstance", "legacyRegister", "authenticate", "updateInstanceTtl":
			m.registrations.WithLabelValues(kind).Inc()
			m.hour.add(at, 1, 0)
		}
	case kind != KindRevoke && kind != KindExpire && kind != KindReplace && kind != KindCallEnd:
		m.rejections.WithLabelValues(code).Inc()
		m.hour.add(at, 0, 1)
	}
}

// Numbers are the backend's counters as /metrics exposes them, for the
// console's overview.
type Numbers struct {
	Connections   int `json:"connections"`
	Instances     int `json:"instances"`
	Registrations int `json:"registrations"` // accepted, of every kind
	// Refusals counts rejected requests by code.
	Refusals map[string]int `json:"refusals"`
}

// numbers reads the registry, the source /metrics is served from.
func (m *metrics) numbers() Numbers {
	n := Numbers{Refusals: map[string]int{}}
	fams, _ := m.reg.Gather()
	for _, f := range fams {
		for _, x := range f.GetMetric() {
			switch f.GetName() {
			case "sinchsim_connected_clients":
				n.Connections = int(x.GetGauge().GetValue())
			case "sinchsim_instances":
				n.Instances = int(x.GetGauge().GetValue())
			case "sinchsim_registrations_total":
				n.Registrations += int(x.GetCounter().GetValue())
			case "sinchsim_rejections_total":
				for _, l := range x.GetLabel() {
					if l.GetName() == "code" {
						n.Refusals[l.GetValue()] += int(x.GetCounter().GetValue())
					}
				}
			}
		}
	}
	return n
}

// MinuteCount is what happened in one minute of backend time.
type MinuteCount struct {
	Minute        time.Time `json:"minute"` // its start
	Registrations int       `json:"registrations"`
	Refusals      int       `json:"refusals"`
}

// lastHour keeps per-minute counts of backend time for the last hour, in a
// ring indexed by the minute: a slot holding an older minute is reused.
type lastHour struct {
	mu   sync.Mutex
	ring [60]MinuteCount
}

func (h *lastHour) add(at time.Time, registrations, refusals int) {
	minute := at.UTC().Truncate(time.Minute)
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := &h.ring[slotOf(minute)]
	if !slot.Minute.Equal(minute) {
		*slot = MinuteCount{Minute: minute}
	}
	slot.Registrations += registrations
	slot.Refusals += refusals
}

// at returns the 60 minutes up to and including now's, oldest first.
func (h *lastHour) at(now time.Time) []MinuteCount {
	last := now.UTC().Truncate(time.Minute)
	out := make([]MinuteCount, 60)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range out {
		minute := last.Add(time.Duration(i-59) * time.Minute)
		out[i] = MinuteCount{Minute: minute}
		if slot := h.ring[slotOf(minute)]; slot.Minute.Equal(minute) {
			out[i] = slot
		}
	}
	return out
}

// slotOf is a minute's place in the ring (minutes before 1970 included).
func slotOf(minute time.Time) int {
	return int((minute.Unix()/60%60 + 60) % 60)
}
