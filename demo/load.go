package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultRate is the load generator's rate, in requests per second, when a
// config leaves Rate at zero.
const DefaultRate = 200

// DefaultMaxInFlight bounds the requests a load generator has outstanding
// when its config leaves MaxInFlight at zero.
const DefaultMaxInFlight = 64

// reservoirSize is how many recent latencies the percentiles are taken
// over: enough for a stable p99, small enough to sort ten times a second.
const reservoirSize = 1024

// LoadConfig configures a load generator.
type LoadConfig struct {
	// Rate is the number of requests started per second; 0 means
	// DefaultRate.
	Rate int

	// Requests, if above 0, is how many requests the load generator
	// schedules before it stops; 0 means no end.
	Requests uint64

	// MaxInFlight bounds the requests outstanding at once; 0 means
	// DefaultMaxInFlight. A request due while the bound is reached is not
	// sent but counted as skipped, so a slow gateway is not buried.
	MaxInFlight int

	// Timeout bounds each HTTP request; 0 means twice DefaultTimeout, long
	// enough to get the gateway's own 502 rather than time out before it.
	Timeout time.Duration

	// OnResponse, if set, receives every number the gateway answered. It
	// is called from many goroutines at once.
	OnResponse func(n uint64)
}

// LoadStats is a snapshot of a load generator's counters. The counts add
// up: Scheduled = OK + Errors + Skipped + Canceled + InFlight.
type LoadStats struct {
	Rate      int    // configured requests per second
	Scheduled uint64 // requests due so far
	OK        uint64 // answered 200 with a number
	Errors    uint64 // failed: transport error, non-200 status or a bad body
	Skipped   uint64 // not sent because MaxInFlight were outstanding
	Canceled  uint64 // cut short because the load was stopped: still out drainGrace after it
	InFlight  int    // outstanding now

	LastError string // the latest failure, one line; "" if none

	// P50 and P99 are latency percentiles of the most recent successful
	// requests (up to 1024 of them); zero before the first.
	P50, P99 time.Duration
}

// drainGrace is how long the requests in flight when the load stops may
// take to finish before they are cancelled: a healthy gateway answers in
// a millisecond or so, and a hung one must not hold up the demo's exit.
const drainGrace = 500 * time.Millisecond

// Load is a running load generator: it GETs one URL at a steady rate with
// real HTTP and counts what comes back.
type Load struct {
	url        string
	rate       int
	requests   uint64 // LoadConfig.Requests
	onResponse func(uint64)
	client     *http.Client
	sem        chan struct{} // one token per request in flight

	ctx    context.Context // done when the load is stopped: no new request
	cancel context.CancelFunc
	// reqCtx is the requests': it ends drainGrace after ctx, so that
	// requests in flight when the load stops finish as a client's would,
	// rather than each closing its stream under the answer on its way
	// (which the service's tap rightly calls DATA_AFTER_CLOSE).
	reqCtx    context.Context
	reqCancel context.CancelFunc
	done      chan struct{} // closed when run has returned and every request ended
	wg        sync.WaitGroup

	mu        sync.Mutex
	stats     LoadStats
	latencies [reservoirSize]time.Duration // ring of the latest successes
	nlat      int                          // successes recorded, capped at reservoirSize
	nextLat   int                          // next slot of the ring
}

// StartLoad starts sending GET requests to url at cfg.Rate per second until
// ctx is done or Close is called.
func StartLoad(ctx context.Context, url string, cfg LoadConfig) (*Load, error) {
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("demo: load rate %d/s is negative (use 1 or more)", cfg.Rate)
	}
	if cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("demo: load bound %d is negative (use 1 or more)", cfg.MaxInFlight)
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: load URL: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("demo: load URL %q is not http (use http://host:port/rand)", url)
	}
	rate := cfg.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	maxInFlight := cfg.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	tr := &http.Transport{
		Proxy:               nil, // the gateway is local; never go through $HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: DefaultTimeout}).DialContext,
		MaxIdleConnsPerHost: maxInFlight,
		IdleConnTimeout:     30 * time.Second,
	}
	l := &Load{
		url:        url,
		rate:       rate,
		requests:   cfg.Requests,
		onResponse: cfg.OnResponse,
		client:     &http.Client{Transport: tr, Timeout: orDefault(cfg.Timeout, 2*DefaultTimeout)},
		sem:        make(chan struct{}, maxInFlight),
		done:       make(chan struct{}),
	}
	l.stats.Rate = rate
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.reqCtx, l.reqCancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(l.done)
		l.run()
		drained := make(chan struct{})
		go func() { // owned by this goroutine, which waits for it
			l.wg.Wait()
			close(drained)
		}()
		// run also returns when Requests are all scheduled: those in
		// flight then are awaited (each bounded by the client's
		// Timeout), and the grace runs only from a stop.
		select {
		case <-drained:
		case <-l.ctx.Done():
			grace := time.NewTimer(drainGrace)
			select {
			case <-drained:
			case <-grace.C:
			}
			grace.Stop()
		}
		l.reqCancel()
		<-drained
		tr.CloseIdleConnections()
	}()
	return l, nil
}

// run schedules requests until the load is stopped. Requests are due at
// start + k/rate; each tick sends those that came due, so the rate holds
// whatever the tick granularity.
func (l *Load) run() {
	tick := time.Second / time.Duration(l.rate)
	tick = min(max(tick, time.Millisecond), 20*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()

	start := time.Now()
	var scheduled uint64
	for l.ctx.Err() == nil {
		due := uint64(time.Since(start).Seconds()*float64(l.rate)) + 1
		if l.requests > 0 {
			if scheduled >= l.requests {
				return
			}
			due = min(due, l.requests)
		}
		for ; scheduled < due; scheduled++ {
			select {
			case l.sem <- struct{}{}:
				l.count(func(s *LoadStats) { s.Scheduled++; s.InFlight++ })
				l.wg.Go(l.request)
			default: // the bound is reached: skip everything due this tick
				n := due - scheduled
				l.count(func(s *LoadStats) { s.Scheduled += n; s.Skipped += n })
				scheduled = due
			}
		}
		select {
		case <-l.ctx.Done():
		case <-t.C:
		}
	}
}

// request sends one GET and records its outcome.
func (l *Load) request() {
	defer func() { <-l.sem }()
	start := time.Now()
	n, err := l.get()
	elapsed := time.Since(start)

	switch {
	case err != nil && l.ctx.Err() != nil:
		// Failed after the load stopped: cut by the stop, or by the
		// gateway closing behind it.
		l.count(func(s *LoadStats) { s.InFlight--; s.Canceled++ })
	case err != nil:
		l.count(func(s *LoadStats) { s.InFlight--; s.Errors++; s.LastError = oneLine(err.Error()) })
	default:
		l.count(func(s *LoadStats) {
			s.InFlight--
			s.OK++
			l.latencies[l.nextLat] = elapsed
			l.nextLat = (l.nextLat + 1) % reservoirSize
			l.nlat = min(l.nlat+1, reservoirSize)
		})
		if l.onResponse != nil {
			l.onResponse(n)
		}
	}
}

// get performs one request and parses its answer.
func (l *Load) get() (uint64, error) {
	req, err := http.NewRequestWithContext(l.reqCtx, http.MethodGet, l.url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // let the connection be reused
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, text)
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad answer %.40q: %w", text, errors.Unwrap(err))
	}
	return n, nil
}

// count applies f to the counters under the lock.
func (l *Load) count(f func(*LoadStats)) {
	l.mu.Lock()
	f(&l.stats)
	l.mu.Unlock()
}

// Stats returns a snapshot of the counters. It is safe to call at any time,
// from any goroutine, including after Close.
func (l *Load) Stats() LoadStats {
	var lat [reservoirSize]time.Duration
	l.mu.Lock()
	s := l.stats
	n := copy(lat[:], l.latencies[:l.nlat])
	l.mu.Unlock()

	if n > 0 {
		sorted := lat[:n]
		slices.Sort(sorted)
		s.P50 = sorted[(n-1)*50/100]
		s.P99 = sorted[(n-1)*99/100]
	}
	return s
}

// Wait returns once the load has stopped (ctx done or Close) and every
// request it started has ended.
func (l *Load) Wait() {
	<-l.done
}

// Close stops the load, gives the requests in flight drainGrace to finish,
// cancels those still out and waits for them. It is safe to call more
// than once.
func (l *Load) Close() error {
	l.cancel()
	<-l.done
	return nil
}
