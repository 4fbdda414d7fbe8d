package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/muxtop/muxtop/live"
)

// Path is where a Server serves the metrics.
const Path = "/metrics"

// Gatherer returns a Prometheus registry with reg's Collector and muxtop's
// own Go runtime and process metrics (go_*, process_*), as muxtop's
// server exports them; or the error of Options that make no valid series
// (Collector.Err). A nil reg panics, a programmer's error.
func Gatherer(reg *live.Registry, o Options) (*prometheus.Registry, error) {
	if reg == nil {
		panic("metrics.Gatherer: nil *live.Registry")
	}
	c := NewCollector(reg, o)
	if err := c.Err(); err != nil {
		return nil, err
	}
	pr := prometheus.NewRegistry()
	for _, col := range []prometheus.Collector{c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := pr.Register(col); err != nil { // not expected after Err: but an error, as said, never a panic
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return pr, nil
}

// Handler returns the handler of Path for g: the exposition format,
// compressed when the scraper asks for it. Scrapes that overlap, as from
// a pair of Prometheus servers, share one collection.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{CoalesceGather: true})
}

// readHeaderTimeout bounds how long a client may take to send a request's
// headers, so a stalled connection does not hold a goroutine for ever.
const readHeaderTimeout = 10 * time.Second

// Server serves a handler, such as Handler's, over HTTP at Path until
// Close.
type Server struct {
	ln   net.Listener
	url  string // URL's
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
	err  error         // Serve's error, other than the closing's
	once sync.Once
}

// Serve listens on addr (host:port, as net.Listen takes it: an empty host,
// as in ":9100", is every interface, so give loopback's, 127.0.0.1, to
// keep the metrics on this machine) and serves h at Path in a goroutine
// of its own, which Close stops. A port in use is the error returned; a
// request for another path is 404.
func Serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	s := &Server{ln: ln, url: "http://" + dialable(addr, ln.Addr()) + Path, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}}
	go func() { // owned by s: Close waits for it
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the metrics' URL. For a server on every interface (addr
// 0.0.0.0, ::, or no host), whose Addr is [::] or 0.0.0.0, it names
// loopback, which this machine can fetch: 127.0.0.1, or ::1 when addr was
// IPv6's ::.
func (s *Server) URL() string { return s.url }

// dialable returns the host:port to reach bound, a listener on addr: bound
// itself, but loopback for an unspecified host.
func dialable(addr string, bound net.Addr) string {
	ap, err := netip.ParseAddrPort(bound.String())
	if err != nil || !ap.Addr().IsUnspecified() {
		return bound.String()
	}
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() && !ip.Is4In6() {
			lo = netip.IPv6Loopback()
		}
	}
	return netip.AddrPortFrom(lo, ap.Port()).String()
}

// Close stops the server: it stops listening, lets a scrape in progress
// finish for up to a second, closes every connection and waits for the
// serving goroutine. It returns what made serving fail, if anything did.
// Calling it again returns the same.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if s.srv.Shutdown(ctx) != nil {
			s.srv.Close()
		}
		<-s.done
	})
	return s.err
}

// EvaluateEvery is how often Diagnose brings the findings up to date, as
// every front end of muxtop does.
const EvaluateEvery = 100 * time.Millisecond

// StoodStillAfter and CatchUp are how Diagnose tells muxtop's own pause
// from the silence of what it watches. A tick that comes StoodStillAfter
// or more after the previous one means the process stood still (stopped
// with ctrl-Z or SIGSTOP, the machine suspended, starved of CPU), and
// what it watches with it: a tapped end, or the attach proxy, did not read
// the frames sent meanwhile, which wait in socket buffers. Judged at
// once, every session would look silent for the pause (KEEPALIVE). The
// evaluations of the next CatchUp are skipped, so that those frames are
// read first; one that is late again then evaluates, so that a process
// starved for good is still diagnosed at every other tick.
const (
	StoodStillAfter = 5 * EvaluateEvery
	CatchUp         = 2 * EvaluateEvery
)

// Diagnose evaluates reg's findings every EvaluateEvery with cfg's
// thresholds (live.Registry.Evaluate), in a goroutine that the returned
// stop ends and waits for; stop may be called more than once. After
// muxtop itself stood still it waits CatchUp before it evaluates again
// (StoodStillAfter). Without it the findings_* metrics stay at zero: the
// data path only keeps the counters the evaluation reads.
//
// A registry has one set of findings, so it has one diagnosis: a
// Diagnose on a registry already diagnosed, with a cfg that evaluates
// alike (an equal live.FindingsConfig.Effective: the zero config and one
// spelling out the defaults are alike), shares the running one (its
// evaluations go on until every caller's stop is called), and with other
// thresholds it panics, naming both. Two thresholds
// evaluated in turn would open and resolve the same finding at every
// evaluation, a leak counted as many times as it is evaluated. Once every
// stop is called, the registry may be diagnosed again, with any cfg. For
// the same reason, do not call reg.Evaluate while Diagnose runs on reg.
func Diagnose(reg *live.Registry, cfg live.FindingsConfig) (stop func()) {
	if reg == nil {
		panic("metrics.Diagnose: nil *live.Registry")
	}
	// Thresholds that evaluate alike are the same diagnosis: the zero
	// config and one spelling out the defaults, two negative Churns.
	cfg = cfg.Effective()
	diagnosing.Lock()
	defer diagnosing.Unlock()
	d := diagnosing.m[reg]
	switch {
	case d == nil:
		d = &diagnosis{cfg: cfg, stop: evaluateEvery(reg, cfg)}
		if diagnosing.m == nil {
			diagnosing.m = make(map[*live.Registry]*diagnosis)
		}
		diagnosing.m[reg] = d
	case d.cfg != cfg:
		panic(fmt.Sprintf("metrics.Diagnose: the registry is already diagnosed with %+v, not %+v: "+
			"a registry has one set of findings, evaluated with one set of thresholds (stop the first diagnosis, or give both the same)",
			d.cfg, cfg))
	}
	d.callers++
	var once sync.Once
	return func() {
		once.Do(func() {
			diagnosing.Lock()
			defer diagnosing.Unlock()
			if d.callers--; d.callers == 0 {
				delete(diagnosing.m, reg)
				d.stop() // waits for the loop, so that no evaluation outlives the map's entry
			}
		})
	}
}

// diagnosing holds the registries Diagnose evaluates, each with its one
// diagnosis.
var diagnosing struct {
	sync.Mutex
	m map[*live.Registry]*diagnosis
}

// diagnosis is a registry's evaluation loop, shared by the callers of
// Diagnose whose stop is not called yet.
type diagnosis struct {
	cfg     live.FindingsConfig
	callers int
	stop    func() // ends the loop and waits for it
}

// evaluateEvery evaluates reg's findings with cfg every EvaluateEvery,
// but CatchUp after muxtop stood still, until the returned stop, which
// waits for the loop to end.
func evaluateEvery(reg *live.Registry, cfg live.FindingsConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // owned by stop, which waits for it
		defer close(done)
		t := time.NewTicker(EvaluateEvery)
		defer t.Stop()
		var p pauses
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if p.evaluate(time.Now()) {
					reg.Evaluate(reg.Now(), cfg) // not the tick's time: records since then are older than it
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// pauses tells Diagnose's ticks after muxtop stood still from the others.
type pauses struct {
	last    time.Time // the previous tick, by the wall clock
	resumed time.Time // the late tick that began a catch-up; zero when none
}

// evaluate reports whether the tick at now is to evaluate: not within
// CatchUp of a tick StoodStillAfter or more after the one before it.
// now's monotonic reading is dropped: a suspended machine's stops.
func (p *pauses) evaluate(now time.Time) bool {
	now = now.Round(0)
	late := !p.last.IsZero() && now.Sub(p.last) >= StoodStillAfter
	p.last = now
	if late && p.resumed.IsZero() {
		p.resumed = now
	}
	if !p.resumed.IsZero() {
		if now.Sub(p.resumed) < CatchUp {
			return false
		}
		p.resumed = time.Time{}
	}
	return true
}
