package live_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// muxEnd is one end of a real smux or yamux session, as a pattern uses it.
// Close closes the session: every operation on its streams returns.
type muxEnd interface {
	Open() (muxStream, error)
	Accept() (muxStream, error)
	Close() error
}

// muxStream is a stream of either: CloseWrite sends FIN and reads on
// (smux's CloseWrite; yamux's Close, a half-close).
type muxStream interface {
	net.Conn
	CloseWrite() error
}

type smuxEnd struct{ s *smux.Session }

func (e smuxEnd) Open() (muxStream, error) {
	st, err := e.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (e smuxEnd) Accept() (muxStream, error) {
	st, err := e.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (e smuxEnd) Close() error { return e.s.Close() }

type yamuxEnd struct{ s *hyamux.Session }

type yamuxStream struct{ *hyamux.Stream }

func (s yamuxStream) CloseWrite() error { return s.Stream.Close() }

func (e yamuxEnd) Open() (muxStream, error) {
	st, err := e.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st}, nil
}

func (e yamuxEnd) Accept() (muxStream, error) {
	st, err := e.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return yamuxStream{st}, nil
}

func (e yamuxEnd) Close() error { return e.s.Close() }

// setup is a healthy configuration of a real pair: both ends are tapped,
// each a session of its own in the registry.
type setup struct {
	name string
	pair func(t *testing.T, reg *live.Registry) (cli, srv muxEnd)
}

func smuxSetup(name string, version int, edit func(c, s *smux.Config)) setup {
	return setup{name: name, pair: func(t *testing.T, reg *live.Registry) (muxEnd, muxEnd) {
		ccfg, scfg := smuxtest.Config(version), smuxtest.Config(version)
		if edit != nil {
			edit(ccfg, scfg)
		}
		cc, sc := smuxtest.Conns(t)
		cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "cli"), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "srv"), scfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close(); srv.Close() })
		return smuxEnd{cli}, smuxEnd{srv}
	}}
}

func yamuxSetup(name string, edit func(c, s *hyamux.Config)) setup {
	return setup{name: name, pair: func(t *testing.T, reg *live.Registry) (muxEnd, muxEnd) {
		ccfg, scfg := hyamux.DefaultConfig(), hyamux.DefaultConfig()
		for _, c := range []*hyamux.Config{ccfg, scfg} {
			c.LogOutput = io.Discard
		}
		if edit != nil {
			edit(ccfg, scfg)
		}
		cc, sc := smuxtest.Conns(t)
		cli, err := hyamux.Client(tap.Wrap(cc, live.Client, reg, "cli"), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := hyamux.Server(tap.Wrap(sc, live.Server, reg, "srv"), scfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close(); srv.Close() })
		return yamuxEnd{cli}, yamuxEnd{srv}
	}}
}

// ka sets c's keepalive interval and timeout.
func ka(c *smux.Config, every, timeout time.Duration) {
	c.KeepAliveInterval, c.KeepAliveTimeout = every, timeout
}

// closeTimeout is the StreamCloseTimeout of the matrix's yamux setup with
// one: windDown, 20 s, not yamux's 5 min. A yamux end that half-closed a
// stream resets it when its peer's FIN is later than that, and its own
// Read then returns io.EOF with nothing read: a healthy program keeps it
// above the longest its peer takes to answer. At 1 s it was below what a
// loaded 2-core machine makes of the half-close pattern's 50 ms answer,
// and the pattern read "0 bytes" of the answer it was owed; a peer later
// than windDown is stuck by the matrix's own measure.
const closeTimeout = windDown

// healthySetups are the configurations of the matrix: smux v1 and v2 with
// small and large frames, small session and stream buffers, keepalive off
// on one side or both, fast, slow and different per side (each timeout 3
// times its interval or more: healthy on a loaded machine), and yamux
// with keepalive off, fast or on one side, and a 1 MiB window with a
// StreamCloseTimeout of its own (closeTimeout).
var healthySetups = []setup{
	smuxSetup("v1 frame 512", 1, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxFrameSize = 512
			ka(x, 100*time.Millisecond, 3*time.Second)
		}
	}),
	smuxSetup("v2 frame 65535", 2, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxFrameSize = 65535
			ka(x, 100*time.Millisecond, 3*time.Second)
		}
	}),
	smuxSetup("v1 recvbuf 64K", 1, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxReceiveBuffer = 64 << 10
			ka(x, 100*time.Millisecond, 3*time.Second)
		}
	}),
	smuxSetup("v2 recvbuf 64K streambuf 16K", 2, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxReceiveBuffer, x.MaxStreamBuffer = 64<<10, 16<<10
			ka(x, 100*time.Millisecond, 3*time.Second)
		}
	}),
	smuxSetup("v2 streambuf 16K frame 512", 2, func(c, s *smux.Config) {
		for _, x := range []*smux.Config{c, s} {
			x.MaxStreamBuffer, x.MaxFrameSize = 16<<10, 512
		}
	}),
	smuxSetup("v1 keepalive off both", 1, func(c, s *smux.Config) {
		c.KeepAliveDisabled, s.KeepAliveDisabled = true, true
	}),
	smuxSetup("v2 keepalive off both", 2, func(c, s *smux.Config) {
		c.KeepAliveDisabled, s.KeepAliveDisabled = true, true
	}),
	smuxSetup("v1 keepalive off client, server 100ms", 1, func(c, s *smux.Config) {
		c.KeepAliveDisabled = true
		ka(s, 100*time.Millisecond, 30*time.Second)
	}),
	smuxSetup("v2 keepalive off server, client 100ms", 2, func(c, s *smux.Config) {
		s.KeepAliveDisabled = true
		ka(c, 100*time.Millisecond, 30*time.Second)
	}),
	smuxSetup("v1 keepalive 20s both", 1, func(c, s *smux.Config) {
		ka(c, 20*time.Second, 60*time.Second)
		ka(s, 20*time.Second, 60*time.Second)
	}),
	smuxSetup("v2 keepalive client 100ms server 20s", 2, func(c, s *smux.Config) {
		ka(c, 100*time.Millisecond, 60*time.Second)
		ka(s, 20*time.Second, 60*time.Second)
	}),
	smuxSetup("v1 keepalive client 300ms server 100ms", 1, func(c, s *smux.Config) {
		ka(c, 300*time.Millisecond, 3*time.Second)
		ka(s, 100*time.Millisecond, 3*time.Second)
	}),
	yamuxSetup("yamux keepalive off", func(c, s *hyamux.Config) {
		c.EnableKeepAlive, s.EnableKeepAlive = false, false
	}),
	yamuxSetup("yamux keepalive 100ms", func(c, s *hyamux.Config) {
		c.KeepAliveInterval, s.KeepAliveInterval = 100*time.Millisecond, 100*time.Millisecond
	}),
	yamuxSetup("yamux window 1M close timeout 20s", func(c, s *hyamux.Config) {
		for _, x := range []*hyamux.Config{c, s} {
			x.MaxStreamWindowSize = 1 << 20
			x.StreamCloseTimeout = closeTimeout
			x.KeepAliveInterval = 200 * time.Millisecond
		}
	}),
	yamuxSetup("yamux keepalive client only 100ms", func(c, s *hyamux.Config) {
		c.KeepAliveInterval = 100 * time.Millisecond
		s.EnableKeepAlive = false
	}),
}

// pattern is what a healthy program does with a pair: run drives it
// until ctx is done, then winds it down and returns.
type pattern struct {
	name string
	run  func(ctx context.Context, t *testing.T, cli, srv muxEnd)
	// pairs is how many pairs it runs, each its own session: 1 unless
	// it is about many sessions.
	pairs int
	// leakAfter is the LEAK threshold: short where every stream is.
	leakAfter time.Duration
	// opens is the side that opens the streams.
	opens live.Side
}

// every calls f every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !f() {
				return
			}
		}
	}
}

// tunnel: a bidirectional io.Copy tunnel: b echoes what a writes.
func tunnel(ctx context.Context, t *testing.T, a, b muxEnd) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err := b.Accept()
		if err != nil {
			return
		}
		io.Copy(st, st)
		st.Close()
	}()
	st, err := a.Open()
	if err != nil {
		t.Error(err)
		return
	}
	read := make(chan struct{})
	go func() { io.Copy(io.Discard, st); close(read) }()
	chunk := make([]byte, 16<<10)
	every(ctx, 5*time.Millisecond, func() bool { _, err := st.Write(chunk); return err == nil })
	st.CloseWrite()
	<-read
	st.Close()
	<-done
}

// streamListener is a net.Listener of a mux end's accepted streams.
type streamListener struct{ e muxEnd }

func (l streamListener) Accept() (net.Conn, error) { return l.e.Accept() }
func (l streamListener) Close() error              { return nil }
func (l streamListener) Addr() net.Addr            { return &net.TCPAddr{} }

// httpKeepAlive: HTTP/1.1 requests, one at a time, over one long-lived
// stream, at irregular intervals.
func httpKeepAlive(ctx context.Context, t *testing.T, a, b muxEnd) {
	body := strings.Repeat("x", 100_000)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.URL.Path) * 1000
		io.WriteString(w, body[:min(n, len(body))])
	})}
	go srv.Serve(streamListener{b})
	var dials atomic.Int32
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
		DialContext: func(context.Context, string, string) (net.Conn, error) { dials.Add(1); return a.Open() }}
	cl := &http.Client{Transport: tr}
	i := 0
	gaps := []time.Duration{10, 300, 50, 700, 20, 1200, 5}
	for ctx.Err() == nil {
		i++
		resp, err := cl.Get("http://mux/" + strings.Repeat("p", i%120))
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		select {
		case <-ctx.Done():
		case <-time.After(gaps[i%len(gaps)] * time.Millisecond):
		}
	}
	tr.CloseIdleConnections() // the server's Serve ends with the session
	if n := dials.Load(); n != 1 {
		t.Errorf("http: %d streams, want one kept alive", n)
	}
}

// websocket: a long-lived stream with a handshake answered at once, then
// a message each way now and then, idle between them for many keepalive
// intervals.
func websocket(ctx context.Context, t *testing.T, a, b muxEnd) {
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
		io.WriteString(st, "101 switching\n")
		go func() {
			every(ctx, 700*time.Millisecond, func() bool { _, err := io.WriteString(st, "event\n"); return err == nil })
		}()
		io.Copy(io.Discard, r)
		st.Close()
	}()
	st, err := a.Open()
	if err != nil {
		t.Error(err)
		return
	}
	io.WriteString(st, "GET /ws\n")
	read := make(chan struct{})
	go func() { io.Copy(io.Discard, st); close(read) }()
	every(ctx, 900*time.Millisecond, func() bool { _, err := io.WriteString(st, "ping\n"); return err == nil })
	io.WriteString(st, "bye\n")
	st.CloseWrite()
	<-done
	<-read
	st.Close()
}

// serveRPC accepts streams on b until it fails: each reads a 100-byte
// request, answers 1000 bytes and closes.
func serveRPC(b muxEnd) {
	serveEach(b, func(st muxStream) {
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(st, buf[:100]); err == nil {
			st.Write(buf)
		}
		st.Close()
	})
}

// churn: short request-response streams, 8 at a time, as fast as they
// go: 800 to 3 000 in 2 s per pair, 16 pairs at once, on 2 cores.
func churn(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveRPC(b)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 8 {
		wg.Go(func() {
			req := make([]byte, 100)
			for ctx.Err() == nil {
				st, err := a.Open()
				if err != nil {
					t.Error(err)
					return
				}
				st.Write(req)
				if got, err := io.ReadAll(st); err != nil || len(got) != 1000 {
					t.Errorf("rpc: %d bytes, %v", len(got), err)
				}
				st.Close()
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n == 0 {
		t.Error("churn: no stream served")
	}
}

// slowConsumer: a writes as fast as it can; b reads 8 KiB every 10 ms,
// steadily slower, then the rest at once.
//
// Steadily: at each tick b reads what 8 KiB every 10 ms comes to since it
// began, so a tick a loaded machine drops (time.Ticker drops them for a
// late receiver) does not slow it. Else it read at half its rate, or less,
// and a yamux reader, which sends a window update only once it read half
// its window (512 KiB of the 1 MiB setup's), was not seen reading for the
// matrix's 1 s StallAfter: WINDOW_STALL, in the first run and the second.
func slowConsumer(ctx context.Context, t *testing.T, a, b muxEnd) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		st, err := b.Accept()
		if err != nil {
			return
		}
		const chunk, tick = 8 << 10, 10 * time.Millisecond
		buf := make([]byte, chunk)
		start, read := time.Now(), 0
		every(ctx, tick, func() bool {
			for due := int(time.Since(start)/tick) * chunk; read < due; {
				n, err := st.Read(buf[:min(chunk, due-read)])
				if read += n; err != nil {
					return false
				}
			}
			return true
		})
		io.Copy(io.Discard, st)
		st.Close()
	}()
	st, err := a.Open()
	if err != nil {
		t.Error(err)
		return
	}
	chunk := make([]byte, 32<<10)
	for ctx.Err() == nil {
		if _, err := st.Write(chunk); err != nil {
			break
		}
	}
	st.CloseWrite()
	<-done
	io.Copy(io.Discard, st)
	st.Close()
}

// halfClose: a writes a request, CloseWrite, then reads the answer b
// writes after it read the request to its end: half as long, its first 8
// bytes how much b read, so that an answer of the wrong length says which
// way bytes went missing.
func halfClose(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		n, _ := io.Copy(io.Discard, st)
		time.Sleep(50 * time.Millisecond)
		answer := make([]byte, max(n/2, 8))
		binary.BigEndian.PutUint64(answer, uint64(n))
		st.Write(answer)
		st.Close()
	})
	openEach(ctx, a, 3, t, func(st muxStream) {
		wrote, werr := st.Write(make([]byte, 40_000))
		st.CloseWrite()
		if got, err := smuxtest.ReadAll(st); err != nil || len(got) != 20_000 {
			read := "no answer"
			if len(got) >= 8 {
				read = fmt.Sprintf("the answerer read %d", binary.BigEndian.Uint64(got))
			}
			t.Errorf("half-close: %d bytes, %v; wrote %d of 40000 (%v), %s", len(got), err, wrote, werr, read)
		}
		st.Close()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	})
}

// reversed runs p with the server opening the streams.
func reversed(p pattern) pattern {
	r := p
	r.name, r.opens = p.name+" (server opens)", live.Server
	r.run = func(ctx context.Context, t *testing.T, a, b muxEnd) { p.run(ctx, t, b, a) }
	return r
}

// manySessions: a few requests a second on each of many sessions.
func manySessions(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveRPC(b)
	req := make([]byte, 100)
	every(ctx, 300*time.Millisecond, func() bool {
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

var healthyPatterns = []pattern{
	{name: "tunnel", run: tunnel},
	{name: "http keep-alive", run: httpKeepAlive},
	{name: "websocket", run: websocket},
	{name: "churn", run: churn, leakAfter: time.Second},
	{name: "slow consumer", run: slowConsumer},
	{name: "half-close", run: halfClose, leakAfter: time.Second},
	{name: "many sessions", run: manySessions, pairs: 12, leakAfter: time.Second},
}

// openedFindings returns every finding reg opened: those open and those
// resolved (fewer than live.MaxResolved here).
func openedFindings(reg *live.Registry) []*live.Finding {
	snap := reg.Snapshot()
	return append(slices.Clone(snap.Findings), snap.Resolved...)
}

// documentedLimit says whether f, opened on a healthy run of pattern p in
// setup su, is one the README says muxtop cannot tell from a fault, and
// which.
func documentedLimit(su setup, p pattern, f *live.Finding) string {
	v1 := strings.HasPrefix(su.name, "v1")
	switch {
	case f.Code == live.CodeDataAfterClose && v1 && (strings.HasPrefix(p.name, "tunnel") || strings.HasPrefix(p.name, "half-close") || strings.HasPrefix(p.name, "websocket")) &&
		strings.Contains(f.Advice, "if it half-closed with CloseWrite to read on, as a "+p.opens.String()+" that still wants data should, they were delivered and nothing is wrong"):
		// Its advice says so: before, it told the writer to stop writing
		// once a read returns io.EOF, which breaks a correct half-close.
		return "v1: CloseWrite then read looks like Close on the wire"
	case f.Code == live.CodeDataAfterClose && strings.HasPrefix(su.name, "v2") && (strings.HasPrefix(p.name, "tunnel") || strings.HasPrefix(p.name, "websocket")) &&
		strings.Contains(f.Advice, "if it half-closed with CloseWrite to read on, as a "+p.opens.String()+" that still wants data should, they were delivered and nothing is wrong"):
		// Both readings, as v1's: before, it headlined a Close that
		// discarded them.
		return "v2: a reader that read before its FIN sends no UPD for less than half its buffer after it"
	case f.Code == live.CodeSessionBlocked && v1 && strings.HasPrefix(p.name, "slow consumer") && f.Dir.Sender() == p.opens &&
		f.Evidence.Sign == live.SignWrite && strings.Contains(f.Text, "takes the bytes far slower than the "+p.opens.String()+" writes them"):
		// Seen at the writer's tap only, and worded as such: the reader
		// reads on, and its own tap opens nothing.
		return "v1: the writer's write waits while the kernel drains its socket buffer at the reader's pace"
	}
	return ""
}

// deadlocks says whether smux itself can deadlock pattern p in setup su,
// and how: that configuration is not healthy for that pattern, and the
// matrix leaves it out.
//
// A v2 session whose MaxReceiveBuffer (64 KiB) is below the window a
// writer assumes before its peer's first UPD (256 KiB) deadlocks an echo
// (io.Copy(st, st)) when the echo's first UPD is late, as on a loaded
// machine: the opener writes past the echo's session buffer on the
// initial window, the echo's recvLoop stops reading until the echo reads,
// and the echo, its window from the opener's first UPD spent, waits in
// Write for the opener's next UPD, which is on the wire behind the data
// the recvLoop will not read. smux's keepalive keeps such a session (its
// bucket is empty), so it is for ever. TestSmuxEchoDeadlock makes it
// deterministic; muxtop opens SESSION_BLOCKED on the echo's side.
func deadlocks(su setup, p pattern) string {
	if su.name == "v2 recvbuf 64K streambuf 16K" && strings.HasPrefix(p.name, "tunnel") {
		return "an echo on a v2 session buffer below the initial 256 KiB window (TestSmuxEchoDeadlock)"
	}
	return ""
}

// TestHealthyMatrix drives real smux (v1, v2) and yamux pairs in
// non-default healthy configurations (healthySetups) through what healthy
// programs do (healthyPatterns, and the same with the server opening the
// streams), both ends tapped, evaluated in real time by metrics.Diagnose
// as the front ends do, with short thresholds: no finding may open, but
// those the README documents as indistinguishable from a fault
// (documentedLimit), which are logged. Each pattern runs every setup at
// once. Before its fix, a v2 reader of 16 KiB that read 512-byte frames
// steadily, slower than its writer, was WINDOW_STALL "not reading".
func TestHealthyMatrix(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	if testing.Short() {
		t.Skip("real sessions for seconds")
	}
	if racetest.Enabled {
		t.Skip("the race detector slows the sessions past the matrix's 1 s thresholds; TestHealthyRealSessions drives real pairs under it")
	}
	ps := append([]pattern(nil), healthyPatterns...)
	for _, p := range healthyPatterns {
		switch p.name {
		case "tunnel", "churn", "slow consumer", "half-close":
			ps = append(ps, reversed(p))
		}
	}
	inTurns(t, ps, func(p pattern) string { return p.name }, func(t *testing.T, p pattern) {
		var wg sync.WaitGroup
		for _, su := range healthySetups {
			if why := deadlocks(su, p); why != "" {
				t.Logf("%s: left out, smux deadlocks: %s", su.name, why)
				continue
			}
			wg.Go(func() { runHealthy(t, su, p) })
		}
		wg.Wait()
	})
}

// inTurns runs run on each of ps as a subtest of t named name(p), each in
// a turn among healthyTurns, so as many at once as it allows, those of
// the package's other healthy tests included. A subtest waiting for its
// turn holds none of go test's -parallel slots: as parallel subtests,
// the dozens of patterns that waited for their turns held all of CI's 8,
// and the package's other real-session tests waited behind them (the
// package took 165 s, its tests with parallel subtests serial; now less).
func inTurns[P any](t *testing.T, ps []P, name func(P) string, run func(*testing.T, P)) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			defer healthyTurn()()
			t.Run(name(p), func(t *testing.T) { run(t, p) })
		})
	}
	wg.Wait()
}

// healthyTurns bounds the healthy patterns that run at once, whatever
// go test's -parallel (CI's is 8): each runs every setup at once, in real
// time against 1 s thresholds, and a machine starved by a dozen of them
// shows what no healthy program does.
var healthyTurns = make(chan struct{}, 2)

// healthyTurn waits for a turn among healthyTurns; the func it returns
// ends it.
func healthyTurn() func() {
	healthyTurns <- struct{}{}
	return func() { <-healthyTurns }
}

// windDown bounds how long a pattern may take to return once its time is
// up: healthy ones take milliseconds, seconds on a loaded machine; one
// that takes longer is stuck (a deadlock of its configuration, or of the
// test), and the matrix says which rather than time the package out.
const windDown = 20 * time.Second

// runHealthy runs pattern p on setup su for 2 s, winds it down, lets the
// sessions idle a second, and checks the findings opened meanwhile.
//
// A run that opens an undocumented finding is run once more, and only a
// second such run fails: the thresholds are 1 s of real time, which a
// machine busy with other tests (CI runs every package at once) can
// starve a healthy reader of; a wrong rule opens its finding both times.
func runHealthy(t *testing.T, su setup, p pattern) {
	runTwiceIfUndocumented(t, func() []string { return healthyRun(t, su, p, 2*time.Second, windDown) })
}

// runTwiceIfUndocumented calls run, and once more where it returned a
// problem that is not a documented limit; it fails t with the last
// run's undocumented problems and logs its documented ones.
func runTwiceIfUndocumented(t *testing.T, run func() []string) {
	problems := run()
	if slices.ContainsFunc(problems, undocumented) {
		for _, problem := range problems {
			t.Logf("first run, run again: %s", problem)
		}
		problems = run()
	}
	for _, problem := range problems {
		if strings.HasPrefix(problem, "documented: ") {
			t.Log(strings.TrimPrefix(problem, "documented: "))
			continue
		}
		t.Error(problem)
	}
}

// undocumented reports whether a problem healthyRun returned is not a
// documented limit.
func undocumented(problem string) bool { return !strings.HasPrefix(problem, "documented: ") }

// healthyRun runs p on su for d and returns what it found: each finding
// opened, those of documentedLimit prefixed "documented: ", or that p was
// still running bound after d, with the findings open then. A stuck p is
// ended by closing its sessions (every stream operation then returns),
// and waited for as long again, and at least windDown.
func healthyRun(t *testing.T, su setup, p pattern, d, bound time.Duration) []string {
	reg := live.New(live.Config{History: 1024, Snaplen: 16}) // dozens of registries at once: small rings
	cfg := live.FindingsConfig{UnansweredAfter: time.Second, StallAfter: time.Second, BlockedAfter: time.Second, LeakAfter: p.leakAfter}
	pairs := make([][2]muxEnd, max(p.pairs, 1))
	for i := range pairs {
		pairs[i][0], pairs[i][1] = su.pair(t, reg)
	}
	stop := metrics.Diagnose(reg, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for _, pr := range pairs {
		wg.Go(func() { p.run(ctx, t, pr[0], pr[1]) })
	}
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	<-ctx.Done()
	select {
	case <-returned:
	case <-time.After(bound):
		var fs []string
		for _, f := range openedFindings(reg) {
			fs = append(fs, fmt.Sprintf("%s %s", f.Code, f.Text))
		}
		for _, pr := range pairs {
			pr[0].Close()
			pr[1].Close()
		}
		problem := fmt.Sprintf("%s: %s stuck: still running %v after its end, sessions closed; findings opened: [%s]", su.name, p.name, bound, strings.Join(fs, "; "))
		// As long as a healthy run's wind-down, whatever bound: closing
		// the sessions ends every stream operation, but under load the
		// goroutines that return took longer than TestHealthyRunStuck's
		// 1 s bound to run ("still running after its sessions closed").
		select {
		case <-returned:
		case <-time.After(max(bound, windDown)):
			problem += "; still running after its sessions closed"
		}
		return []string{problem}
	}
	time.Sleep(time.Second) // idle after
	stop()
	var problems []string
	for _, f := range openedFindings(reg) {
		if why := documentedLimit(su, p, f); why != "" {
			problems = append(problems, fmt.Sprintf("documented: %s: %s (documented: %s): %s", su.name, f.Code, why, f.Text))
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: %s %s opened on a healthy run: %s", su.name, f.Code, f.Severity, f.Text))
	}
	return problems
}

// TestHealthyRunStuck: a pattern that never returns (a reader waiting for
// an answer that never comes, deaf to its context) fails its run, naming
// the setup and the pattern, instead of hanging the package: the matrix
// once timed out after 10 minutes on a deadlocked smux tunnel.
func TestHealthyRunStuck(t *testing.T) {
	stuck := pattern{name: "stuck", run: func(_ context.Context, t *testing.T, a, b muxEnd) {
		go func() {
			if st, err := b.Accept(); err == nil {
				io.Copy(io.Discard, st)
			}
		}()
		st, err := a.Open()
		if err != nil {
			return
		}
		io.WriteString(st, "question\n")
		io.Copy(io.Discard, st) // until the session closes
	}}
	for _, su := range []setup{healthySetups[0], healthySetups[len(healthySetups)-1]} {
		t.Run(su.name, func(t *testing.T) {
			t.Parallel()
			problems := healthyRun(t, su, stuck, 100*time.Millisecond, time.Second)
			if len(problems) != 1 || !strings.HasPrefix(problems[0], su.name+": stuck stuck: ") || strings.Contains(problems[0], "after its sessions closed") {
				t.Errorf("problems %q, want one: %s stuck, ended by closing its sessions", problems, su.name)
			}
			t.Log(problems)
		})
	}
}
