package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/liaison-ent/liaison/webpush"
)

type metrics struct {
	outcomes      *prometheus.CounterVec
	byOutcome     []prometheus.Counter // outcomes' counter of each webpush.Outcome, looked up once (one per push)
	batches       prometheus.Counter
	fanoutSteps   prometheus.Counter
	pauses        prometheus.Counter
	detached      prometheus.Counter
	vapidRejected prometheus.Counter
	warned        prometheus.Counter
	pruned        prometheus.Counter
	sendSeconds   prometheus.Histogram
}

// newMetrics makes the delivery metrics and registers them on reg (when not
// nil), with a gauge of the pushes waiting in the outbox.
func newMetrics(s *Service, reg prometheus.Registerer) *metrics {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liaison_push_sends_total",
			Help: "Push sends by outcome (delivered, gone, throttled, too_large, auth_rejected, bad_request, transient, invalid, cancelled)."},
			[]string{"outcome"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_batches_claimed_total",
			Help: "Push batches leased by this process's workers."}),
		fanoutSteps: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_fanout_pages_total",
			Help: "Audience pages resolved into push batches."}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_origin_pauses_total",
			Help: "Times a push service origin was paused after 429/406."}),
		detached: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_batches_detached_total",
			Help: "Batches recorded while pushes to a stuck origin were still in flight (those go back to the outbox)."}),
		vapidRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_vapid_rejected_total",
			Help: "Pushes refused with 401/403: VAPID configuration fault (alert on any increase)."}),
		warned: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_subscriptions_warned_total",
			Help: "Warning pushes sent to subscriptions not refreshed for 55 days."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "liaison_push_subscriptions_pruned_total",
			Help: "Subscriptions deleted after 60 days without refresh."}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "liaison_push_send_seconds",
			Help: "Duration of one push request.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)}),
	}
	m.byOutcome = make([]prometheus.Counter, webpush.Invalid+1)
	for o := webpush.Delivered; o <= webpush.Invalid; o++ {
		m.byOutcome[o] = m.outcomes.WithLabelValues(o.String())
	}
	if reg == nil {
		return m
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liaison_push_outbox_pending",
		Help: "Pushes waiting in the outbox (all processes)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.st.PendingPushes(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.outcomes, m.batches, m.fanoutSteps, m.pauses, m.detached, m.vapidRejected, m.warned, m.pruned, m.sendSeconds, pending, newOriginCollector(s.pacer)} {
		_ = reg.Register(c) // a second Service in one process (tests) keeps the first's
	}
	return m
}

// sent counts one push send by its outcome.
func (m *metrics) sent(o webpush.Outcome) {
	if int(o) > 0 && int(o) < len(m.byOutcome) {
		m.byOutcome[o].Inc()
		return
	}
	m.outcomes.WithLabelValues(o.String()).Inc()
}

// originCollector exposes the Pacer's per-origin state, so that an
// operator sees during a burst which push service is the bottleneck.
type originCollector struct {
	p                                     *webpush.Pacer
	inFlight, limit, latency, timeout, oc *prometheus.Desc
}

func newOriginCollector(p *webpush.Pacer) *originCollector {
	l := []string{"origin"}
	return &originCollector{p: p,
		inFlight: prometheus.NewDesc("liaison_push_origin_in_flight", "Pushes in flight to a push service origin.", l, nil),
		limit:    prometheus.NewDesc("liaison_push_origin_limit", "Pushes allowed in flight to the origin now (adaptive, up to LIAISON_PUSH_MAX_PER_ORIGIN).", l, nil),
		latency:  prometheus.NewDesc("liaison_push_origin_latency_seconds", "Smoothed latency of the origin's answers.", l, nil),
		timeout:  prometheus.NewDesc("liaison_push_origin_timeout_seconds", "Per-push timeout for the origin now (from its latency).", l, nil),
		oc:       prometheus.NewDesc("liaison_push_origin_sends_total", "Push sends to the origin by outcome.", []string{"origin", "outcome"}, nil),
	}
}

func (c *originCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inFlight, c.limit, c.latency, c.timeout, c.oc} {
		ch <- d
	}
}

func (c *originCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.p.Stats() {
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight), s.Origin)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(s.Limit), s.Origin)
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, s.Latency.Seconds(), s.Origin)
		ch <- prometheus.MustNewConstMetric(c.timeout, prometheus.GaugeValue, s.Timeout.Seconds(), s.Origin)
		for outcome, n := range s.Outcomes {
			ch <- prometheus.MustNewConstMetric(c.oc, prometheus.CounterValue, float64(n), s.Origin, outcome)
		}
	}
}
