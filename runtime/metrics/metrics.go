// Package metrics serves a run's counters to Prometheus.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowctl/flowctl/runtime/exec"
)

// Reporter holds the latest totals of a run and exposes them as metrics.
type Reporter struct {
	last atomic.Pointer[exec.Summary]
	reg  *prometheus.Registry
}

// New returns a reporter for a pipeline's metrics.
func New(pipeline string) *Reporter {
	r := &Reporter{reg: prometheus.NewRegistry()}
	r.last.Store(&exec.Summary{})
	labels := prometheus.Labels{"pipeline": pipeline}
	counter := func(name, help string, get func(s *exec.Summary) int64) {
		r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "flowctl", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(get(r.last.Load())) }))
	}
	counter("records_read_total", "Records read from sources.", func(s *exec.Summary) int64 { return s.Read })
	counter("rows_written_total", "Rows written to sinks, not counting dead letters.", func(s *exec.Summary) int64 { return s.Written })
	counter("records_dead_lettered_total", "Records sent to the dead letter sink.", func(s *exec.Summary) int64 { return s.DeadLettered })
	counter("records_late_total", "Records too late for every window they belong to.", func(s *exec.Summary) int64 { return s.Late })
	counter("triggers_total", "Micro-batch triggers run.", func(s *exec.Summary) int64 { return s.Triggers })
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "flowctl", Name: "watermark_seconds", ConstLabels: labels,
		Help: "The lowest window operator watermark, Unix seconds (absent before it first moves).",
	}, func() float64 {
		wm := r.last.Load().Watermark
		if wm == 0 || wm == exec.NoWatermark || wm == exec.EndOfTime {
			return 0
		}
		return float64(wm) / 1e9
	}))
	return r
}

// Update records the latest totals; it is safe to call from any goroutine.
func (r *Reporter) Update(s exec.Summary) { r.last.Store(&s) }

// Handler serves the metrics in Prometheus's text format.
func (r *Reporter) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Serve listens on addr and serves /metrics until ctx ends. It returns the
// address it listens on (useful with port 0) once listening.
func (r *Reporter) Serve(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", r.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the run goes on without metrics
		}
	}()
	return ln.Addr().String(), nil
}
