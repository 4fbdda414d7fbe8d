package live_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/rpc"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	dyamux "github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// moreSetups are the configurations TestHealthyMore drives: smux v1 and
// v2 with keepalive fast, at smux's default and off, v2 with a stream
// window (1 MiB) above the 256 KiB a writer starts with, and yamux with
// keepalive fast, at its default (30 s: never seen in a run) and off.
var moreSetups = []setup{
	smuxSetup("v1 keepalive 100ms", 1, func(c, s *smux.Config) {
		ka(c, 100*time.Millisecond, 3*time.Second)
		ka(s, 100*time.Millisecond, 3*time.Second)
	}),
	smuxSetup("v2 keepalive 100ms", 2, func(c, s *smux.Config) {
		ka(c, 100*time.Millisecond, 3*time.Second)
		ka(s, 100*time.Millisecond, 3*time.Second)
	}),
	smuxSetup("v2 defaults", 2, nil),
	smuxSetup("v2 streambuf 1M", 2, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxStreamBuffer, x.MaxReceiveBuffer = 1<<20, 8<<20
			ka(x, 100*time.Millisecond, 3*time.Second)
		}
	}),
	smuxSetup("v1 keepalive off both", 1, func(c, s *smux.Config) {
		c.KeepAliveDisabled, s.KeepAliveDisabled = true, true
	}),
	smuxSetup("v2 keepalive off both", 2, func(c, s *smux.Config) {
		c.KeepAliveDisabled, s.KeepAliveDisabled = true, true
	}),
	yamuxSetup("yamux keepalive 100ms", func(c, s *hyamux.Config) {
		c.KeepAliveInterval, s.KeepAliveInterval = 100*time.Millisecond, 100*time.Millisecond
	}),
	yamuxSetup("yamux defaults", nil),
	yamuxSetup("yamux keepalive off", func(c, s *hyamux.Config) {
		c.EnableKeepAlive, s.EnableKeepAlive = false, false
	}),
}

// morePattern is a healthy program TestHealthyMore drives on each of
// moreSetups (those only allows), with thresholds of its own.
type morePattern struct {
	name string
	run  func(ctx context.Context, t *testing.T, cli, srv muxEnd)
	// d is how long it runs before its wind-down; 0: 4 s.
	d time.Duration
	// leakAfter is the LEAK threshold: 0 for the default 30 s, where a
	// stream idles longer than a short one by design.
	leakAfter time.Duration
	// only says which setups it runs on; nil: all.
	only func(su setup) bool
	// limit says whether f, opened on a run in su, is one the README
	// documents as indistinguishable from a fault in this pattern, and
	// which; nil: none is.
	limit func(su setup, f *live.Finding) string
	// streamsToFIN says its writers stream up to their peer's FIN and
	// stop as they read it, which DATA_AFTER_CLOSE excuses as in flight
	// only within its 250 ms windows: the run measures the process's
	// stalls (stallMeter), and a DATA_AFTER_CLOSE of a run the machine
	// stalled for half a window or more is its documented cost, logged.
	streamsToFIN bool
}

// moreThresholds are the short thresholds of a run: 1 s each, as the
// matrix's, CLOSE_WAIT's too.
func moreThresholds(p morePattern) live.FindingsConfig {
	return live.FindingsConfig{UnansweredAfter: time.Second, StallAfter: time.Second, BlockedAfter: time.Second,
		LeakAfter: p.leakAfter, CloseWaitAfter: time.Second}
}

// sleepCtx sleeps d or until ctx is done, and says whether ctx is still on.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// isV1, isV2 and isYamux tell a setup's mux by its name.
func isV1(su setup) bool    { return strings.HasPrefix(su.name, "v1") }
func isV2(su setup) bool    { return strings.HasPrefix(su.name, "v2") }
func isYamux(su setup) bool { return strings.HasPrefix(su.name, "yamux") }

// ---- net/rpc over a pool of streams (hashicorp/go-plugin style) ----

// Arith is the net/rpc service of the rpcPool pattern.
type Arith struct{}

// ArithArgs are its arguments.
type ArithArgs struct{ A, B int }

// Mul answers at once.
func (Arith) Mul(a ArithArgs, r *int) error { *r = a.A * a.B; return nil }

// rpcPool: a net/rpc server on the acceptor's streams (the session as a
// net.Listener, as go-plugin's broker does), a client with a pool of 3
// streams opened as it starts, 6 callers calling concurrently over them in
// bursts of 10 calls, idle 1.5 s between bursts (longer than every
// threshold), as a host calls its plugin when its program needs it.
func rpcPool(ctx context.Context, t *testing.T, a, b muxEnd) {
	srv := rpc.NewServer()
	if err := srv.Register(Arith{}); err != nil {
		t.Fatal(err)
	}
	go serveEach(b, func(st muxStream) { srv.ServeConn(st) })
	var pool []*rpc.Client
	for range 3 {
		st, err := a.Open()
		if err != nil {
			t.Error(err)
			return
		}
		pool = append(pool, rpc.NewClient(st))
	}
	var wg sync.WaitGroup
	var calls atomic.Int64
	for i := range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				for j := range 10 {
					var r int
					if err := pool[(i+j)%len(pool)].Call("Arith.Mul", ArithArgs{i, j}, &r); err != nil || r != i*j {
						t.Errorf("rpc: %d, %v", r, err)
						return
					}
					calls.Add(1)
					time.Sleep(time.Duration(5+rand.IntN(25)) * time.Millisecond)
				}
				sleepCtx(ctx, 1500*time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, c := range pool {
		c.Close() // the stream's FIN; ServeConn reads EOF and closes its end
	}
	if calls.Load() == 0 {
		t.Error("rpc: no call")
	}
}

// ---- net/http with a Transport pool ----

// httpPool: an http.Server on the acceptor's streams and an
// http.Transport of up to 4 keep-alive streams: bursts of 8 concurrent
// requests, idle 1.5 s between them, the first burst start after the
// session's start, the idle streams closed by the Transport after
// idleTimeout (0: never).
func httpPool(start, idleTimeout time.Duration) func(ctx context.Context, t *testing.T, a, b muxEnd) {
	return func(ctx context.Context, t *testing.T, a, b muxEnd) {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("y", 2000))
		})}
		go srv.Serve(streamListener{b})
		tr := &http.Transport{MaxConnsPerHost: 4, MaxIdleConnsPerHost: 4, IdleConnTimeout: idleTimeout,
			DialContext: func(context.Context, string, string) (net.Conn, error) { return a.Open() }}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr}
		if !sleepCtx(ctx, start) {
			return
		}
		for ctx.Err() == nil {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					resp, err := cl.Get("http://mux/x")
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				})
			}
			wg.Wait()
			sleepCtx(ctx, 1500*time.Millisecond)
		}
	}
}

// ---- server push ----

// subscription: the client opens a stream and subscribes; the server
// sends an event every 1.3 s, the first one 1.3 s after the subscription
// (late: nothing before it) or an acknowledgment at once (!late); the
// client reads them until its time is up, then half-closes.
func subscription(late bool) func(ctx context.Context, t *testing.T, a, b muxEnd) {
	return func(ctx context.Context, t *testing.T, a, b muxEnd) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			st, err := b.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(st)
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if !late {
				io.WriteString(st, "subscribed\n")
			}
			go func() {
				every(ctx, 1300*time.Millisecond, func() bool { _, err := io.WriteString(st, "event: tick\n"); return err == nil })
			}()
			io.Copy(io.Discard, r) // until the client's FIN
			st.Close()
		}()
		st, err := a.Open()
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(st, "SUBSCRIBE ticks\n")
		read := make(chan int)
		go func() {
			n := 0
			r := bufio.NewReader(st)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					break
				}
				n++
			}
			read <- n
		}()
		<-ctx.Done()
		st.CloseWrite()
		<-done
		if n := <-read; n < 2 {
			t.Errorf("subscription: %d events", n)
		}
		st.Close()
	}
}

// ---- HTTP/2 (gRPC-style) on one stream ----

// h2Streaming: HTTP/2 without TLS (h2c, as gRPC runs over a stream) on one
// mux stream: a server-streaming call whose server sends an event every
// 1.3 s, and beside it bursts of 3 unary calls every 1.7 s; the client's
// HTTP/2 pings when it has read nothing for 500 ms (ReadIdleTimeout, as
// gRPC's keepalive), the server's likewise.
func h2Streaming(ctx context.Context, t *testing.T, a, b muxEnd) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			io.WriteString(w, "unary answer")
			return
		}
		fl := w.(http.Flusher)
		io.WriteString(w, "subscribed\n")
		fl.Flush()
		every(r.Context(), 1300*time.Millisecond, func() bool {
			_, err := io.WriteString(w, "event\n")
			fl.Flush()
			return err == nil && ctx.Err() == nil
		})
	})
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	ping := &http.HTTP2Config{SendPingTimeout: 500 * time.Millisecond, PingTimeout: 5 * time.Second}
	srv := &http.Server{Handler: h, Protocols: &h2c, HTTP2: ping}
	go srv.Serve(streamListener{b})
	var dials atomic.Int32
	tr := &http.Transport{Protocols: &h2c, HTTP2: ping,
		DialContext: func(context.Context, string, string) (net.Conn, error) { dials.Add(1); return a.Open() }}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	streamed := make(chan int)
	go func() {
		n := 0
		defer func() { streamed <- n }()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://mux/stream", nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			n++
		}
	}()
	unary := func() bool {
		for range 3 {
			resp, err := cl.Get("http://mux/unary")
			if err != nil {
				t.Error(err)
				return false
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return true
	}
	every(ctx, 1700*time.Millisecond, unary)
	if n := <-streamed; n < 2 {
		t.Errorf("h2: %d events streamed", n)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("h2: %d streams dialled, want 1", n)
	}
}

// ---- yamux graceful drain ----

// yamuxDrain: a rolling deploy's drain: the client asks on a new stream
// every 100 ms (each answered 300 ms later); at 2 s the server sends
// GoAway (normal) and serves the streams it has; the client, its
// OpenStream refused, stops asking and finishes what it asked; once all
// are answered the server closes the session, and the client's closes
// as it reads that.
func yamuxDrain(ctx context.Context, t *testing.T, a, b muxEnd) {
	var served sync.WaitGroup
	go func() {
		for {
			st, err := b.Accept()
			if err != nil {
				return
			}
			served.Go(func() {
				buf := make([]byte, 100)
				if _, err := io.ReadFull(st, buf); err == nil {
					time.Sleep(300 * time.Millisecond)
					st.Write(buf)
				}
				st.Close()
			})
		}
	}()
	drained := make(chan struct{})
	go func() {
		if !sleepCtx(ctx, 2*time.Second) {
			close(drained)
			return
		}
		b.(yamuxEnd).s.GoAway()
		close(drained)
	}()
	var asked sync.WaitGroup
	every(ctx, 100*time.Millisecond, func() bool {
		st, err := a.Open()
		if err != nil {
			return false // refused: GoAway
		}
		asked.Go(func() {
			st.Write(make([]byte, 100))
			io.ReadAll(st)
			st.Close()
		})
		return true
	})
	asked.Wait()
	<-drained
	<-ctx.Done()
	served.Wait()
	b.Close()
}

// ---- long poll ----

// longPollStreams: 2 pollers, each a stream per poll: the request, the
// server's answer 1.5 s later (longer than UnansweredAfter), the server's
// Close, the client's; the next poll at once.
func longPollStreams(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		r := bufio.NewReader(st)
		if _, err := r.ReadString('\n'); err == nil {
			time.Sleep(1500 * time.Millisecond)
			io.WriteString(st, "news\n")
		}
		st.Close()
	})
	openEach(ctx, a, 2, t, func(st muxStream) {
		io.WriteString(st, "POLL\n")
		if got, err := io.ReadAll(st); err != nil || string(got) != "news\n" {
			t.Errorf("poll: %q, %v", got, err)
		}
		st.Close()
	})
}

// longPollKeepAlive: HTTP long polls on one keep-alive stream, the next
// at once after each answer: the first 2 answered at once (news
// waiting), the rest 1.5 s later.
func longPollKeepAlive(ctx context.Context, t *testing.T, a, b muxEnd) {
	var n atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 2 {
			time.Sleep(1500 * time.Millisecond)
		}
		io.WriteString(w, "news")
	})}
	go srv.Serve(streamListener{b})
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return a.Open() }}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for ctx.Err() == nil {
		resp, err := cl.Get("http://mux/poll")
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// ---- bidirectional streaming ----

// bidiStreaming: 2 callers, each a stream per call: both ends write 1 KiB
// every 20 ms concurrently for 600 ms (a streaming RPC both ways), then the
// client half-closes and reads the server's long answer, 256 KiB in 4 KiB
// pieces every 20 ms (1.3 s), after which the server closes.
func bidiStreaming(ctx context.Context, t *testing.T, a, b muxEnd) {
	const answer = 256 << 10
	go serveEach(b, func(st muxStream) {
		in := make(chan struct{})
		go func() { io.Copy(io.Discard, st); close(in) }()
		msg := make([]byte, 1024)
		for i := 0; i < 30; i++ {
			select {
			case <-in:
				i = 30
				continue
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := st.Write(msg); err != nil {
				return
			}
		}
		<-in
		chunk := make([]byte, 4096)
		for range answer / len(chunk) {
			if _, err := st.Write(chunk); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		st.Close()
	})
	openEach(ctx, a, 2, t, func(st muxStream) {
		got := make(chan int64)
		go func() { n, _ := io.Copy(io.Discard, st); got <- n }()
		msg := make([]byte, 1024)
		for range 30 {
			st.Write(msg)
			time.Sleep(20 * time.Millisecond)
		}
		st.CloseWrite()
		if n := <-got; n < answer {
			t.Errorf("bidi: read %d, want at least %d", n, answer)
		}
		st.Close()
	})
}

// ---- pooled streams opened ahead ----

// poolAhead: the server opens 4 streams as it starts, which the client
// accepts and holds until used (a pool of work connections); every 1.2 s
// the server takes one, writes a request, reads the answer, and both
// close it; refill: the server opens a replacement after each use.
func poolAhead(refill bool) func(ctx context.Context, t *testing.T, a, b muxEnd) {
	return func(ctx context.Context, t *testing.T, a, b muxEnd) {
		// a: the client, which accepts; b: the server, which opens.
		go serveEach(a, func(st muxStream) { // held until the server uses it
			r := bufio.NewReader(st)
			if _, err := r.ReadString('\n'); err == nil {
				io.WriteString(st, "200 OK\n")
			}
			io.Copy(io.Discard, r)
			st.Close()
		})
		var pool []muxStream
		open := func() bool {
			st, err := b.Open()
			if err != nil {
				t.Error(err)
				return false
			}
			pool = append(pool, st)
			return true
		}
		for range 4 {
			if !open() {
				return
			}
		}
		every(ctx, 1200*time.Millisecond, func() bool {
			if len(pool) == 0 {
				return false
			}
			st := pool[0]
			pool = pool[1:]
			io.WriteString(st, "GET /\n")
			if line, err := bufio.NewReader(st).ReadString('\n'); err != nil || line != "200 OK\n" {
				t.Errorf("pool: %q, %v", line, err)
			}
			st.Close()
			return !refill || open()
		})
		for _, st := range pool {
			st.Close()
		}
	}
}

// ---- bursts with idle ----

// bursts: a control stream opened as the session starts (a hello and its
// answer, then held idle), and bursts of 20 request streams every 2 s,
// idle between them.
func bursts(ctx context.Context, t *testing.T, a, b muxEnd) {
	ctl := make(chan muxStream, 1)
	go func() {
		st, err := b.Accept()
		if err != nil {
			return
		}
		r := bufio.NewReader(st)
		if _, err := r.ReadString('\n'); err == nil {
			io.WriteString(st, "welcome\n")
		}
		ctl <- st
		serveRPC(b)
	}()
	c, err := a.Open()
	if err != nil {
		t.Error(err)
		return
	}
	io.WriteString(c, "hello\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "welcome\n" {
		t.Errorf("control: %q, %v", line, err)
	}
	req := make([]byte, 100)
	burst := func() bool {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				st, err := a.Open()
				if err != nil {
					t.Error(err)
					return
				}
				st.Write(req)
				if got, err := io.ReadAll(st); err != nil || len(got) != 1000 {
					t.Errorf("burst: %d bytes, %v", len(got), err)
				}
				st.Close()
			})
		}
		wg.Wait()
		return true
	}
	burst()
	every(ctx, 2*time.Second, burst)
	c.Close()
	select {
	case s := <-ctl:
		s.Close()
	case <-time.After(windDown):
	}
}

// ---- yamux application pings ----

// oddAppPings: the client's application calls yamux's Session.Ping at
// irregular times, twice in quick succession and then after a pause, the
// server's once, over an idle session with one request stream a second.
func oddAppPings(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveRPC(b)
	ping := func(e muxEnd) {
		if _, err := e.(yamuxEnd).s.Ping(); err != nil {
			t.Error(err)
		}
	}
	go func() {
		for _, at := range []time.Duration{200, 50, 1400, 900, 60} {
			if !sleepCtx(ctx, at*time.Millisecond) {
				return
			}
			ping(a)
		}
	}()
	go func() {
		if sleepCtx(ctx, 800*time.Millisecond) {
			ping(b)
		}
	}()
	req := make([]byte, 100)
	every(ctx, time.Second, func() bool {
		st, err := a.Open()
		if err != nil {
			t.Error(err)
			return false
		}
		st.Write(req)
		io.ReadAll(st)
		st.Close()
		return true
	})
}

// ---- short-lived copies ----

// copies: 4 workers, each a stream at a time: both ends io.Copy a random
// 1-64 KiB each way concurrently, each half-closes (CloseWrite) as its
// copy out ends and closes once both copies ended, in whichever order
// they end.
func copies(ctx context.Context, t *testing.T, a, b muxEnd) {
	both := func(st muxStream) {
		out := make(chan error, 1)
		go func() {
			_, err := io.Copy(st, io.LimitReader(zeros{}, int64(1+rand.IntN(64<<10))))
			st.CloseWrite()
			out <- err
		}()
		io.Copy(io.Discard, st)
		<-out
		st.Close()
	}
	go serveEach(b, both)
	openEach(ctx, a, 4, t, both)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// openerClosesFirst: request streams whose opener closes first: it writes
// 100 bytes, reads the 1000-byte answer and closes; the acceptor, its
// answer written, reads on until that close and closes then.
func openerClosesFirst(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(st, buf[:100]); err == nil {
			st.Write(buf)
			io.Copy(io.Discard, st)
		}
		st.Close()
	})
	openEach(ctx, a, 4, t, func(st muxStream) {
		st.Write(make([]byte, 100))
		if _, err := io.ReadFull(st, make([]byte, 1000)); err != nil {
			t.Errorf("answer: %v", err)
		}
		st.Close()
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	})
}

// ---- the session closed with idle streams ----

// sessionClose: the client holds 3 idle streams and the server 2 (each
// after a hello answered), and the client sends a request every 300 ms on
// a fourth, each answered at once; when its time is up
// the closer (the server when byServer) closes its session, and the other
// side, whose reads and accepts then fail, closes its own at once, as a
// healthy program does.
func sessionClose(byServer bool) func(ctx context.Context, t *testing.T, a, b muxEnd) {
	return func(ctx context.Context, t *testing.T, a, b muxEnd) {
		var wg sync.WaitGroup
		// serve accepts on e, answers a hello line on each, serves
		// requests, and closes e when anything fails.
		serve := func(e muxEnd) {
			defer e.Close()
			for {
				st, err := e.Accept()
				if err != nil {
					return
				}
				wg.Go(func() {
					r := bufio.NewReader(st)
					for {
						if _, err := r.ReadString('\n'); err != nil {
							e.Close() // the session went: close ours
							return
						}
						io.WriteString(st, "ok\n")
					}
				})
			}
		}
		wg.Go(func() { serve(a) })
		wg.Go(func() { serve(b) })
		// hold opens n streams on e, says hello on each, and holds them.
		hold := func(e muxEnd, n int) []muxStream {
			var sts []muxStream
			for range n {
				st, err := e.Open()
				if err != nil {
					t.Error(err)
					return sts
				}
				io.WriteString(st, "hello\n")
				sts = append(sts, st)
			}
			return sts
		}
		held := append(hold(a, 3), hold(b, 2)...)
		for _, st := range held {
			wg.Go(func() {
				r := bufio.NewReader(st)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
			})
		}
		asker := hold(a, 1)
		if len(asker) == 1 {
			wg.Go(func() { io.Copy(io.Discard, asker[0]) })
			every(ctx, 300*time.Millisecond, func() bool { _, err := io.WriteString(asker[0], "request\n"); return err == nil })
		}
		if byServer {
			b.Close()
		} else {
			a.Close()
		}
		wg.Wait()
	}
}

// ---- more of a session's life ----

// authThenControl: the client authenticates on a first stream, which both
// close once the server accepted the token, then opens 2 control streams
// (a hello answered on each) that it holds idle for the session's life,
// and asks on a new stream every 700 ms.
func authThenControl(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		r := bufio.NewReader(st)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			io.WriteString(st, "ok "+line)
			if strings.HasPrefix(line, "AUTH") || strings.HasPrefix(line, "ASK") {
				break
			}
		}
		io.Copy(io.Discard, r)
		st.Close()
	})
	ask := func(msg string) muxStream {
		st, err := a.Open()
		if err != nil {
			t.Error(err)
			return nil
		}
		io.WriteString(st, msg)
		if line, err := bufio.NewReader(st).ReadString('\n'); err != nil || line != "ok "+msg {
			t.Errorf("%q: %q, %v", msg, line, err)
		}
		return st
	}
	if st := ask("AUTH token\n"); st != nil {
		st.Close()
	}
	var held []muxStream
	for range 2 {
		if st := ask("HELLO control\n"); st != nil {
			held = append(held, st)
		}
	}
	every(ctx, 700*time.Millisecond, func() bool {
		if st := ask("ASK\n"); st != nil {
			st.CloseWrite()
			io.Copy(io.Discard, st)
			st.Close()
		}
		return true
	})
	for _, st := range held {
		st.Close()
		io.Copy(io.Discard, st)
	}
}

// bothOpen: both sides ask at once, each on streams of its own (a server
// that calls back into its client, as go-plugin's broker does): 4 askers
// a side, a request every 0-40 ms each.
func bothOpen(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveRPC(a)
	go serveRPC(b)
	var wg sync.WaitGroup
	for _, e := range []muxEnd{a, b, a, b, a, b, a, b} {
		wg.Go(func() {
			req := make([]byte, 100)
			for ctx.Err() == nil {
				st, err := e.Open()
				if err != nil {
					t.Error(err)
					return
				}
				st.Write(req)
				if got, err := io.ReadAll(st); err != nil || len(got) != 1000 {
					t.Errorf("both: %d bytes, %v", len(got), err)
				}
				st.Close()
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			}
		})
	}
	wg.Wait()
}

// healthChecks: a stream opened and closed at once, carrying nothing, every
// 100 ms (a liveness probe), which the server accepts and closes.
func healthChecks(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) { io.Copy(io.Discard, st); st.Close() })
	every(ctx, 100*time.Millisecond, func() bool {
		st, err := a.Open()
		if err != nil {
			t.Error(err)
			return false
		}
		st.Close()
		return true
	})
}

// bulkDownloads: 2 downloads at a time of 4 MiB each, one read as fast as
// it comes, one 64 KiB every 10 ms (6.4 MB/s, slower than the writer).
func bulkDownloads(ctx context.Context, t *testing.T, a, b muxEnd) {
	const size = 4 << 20
	go serveEach(b, func(st muxStream) {
		if _, err := bufio.NewReader(st).ReadString('\n'); err == nil {
			io.Copy(st, io.LimitReader(zeros{}, size))
		}
		st.Close()
	})
	var wg sync.WaitGroup
	for _, slow := range []bool{false, true} {
		wg.Go(func() {
			for ctx.Err() == nil {
				st, err := a.Open()
				if err != nil {
					t.Error(err)
					return
				}
				io.WriteString(st, "GET /big\n")
				n := int64(0)
				if slow {
					buf := make([]byte, 64<<10)
					for {
						m, err := io.ReadFull(st, buf)
						n += int64(m)
						if err != nil {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
				} else {
					n, _ = io.Copy(io.Discard, st)
				}
				if n != size {
					t.Errorf("download: %d bytes", n)
				}
				st.Close()
			}
		})
	}
	wg.Wait()
}

// ---- the documented limits ----

// afterHalfClose is the documented DATA_AFTER_CLOSE of a pattern whose
// side half-closes (CloseWrite) and reads on: in v1 always, in v2 where
// the reader read before its FIN, which the text says.
func afterHalfClose(su setup, f *live.Finding) string {
	switch {
	case f.Code != live.CodeDataAfterClose:
		return ""
	case isV1(su) && strings.Contains(f.Advice, "if it half-closed with CloseWrite to read on, as a "+f.Dir.Reverse().Sender().String()+" that still wants data should, they were delivered and nothing is wrong"):
		// Its advice says so too: before, it told the writer to stop
		// writing once a read returns io.EOF.
		return `v1: "In v1 nothing on the wire tells them apart, and a correct CloseWrite-then-read opens it too."`
	case isV2(su) && strings.Contains(f.Text, "smux discards them if the "+f.Dir.Reverse().Sender().String()+" called Close, and delivers them only after CloseWrite — the wire does not show whether the "+f.Dir.Reverse().Sender().String()+" read them") &&
		strings.Contains(f.Advice, "they were delivered and nothing is wrong"):
		// Both readings, as v1's: before, it headlined a Close that
		// discarded them.
		return `v2: "A receiver that had read the stream before its FIN sends none for less than half its buffer read after it: such data counts, and the finding's text says it may have been read"`
	}
	return ""
}

// v1SaysNothing is the documented UNANSWERED of smux v1 whose answer
// comes later than UnansweredAfter: critical, as the README's row says,
// and worded for a reader that never writes back.
func v1SaysNothing(su setup, f *live.Finding) string {
	if f.Code == live.CodeUnanswered && isV1(su) && !f.Evidence.Silent && f.Severity == live.Critical &&
		strings.Contains(f.Text, "or reads them and never writes back") {
		return `v1: "a v1 server that reads a stream and legitimately says nothing for seconds after the opener's last write looks the same, and the text says both (raise the threshold)"`
	}
	return ""
}

// idleByDesign is the documented LEAK of streams opened after the
// session's first second and held idle by design (a pool).
func idleByDesign(_ setup, f *live.Finding) string {
	if f.Code == live.CodeLeak && strings.Contains(f.Text, "open and idle") && strings.Contains(f.Text, "no FIN from either side") {
		return `"a stream opened later and held idle by design is counted — … frp's work connection, which frps asks for anew after each use and which waits idle in its pool … — and a host of such a program gets a LEAK that lasts while it idles; raise --leak-after above the longest idle its design allows"`
	}
	return ""
}

// anyOf is the first limit of ls that documents f.
func anyOf(ls ...func(setup, *live.Finding) string) func(setup, *live.Finding) string {
	return func(su setup, f *live.Finding) string {
		for _, l := range ls {
			if why := l(su, f); why != "" {
				return why
			}
		}
		return ""
	}
}

var morePatterns = []morePattern{
	{name: "net/rpc pool", run: rpcPool, leakAfter: time.Second},
	{name: "http pool from the start", run: httpPool(0, 0), leakAfter: time.Second},
	{name: "http pool from 1.2 s", run: httpPool(1200*time.Millisecond, 0), leakAfter: time.Second, limit: idleByDesign},
	{name: "http pool idle timeout 500ms", run: httpPool(1200*time.Millisecond, 500*time.Millisecond), leakAfter: time.Second},
	{name: "subscription first event late", run: subscription(true), limit: anyOf(v1SaysNothing, afterHalfClose)},
	{name: "subscription", run: subscription(false), limit: afterHalfClose},
	{name: "h2c streaming and unary calls", run: h2Streaming},
	{name: "yamux graceful drain", run: yamuxDrain, only: isYamux, limit: func(_ setup, f *live.Finding) string {
		if f.Code == live.CodeGoAway && f.Severity == live.Warning && strings.Contains(f.Text, "GoAway (normal)") {
			return `"a warning, as a rolling deploy's drain sends it: new streams are refused while the open ones go on"`
		}
		return ""
	}},
	{name: "long poll a stream each", run: longPollStreams, limit: v1SaysNothing},
	{name: "long poll keep-alive", run: longPollKeepAlive, limit: func(_ setup, f *live.Finding) string {
		if f.Code == live.CodeNoReply && f.Severity == live.Warning && strings.Contains(f.Text, "unless the protocol holds an answer back by design (a long poll)") {
			return `"a long poll answered at once twice opens it as its first slow poll waits --unanswered-after"`
		}
		return ""
	}},
	{name: "bidi streaming then half-close", run: bidiStreaming, leakAfter: time.Second, limit: afterHalfClose},
	{name: "pool opened ahead", run: poolAhead(false), leakAfter: time.Second},
	{name: "pool opened ahead refilled", run: poolAhead(true), leakAfter: time.Second, limit: idleByDesign},
	{name: "bursts with idle", run: bursts, leakAfter: time.Second},
	{name: "yamux app pings", run: oddAppPings, leakAfter: time.Second, only: isYamux},
	{name: "copies both ways", run: copies, leakAfter: time.Second, limit: afterHalfClose},
	{name: "opener closes first", run: openerClosesFirst, leakAfter: time.Second},
	{name: "auth stream then control streams", run: authThenControl, leakAfter: time.Second, limit: func(_ setup, f *live.Finding) string {
		if why := idleByDesign(setup{}, f); why != "" {
			return `"a stream that opened within 1 s of its session's first frame, no stream of the session having closed (either side's FIN, or an RST) before it" (the auth stream closed first), and ` + why
		}
		return ""
	}},
	{name: "both sides open", run: bothOpen, leakAfter: time.Second},
	{name: "health-check streams", run: healthChecks, leakAfter: time.Second},
	{name: "bulk downloads", run: bulkDownloads}, // a slow download lasts about 1 s: LEAK at its default (TestHealthyMoreV1Drain)
	{name: "session closed by the client", run: sessionClose(false)},
	{name: "session closed by the server", run: sessionClose(true)},
}

// TestHealthyMore drives real smux (v1, v2) and yamux pairs, both ends
// tapped, through healthy programs TestHealthyMatrix does not: net/rpc
// over pooled streams, an http.Transport's idle pool, server push, long
// polls, bidirectional streaming, streams opened ahead, bursts after idle,
// application pings, short copies closed in either order, a session
// closed with idle streams, evaluated in real time by metrics.Diagnose
// with 1 s thresholds: no finding may open but those the README documents
// for the pattern (its limit), which are logged.
func TestHealthyMore(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	runMorePatterns(t, morePatterns)
}

// runMorePatterns runs each of ps, in turns as the matrix's patterns
// (inTurns), on each of moreSetups at once (those it runs on), as
// TestHealthyMore does.
func runMorePatterns(t *testing.T, ps []morePattern) {
	if testing.Short() {
		t.Skip("real sessions for seconds")
	}
	if racetest.Enabled {
		t.Skip("the race detector slows the sessions past the 1 s thresholds")
	}
	inTurns(t, ps, func(p morePattern) string { return p.name }, func(t *testing.T, p morePattern) {
		var wg sync.WaitGroup
		for _, su := range moreSetups {
			if p.only != nil && !p.only(su) {
				continue
			}
			wg.Go(func() { runMore(t, su, p) })
		}
		wg.Wait()
	})
}

// runMore runs p on su, and once more if a finding not documented opened
// (a loaded machine can starve a healthy side past 1 s); only a second
// such run fails.
func runMore(t *testing.T, su setup, p morePattern) {
	runTwiceIfUndocumented(t, func() []string { return moreRun(t, su, p) })
}

// moreRun runs p on su for p.d (4 s by default), winds it down, lets the
// session idle a second, and returns each finding opened, those p's limit
// documents prefixed "documented: ".
func moreRun(t *testing.T, su setup, p morePattern) []string {
	history := 1024
	if p.streamsToFIN {
		history = stallHistory // a late frame's stream's FIN is looked up
	}
	reg := live.New(live.Config{History: history, Snaplen: 16})
	cli, srv := su.pair(t, reg)
	stop := metrics.Diagnose(reg, moreThresholds(p))
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(p.d, 4*time.Second))
	defer cancel()
	var stalls *stallMeter
	if p.streamsToFIN {
		stalls = meterStalls()
		defer stalls.stop()
	}
	returned := make(chan struct{})
	go func() { defer close(returned); p.run(ctx, t, cli, srv) }()
	<-ctx.Done()
	select {
	case <-returned:
	case <-time.After(windDown):
		cli.Close()
		srv.Close()
		<-returned
		return []string{fmt.Sprintf("%s: %s stuck: still running %v after its end", su.name, p.name, windDown)}
	}
	time.Sleep(time.Second)
	stop()
	var stalled []stall
	if stalls != nil {
		stalled = stalls.stop()
	}
	tapOf := map[uint64]string{}
	for _, s := range reg.Snapshot().Sessions {
		tapOf[s.ID] = s.Info.Label
	}
	var problems []string
	for _, f := range openedFindings(reg) {
		at := fmt.Sprintf("%s: %s, at the %s tap:", su.name, p.name, cmp.Or(tapOf[f.Session], "?"))
		if p.limit != nil {
			if why := p.limit(su, f); why != "" {
				problems = append(problems, fmt.Sprintf("documented: %s %s %s (documented: %s): %s", at, f.Code, f.Severity, why, f.Text))
				continue
			}
		}
		var notStalled string
		if f.Code == live.CodeDataAfterClose && stalls != nil {
			stalledAt, why := stallAcrossFIN(reg, f, stalled)
			if stalledAt != "" {
				problems = append(problems, fmt.Sprintf("documented: %s %s %s (documented: frames in flight count where they come "+
					`"more than 250 ms after the FIN", or follow a writer whose latest burst was not "within 250 ms before the FIN": %s): %s`,
					at, f.Code, f.Severity, stalledAt, f.Text))
				continue
			}
			notStalled = " (" + why + ")"
		}
		problems = append(problems, fmt.Sprintf("%s %s %s opened on a healthy run%s: %s", at, f.Code, f.Severity, notStalled, f.Text))
	}
	return problems
}

// stallMeter measures when the machine stalls the process: a goroutine
// sleeps a millisecond at a time and notes each wait of stallOf or more.
// A writer stalled so across its peer's FIN is seen by the taps as
// silent before the FIN, or writing after it, for as long: by more than
// DATA_AFTER_CLOSE's in-flight windows (250 ms before the FIN and after
// it) where the stall was about as long (a loaded 2-core machine stalled
// every goroutine of the test 324 ms).
type stallMeter struct {
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
	stalls  []stall
}

// stall is one wait of stallOf or more the process had, from the
// meter's sleep to its waking.
type stall struct{ from, to time.Time }

// stallOf is the shortest stall stallMeter tells: half an in-flight
// window, so that a stall the taps' own goroutines lengthen is told.
const stallOf = 125 * time.Millisecond

// inFlight is DATA_AFTER_CLOSE's in-flight window (live's
// inFlightWindow, which the README quotes): 250 ms.
const inFlight = 250 * time.Millisecond

// stallHistory is the history a run whose stalls are measured keeps, so
// that the FIN a late frame followed is still in it when the run is
// judged (a 4 s push on four streams records about 20,000 frames).
const stallHistory = 1 << 16

// meterStalls starts a stallMeter.
func meterStalls() *stallMeter {
	m := &stallMeter{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		last := time.Now()
		for {
			select {
			case <-m.done:
				return
			case <-time.After(time.Millisecond):
			}
			now := time.Now()
			if now.Sub(last) >= stallOf {
				m.stalls = append(m.stalls, stall{last, now})
			}
			last = now
		}
	}()
	return m
}

// stop stops m and returns the stalls it measured, oldest first.
func (m *stallMeter) stop() []stall {
	m.once.Do(func() { close(m.done) })
	<-m.stopped
	return m.stalls
}

// stallAcrossFIN says which of stalls excuses f, a DATA_AFTER_CLOSE: one
// that overlaps [its stream's FIN − 250 ms, its first late frame], the
// in-flight rule's window before the FIN up to the frame it counted
// late. A stall elsewhere in the run excuses nothing: a regression that
// counts frames in flight as late (9764ca8's) fails a loaded run too.
// The finding names its first stream (Stream) and that stream's first
// late frame (Since), not the others it counts: the window is the first
// stream's. The FIN is the receiver's on Stream in the history; where it
// is not there (evicted), nothing excuses f. why says why not, where
// none does.
func stallAcrossFIN(reg *live.Registry, f *live.Finding, stalls []stall) (stalledAt, why string) {
	recv := f.Dir.Reverse()
	fins, _ := reg.Frames(live.Query{Scan: stallHistory, Max: 1, Match: func(r *live.Record) bool {
		if r.Kind != live.FrameRecord || r.Session != f.Session || r.Dir != recv || r.StreamID() != f.Stream {
			return false
		}
		if r.Proto == live.Yamux {
			return r.YamuxHeader.Flags()&dyamux.FIN != 0
		}
		return r.Header.Cmd() == decoder.FIN
	}}, nil)
	if len(fins) == 0 {
		return "", fmt.Sprintf("no FIN of stream %d in the history to place the stalls against", f.Stream)
	}
	// Frames in flight at the FIN that a stall held come once it ends: a
	// stall that explains them began by the in-flight window's end, not
	// anywhere before a late frame seconds on.
	from, to := fins[0].At.Add(-inFlight), f.Since
	if end := fins[0].At.Add(inFlight); to.After(end) {
		to = end
	}
	for _, st := range stalls {
		if !st.from.After(to) && !st.to.Before(from) {
			return fmt.Sprintf("the machine stalled the process %v from %s (a 1 ms sleep's wait), across stream %d's FIN at %s and its first late frame at %s",
				st.to.Sub(st.from).Round(time.Millisecond), st.from.Format("15:04:05.000"), f.Stream,
				fins[0].At.Format("15:04:05.000"), f.Since.Format("15:04:05.000")), ""
		}
	}
	return "", fmt.Sprintf("%d stalls of %v or more in the run, none across [stream %d's FIN %s − 250 ms, %s] (its first late frame, or the in-flight window's end)",
		len(stalls), stallOf, f.Stream, fins[0].At.Format("15:04:05.000"), to.Format("15:04:05.000"))
}

// pushClosedByReader: streams the server pushes on (a log tail, a
// download, a watch) that the client leaves by closing them: 4 clients,
// each opening a stream, asking for the feed, reading pushFeed of it
// (about 300 ms) and calling Close, then opening the next; the server
// writes 512 bytes every millisecond until its read of the stream returns
// io.EOF (the client's FIN), and then stops and closes: it writes nothing
// once it knows. The client leaves after a count of bytes, not a time: a
// read deadline that passed while the machine stalled the process sent
// the FIN as the process woke, the server's latest write a stall before
// it, and the server's next write a millisecond after it (no stream up to
// the FIN, by DATA_AFTER_CLOSE's rule).
func pushClosedByReader(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		r := bufio.NewReader(st)
		if _, err := r.ReadString('\n'); err != nil {
			st.Close()
			return
		}
		var gone atomic.Bool
		go func() { io.Copy(io.Discard, r); gone.Store(true) }()
		line := make([]byte, 512)
		for !gone.Load() {
			if _, err := st.Write(line); err != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		st.Close()
	})
	openEach(ctx, a, 4, t, func(st muxStream) {
		io.WriteString(st, "TAIL /var/log/app\n")
		// The feed's first bytes, however late a loaded server sends
		// them, then 300 ms of it: "push: nothing read" failed a run
		// whose server pushed later than 300 ms after the request.
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := st.Read(make([]byte, 512)); err != nil {
			t.Errorf("push: nothing read: %v", err)
		}
		if _, err := io.CopyN(io.Discard, st, pushFeed); err != nil {
			t.Errorf("push: %v", err)
		}
		st.Close()
	})
}

// pushFeed is what a pushClosedByReader client reads of its feed before
// it leaves: 300 ms of it at 512 bytes a millisecond.
const pushFeed = 150 << 10

// TestHealthyMorePushClosedByReader: streams the server pushes on that the
// client leaves by closing them (pushClosedByReader: a log tail, a
// download, a watch cancelled by Close, smux's only way to) opened
// DATA_AFTER_CLOSE, a false alarm, in smux v1 and v2, before its
// in-flight window (watch.go) excused them (yamux's Close is a
// half-close, for which it is not made): the server's frames already on
// their way when the client's FIN went out (at the client's tap, 15 to 42
// of the about 50 streams a run cancels, on loopback), or written before
// the server's read returned the FIN its tap had read (at the server's
// tap, 1 to 10), are
// "wrote … after the client had sent FIN": "the server wrote 33 frames
// (16.5 KiB) to 29 streams (first stream 9) after the client had sent
// FIN: smux discards them if the client called Close, and delivers them
// only after CloseWrite", with the advice that "the server should stop
// writing a stream once a read returns io.EOF (the peer's FIN)", which
// this server does. The README's DATA_AFTER_CLOSE row documented late
// data of a receiver that half-closed (CloseWrite) and reads on, not
// frames that crossed the FIN (it now excuses those: in flight); over a
// network, whose round trip is far longer
// than a millisecond, every cancelled stream that was being written has
// such frames.
func TestHealthyMorePushClosedByReader(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	runMorePatterns(t, []morePattern{{name: "push stream closed by its reader", run: pushClosedByReader, streamsToFIN: true}})
}

// drainAfterFin: a download read slower than it arrives: the server
// writes 3 MiB at once and closes (its FIN follows the last byte), the
// client reads 16 KiB every 16 ms (1 MiB/s: 3 s) and closes once it read
// it all.
func drainAfterFin(ctx context.Context, t *testing.T, a, b muxEnd) {
	const size = 3 << 20
	go func() {
		st, err := b.Accept()
		if err != nil {
			return
		}
		if _, err := bufio.NewReader(st).ReadString('\n'); err == nil {
			io.Copy(st, io.LimitReader(zeros{}, size))
		}
		st.Close()
	}()
	st, err := a.Open()
	if err != nil {
		t.Error(err)
		return
	}
	io.WriteString(st, "GET /big\n")
	buf := make([]byte, 16<<10)
	start, n := time.Now(), 0
	for {
		// 16 KiB every 16 ms since start, so that a tick a loaded
		// machine drops does not slow it.
		due := int(time.Since(start)/(16*time.Millisecond)) * len(buf)
		if n >= due {
			time.Sleep(16 * time.Millisecond)
			continue
		}
		m, err := io.ReadFull(st, buf)
		n += m
		if err != nil {
			break
		}
	}
	if n != size {
		t.Errorf("download: %d bytes", n)
	}
	st.Close()
}

// TestHealthyMoreV1Drain: in smux v1 a download read slower than it
// arrived (drainAfterFin) opens LEAK, a false alarm, while its reader
// reads: the server's bytes and its FIN are all in the client's session
// buffer within milliseconds, and the client reads them for 3 s with
// nothing on the wire (a v1 reader sends nothing when it reads), so that
// the stream, half-closed by the server, idles past --leak-after (1 s
// here): "the client never closes its streams: 1 half-closed by the
// server and idle 1.0 s or more, oldest 3.0 s (stream 3, idle 3.0 s)"
// (its words as it resolves, the client's Close at 3 s), at both taps,
// whose advice is to call Close() on the client's stream, which the
// client does once it has read it all. v2 (its reader's UPDs) and yamux
// (its window updates) show the reading, and open nothing. At smux's
// defaults (MaxReceiveBuffer 4 MiB, keepalive every 10 s) and
// --leak-after's (30 s), 3.5 MiB read at 80 KiB/s (45 s: a tunnel to a
// slow client) opened it 40 s in, at the first keepalive after its
// deadline, at both taps: "the client never closes its streams: 1
// half-closed by the server and idle 30 s or more, oldest 40 s (stream
// 3, idle 40 s)". The README says of LEAK that "a transfer longer than
// --leak-after — is none, however long it lives", and documents no such
// limit.
func TestHealthyMoreV1Drain(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	runMorePatterns(t, []morePattern{{name: "download read slower than it arrived", run: drainAfterFin, leakAfter: time.Second}})
}

// uploadRejected: uploads the server refuses: 4 clients, each opening a
// stream and writing 512 bytes every millisecond while it reads for the
// answer; the server reads uploadLimit of it (about 200 ms), answers "413
// too large" and closes; the client stops writing as soon as it has read
// the answer (a write held at the window returns then), and closes, and
// uploads again. The server refuses after a
// count of bytes, not a time: a read deadline that passed while the
// machine stalled the process sent the FIN as the process woke, the
// client's latest write a stall before it, and its next a millisecond
// after it (no stream up to the FIN, by DATA_AFTER_CLOSE's rule).
func uploadRejected(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.CopyN(io.Discard, st, uploadLimit) // short: its client sees no answer, and is stuck
		io.WriteString(st, "413 too large\n")
		st.Close()
	})
	openEach(ctx, a, 4, t, func(st muxStream) {
		var mu sync.Mutex
		stop := false
		go func() {
			bufio.NewReader(st).ReadString('\n')
			mu.Lock()
			stop = true
			mu.Unlock()
			// A Write held at the stream's window, which the server
			// no longer opens once it has answered and closed, returns
			// now: the writer stops as soon as the answer is read. Before,
			// a client whose reader a loaded machine starved wrote on
			// past the window and waited there for ever: "upload
			// rejected by the server stuck: still running 20s after its
			// end" (v2, yamux).
			st.SetWriteDeadline(time.Now())
		}()
		chunk := make([]byte, 512)
		for {
			mu.Lock()
			s := stop
			mu.Unlock()
			if s {
				break
			}
			st.Write(chunk)
			time.Sleep(time.Millisecond)
		}
		st.Close()
	})
}

// uploadLimit is what the uploadRejected server reads before it refuses:
// 200 ms of an upload at 512 bytes a millisecond.
const uploadLimit = 100 << 10

// TestHealthyMoreUploadRejected: the other direction of
// TestHealthyMorePushClosedByReader. An upload the server refuses
// (uploadRejected: its answer, then Close, while the client writes) opened
// DATA_AFTER_CLOSE, a false alarm, in smux v1 and v2, before its
// in-flight window (watch.go): the client's frames
// on their way as the server's FIN went out (at the server's tap, nearly
// every refused upload), or written before the client read the answer its
// tap had read (at the client's tap, a few), are "the client wrote 42
// frames (21 KiB) to 42 streams (first stream 3) after the server had sent
// FIN: smux discards them if the server called Close, and delivers them
// only after CloseWrite", though the client stops writing as soon as it
// reads the refusal.
func TestHealthyMoreUploadRejected(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	runMorePatterns(t, []morePattern{{name: "upload rejected by the server", run: uploadRejected, streamsToFIN: true}})
}

// TestStallAcrossFIN: a stall excuses a DATA_AFTER_CLOSE only where it
// overlaps [its stream's FIN − 250 ms, its first late frame]; one earlier
// in the run, as b98c158's meter took, excuses nothing.
func TestStallAcrossFIN(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	reg := live.New(live.Config{History: 64, Snaplen: 16})
	s := reg.Open(live.SessionInfo{}, t0)
	fin := t0.Add(5 * time.Second)
	s.Record(live.ClientToServer, t0, &decoder.Frame{Header: decoder.MakeHeader(2, decoder.SYN, 0, 3)})
	s.Record(live.ServerToClient, fin, &decoder.Frame{Header: decoder.MakeHeader(2, decoder.FIN, 0, 3)})
	f := &live.Finding{Code: live.CodeDataAfterClose, Session: s.ID(), Stream: 3, Dir: live.ClientToServer, HasDir: true,
		Since: fin.Add(400 * time.Millisecond)}
	for _, tc := range []struct {
		name    string
		stalls  []stall
		excused bool
	}{
		{"none", nil, false},
		{"earlier in the run", []stall{{t0.Add(time.Second), t0.Add(1300 * time.Millisecond)}}, false},
		{"after the late frame", []stall{{fin.Add(500 * time.Millisecond), fin.Add(900 * time.Millisecond)}}, false},
		{"ending in the window before the FIN", []stall{{fin.Add(-400 * time.Millisecond), fin.Add(-200 * time.Millisecond)}}, true},
		{"between the FIN and the late frame", []stall{{fin.Add(100 * time.Millisecond), fin.Add(300 * time.Millisecond)}}, true},
	} {
		at, why := stallAcrossFIN(reg, f, tc.stalls)
		if (at != "") != tc.excused || at == "" && why == "" {
			t.Errorf("%s: excused by %q (not: %q), want excused %v", tc.name, at, why, tc.excused)
		}
	}
	// Late frames 2 s after the FIN: a stall that began past the in-flight
	// window explains none of them; one that began inside it does.
	far := *f
	far.Since = fin.Add(2 * time.Second)
	if at, _ := stallAcrossFIN(reg, &far, []stall{{fin.Add(400 * time.Millisecond), fin.Add(600 * time.Millisecond)}}); at != "" {
		t.Errorf("a stall past the in-flight window excused late frames 2 s after the FIN: %q", at)
	}
	if at, why := stallAcrossFIN(reg, &far, []stall{{fin.Add(200 * time.Millisecond), fin.Add(600 * time.Millisecond)}}); at == "" {
		t.Errorf("a stall begun inside the in-flight window did not excuse: %q", why)
	}
	f.Stream = 5 // no FIN of it recorded
	if at, why := stallAcrossFIN(reg, f, []stall{{fin, fin.Add(time.Second)}}); at != "" || !strings.Contains(why, "no FIN of stream 5") {
		t.Errorf("a stream with no FIN in the history: excused by %q (not: %q)", at, why)
	}
}
