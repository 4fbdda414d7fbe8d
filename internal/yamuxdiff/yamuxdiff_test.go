package yamuxdiff

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// recorder keeps the bytes written through a conn: it sits below muxtop's
// tap, so its bytes are the wire's.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	written []byte
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.mu.Lock()
	r.written = append(r.written, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.written)
}

// wireStream is what the walk found of one stream in one direction.
type wireStream struct {
	frames, data  uint64
	syn, ack, fin int
	rst           int
}

// walked is the independent count of one direction's bytes: it shares no
// code with the decoder, live or tap.
type walked struct {
	frames, bytes [4]uint64
	streams       map[uint32]*wireStream
	pingSYN       int
	pingACK       int
	goAways       []uint32
	rest          int
}

func walk(b []byte) walked {
	w := walked{streams: map[uint32]*wireStream{}}
	for len(b) >= 12 {
		typ, flags := b[1], binary.BigEndian.Uint16(b[2:])
		sid, length := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
		size := 12
		if typ == 0 {
			size += int(length)
		}
		if b[0] != 0 || typ > 3 || len(b) < size {
			break
		}
		w.frames[typ]++
		w.bytes[typ] += uint64(size)
		switch typ {
		case 0, 1:
			st := w.streams[sid]
			if st == nil {
				st = &wireStream{}
				w.streams[sid] = st
			}
			st.frames++
			if typ == 0 {
				st.data += uint64(length)
			}
			for bit, n := range map[uint16]*int{1: &st.syn, 2: &st.ack, 4: &st.fin, 8: &st.rst} {
				if flags&bit != 0 {
					*n++
				}
			}
		case 2:
			if flags&1 != 0 {
				w.pingSYN++
			}
			if flags&2 != 0 {
				w.pingACK++
			}
		case 3:
			w.goAways = append(w.goAways, length)
		}
		b = b[size:]
	}
	w.rest = len(b)
	return w
}

// plan is one stream of a workload.
//
// Which end closes first is the plan's, not a race with a timer: a stream
// the server opens is half-closed by it after its request, and answered
// after that FIN (the acceptor reads to io.EOF); one the client opens is
// answered, and closed, by the acceptor first, and the client closes once
// it read the answer to io.EOF. Only the client keeps a short
// StreamCloseTimeout, for its reset plans: had every opener half-closed
// first, the client's would have reset an answer that came later than it,
// as one past a window does on a loaded machine under -race (1 run in 10).
type plan struct {
	byServer bool
	up, down int // bytes the opener writes, then the acceptor
	// reset: the client opens it; the acceptor reads the request and never
	// closes; the client closes it then, and its StreamCloseTimeout resets
	// it.
	reset bool
}

// workload is a seeded script.
type workload struct {
	streams      []plan
	pings        [2]int // by the client, the server
	goAway       bool
	closeTimeout time.Duration // the client's: the server keeps yamux's 5 min, which no stream reaches
}

func newWorkload(seed uint64) workload {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := workload{closeTimeout: 300 * time.Millisecond, goAway: rng.IntN(2) == 0}
	for range 4 + rng.IntN(8) {
		p := plan{byServer: rng.IntN(3) == 0, up: rng.IntN(3000), down: rng.IntN(3000)}
		switch rng.IntN(6) {
		case 0:
			p.up = 256<<10 + rng.IntN(200_000) // past a window: WINDOW_UPDATEs let it go on
		case 1:
			p.down = 256<<10 + rng.IntN(200_000)
		case 2:
			p.reset, p.byServer = true, false
		}
		w.streams = append(w.streams, p)
	}
	w.pings = [2]int{rng.IntN(4), rng.IntN(3)}
	return w
}

// config is the yamux configuration of the client, or the server.
func config(w workload, client bool) *hyamux.Config {
	c := hyamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.LogOutput = io.Discard
	if client {
		c.StreamCloseTimeout = w.closeTimeout
	}
	return c
}

// result is what the applications did, for the oracle.
type result struct {
	mu    sync.Mutex
	reset map[uint32]bool // streams the script reset
}

// run plays w between cli and srv and checks yamux's own behaviour: each
// side reads exactly what the other wrote.
func run(t *testing.T, w workload, cli, srv *hyamux.Session) *result {
	t.Helper()
	res := &result{reset: map[uint32]bool{}}
	var wg sync.WaitGroup
	errc := make(chan error, 4*len(w.streams)+4)
	// requested[i] is closed once the acceptor of reset plan i read its
	// request: the client closes it then, and the RST its
	// StreamCloseTimeout sends cannot cut the acceptor's read short.
	requested := make([]chan struct{}, len(w.streams))
	for i := range requested {
		requested[i] = make(chan struct{})
	}
	for i, p := range w.streams {
		// Each side accepts in a loop of its own, whichever stream comes;
		// the request's first 4 bytes say which plan it is.
		opener := cli
		if p.byServer {
			opener = srv
		}
		wg.Go(func() {
			st, err := opener.OpenStream()
			if err != nil {
				errc <- fmt.Errorf("stream %d: open: %w", i, err)
				return
			}
			req := make([]byte, 4+p.up)
			binary.BigEndian.PutUint32(req, uint32(i))
			for j := 4; j < len(req); j++ {
				req[j] = byte(j * (i + 1))
			}
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				if _, err := st.Write(req); err != nil {
					errc <- fmt.Errorf("stream %d: write: %w", i, err)
				}
				if p.byServer {
					st.Close() // FIN after the request
				}
			}()
			if p.reset {
				select {
				case <-requested[i]:
				case <-time.After(time.Minute): // a failure's bound, not a measure
					errc <- fmt.Errorf("stream %d: the acceptor did not read the request", i)
				}
				<-wrote
				st.Close() // FIN, never answered
			}
			got, err := io.ReadAll(st)
			<-wrote
			if !p.byServer && !p.reset {
				st.Close() // FIN after the acceptor's
			}
			if p.reset {
				// yamux's StreamCloseTimeout closes the opener's end and
				// sends RST: the opener's own Read sees a clean io.EOF.
				if err != nil || len(got) != 0 {
					errc <- fmt.Errorf("stream %d: read after the acceptor abandoned it: %d bytes, %v; want io.EOF at once", i, len(got), err)
				}
				res.mu.Lock()
				res.reset[st.StreamID()] = true
				res.mu.Unlock()
				return
			}
			if err != nil || len(got) != p.down || sha256.Sum256(got) != sha256.Sum256(answer(i, p.down)) {
				errc <- fmt.Errorf("stream %d: read %d bytes, %v; want the %d the acceptor wrote", i, len(got), err, p.down)
			}
		})
	}
	accept := func(sess *hyamux.Session, n int) {
		for range n {
			st, err := sess.AcceptStream()
			if err != nil {
				errc <- fmt.Errorf("accept: %w", err)
				return
			}
			wg.Go(func() {
				var head [4]byte
				if _, err := io.ReadFull(st, head[:]); err != nil {
					errc <- fmt.Errorf("acceptor: the request's first 4 bytes: %v", err)
					return
				}
				i := int(binary.BigEndian.Uint32(head[:]))
				if i >= len(w.streams) {
					errc <- fmt.Errorf("acceptor: a request of plan %d, of %d", i, len(w.streams))
					return
				}
				p := w.streams[i]
				var got int64
				if p.byServer {
					// The opener half-closed after its request: read to
					// its FIN.
					got, err = io.Copy(io.Discard, st)
				} else {
					// The opener waits for the answer, or, reset, for
					// this read.
					var n int
					n, err = io.ReadFull(st, make([]byte, p.up))
					got = int64(n)
				}
				if err != nil || got != int64(p.up) {
					errc <- fmt.Errorf("stream %d: the acceptor read %d bytes (%v), the opener wrote %d", i, 4+got, err, 4+p.up)
				}
				if p.reset {
					close(requested[i])
					return // abandoned: no answer, no FIN
				}
				if _, err := st.Write(answer(i, p.down)); err != nil {
					errc <- fmt.Errorf("stream %d: answer: %w", i, err)
				}
				st.Close()
			})
		}
	}
	var byServer int
	for _, p := range w.streams {
		if p.byServer {
			byServer++
		}
	}
	wg.Go(func() { accept(srv, len(w.streams)-byServer) })
	wg.Go(func() { accept(cli, byServer) })
	for side, sess := range []*hyamux.Session{cli, srv} {
		for range w.pings[side] {
			if _, err := sess.Ping(); err != nil {
				errc <- fmt.Errorf("ping: %w", err)
			}
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if w.goAway {
		if err := srv.GoAway(); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Ping(); err != nil { // answered after the client read the GoAway
			t.Fatal(err)
		}
		if _, err := cli.OpenStream(); !errors.Is(err, hyamux.ErrRemoteGoAway) {
			t.Errorf("OpenStream after the server's GoAway: %v, want yamux.ErrRemoteGoAway", err)
		}
	}
	return res
}

func answer(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(j + i)
	}
	return b
}

// placement taps a client and a server conn pair one way.
type placement struct {
	name string
	// connect returns the client's and the server's conn, the recorders
	// below the tap, and the registry.
	connect func(t *testing.T) (c, s net.Conn, rc, rs *recorder, reg *live.Registry)
}

func loopback(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ac := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ac <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-ac
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

var placements = []placement{
	{"client tap", func(t *testing.T) (net.Conn, net.Conn, *recorder, *recorder, *live.Registry) {
		reg := live.New(live.Config{})
		c, s := loopback(t)
		rc, rs := &recorder{Conn: c}, &recorder{Conn: s}
		return tap.Wrap(rc, live.Client, reg, "diff"), rs, rc, rs, reg
	}},
	{"server tap", func(t *testing.T) (net.Conn, net.Conn, *recorder, *recorder, *live.Registry) {
		reg := live.New(live.Config{})
		c, s := loopback(t)
		rc, rs := &recorder{Conn: c}, &recorder{Conn: s}
		return rc, tap.Wrap(rs, live.Server, reg, "diff"), rc, rs, reg
	}},
	{"proxy", func(t *testing.T) (net.Conn, net.Conn, *recorder, *recorder, *live.Registry) {
		reg := live.New(live.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ac := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			ac <- c
		}()
		p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: ln.Addr().String(), Registry: reg})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(); p.Wait(); ln.Close() })
		c, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-ac
		t.Cleanup(func() { c.Close(); s.Close() })
		rc, rs := &recorder{Conn: c}, &recorder{Conn: s}
		return rc, rs, rc, rs, reg
	}},
}

func seeds(t *testing.T) []uint64 {
	if s := os.Getenv("MUXTOP_YAMUXDIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MUXTOP_YAMUXDIFF_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	return []uint64{rand.Uint64(), rand.Uint64()}
}

// TestDifferential runs seeded workloads in every placement and checks
// muxtop's picture against the walk of the bytes each end wrote.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real yamux sessions for seconds")
	}
	for _, seed := range seeds(t) {
		w := newWorkload(seed)
		for _, pl := range placements {
			t.Run(fmt.Sprintf("%s/seed=%d", pl.name, seed), func(t *testing.T) {
				t.Logf("MUXTOP_YAMUXDIFF_SEED=%d", seed)
				c, s, rc, rs, reg := pl.connect(t)
				cli, err := hyamux.Client(c, config(w, true))
				if err != nil {
					t.Fatal(err)
				}
				srv, err := hyamux.Server(s, config(w, false))
				if err != nil {
					t.Fatal(err)
				}
				res := run(t, w, cli, srv)
				// Quiesce: the last FINs and RSTs go out, and the tap
				// (or the proxy) has read every byte each end wrote.
				time.Sleep(50 * time.Millisecond)
				raw := [2][]byte{rc.bytes(), rs.bytes()}
				smuxtest.Eventually(t, "muxtop to have seen every byte", func() bool {
					ss := reg.Snapshot().Sessions
					return len(ss) == 1 && ss[0].WireBytes(live.ClientToServer) == uint64(len(raw[0])) &&
						ss[0].WireBytes(live.ServerToClient) == uint64(len(raw[1]))
				})
				ss := reg.Snapshot().Sessions[0]
				cli.Close()
				srv.Close()
				check(t, ss, raw, res, w)
			})
		}
	}
}

// check compares a session's picture with the walks of both directions.
func check(t *testing.T, ss *live.SessionSnap, raw [2][]byte, res *result, w workload) {
	t.Helper()
	if ss.Proto != live.Yamux || len(ss.Framing) != 0 || ss.AnomalyCount != 0 {
		t.Fatalf("proto %v, violations %v, anomalies %v", ss.Proto, ss.Framing, ss.Anomalies)
	}
	walks := [2]walked{walk(raw[0]), walk(raw[1])}
	for d := range 2 {
		wk := walks[d]
		if wk.rest != 0 {
			t.Fatalf("%s: %d bytes after the last whole frame", live.Dir(d).Code(), wk.rest)
		}
		if ss.Counts.TypeFrames[d] != wk.frames || ss.Counts.TypeBytes[d] != wk.bytes {
			t.Errorf("%s: muxtop counted %v frames, %v bytes; the wire has %v, %v",
				live.Dir(d).Code(), ss.Counts.TypeFrames[d], ss.Counts.TypeBytes[d], wk.frames, wk.bytes)
		}
	}
	// Pings: each side's SYNs and the other's ACKs.
	for side := range 2 {
		d := live.Side(side).Sends()
		p := ss.Pings[side]
		if p.Sent != uint64(walks[d].pingSYN) || p.Answered != uint64(walks[d.Reverse()].pingACK) {
			t.Errorf("%v pings: muxtop says %d sent, %d answered; the wire has %d and %d",
				live.Side(side), p.Sent, p.Answered, walks[d].pingSYN, walks[d.Reverse()].pingACK)
		}
	}
	if got, want := len(ss.GoAways), len(walks[1].goAways); got != want || (w.goAway && (got != 1 || ss.GoAways[0].By != live.Server)) {
		t.Errorf("GoAways %v; the wire has %v from the server", ss.GoAways, walks[1].goAways)
	}
	// Streams: every one the walk saw opened, with its bytes and final state.
	for sid, c2s := range walks[0].streams {
		s2c := walks[1].streams[sid]
		if s2c == nil {
			s2c = &wireStream{}
		}
		if c2s.syn+s2c.syn == 0 {
			continue
		}
		st := ss.Stream(sid)
		if st == nil {
			t.Errorf("stream %d: not in muxtop's picture", sid)
			continue
		}
		if st.Bytes != [2]uint64{c2s.data, s2c.data} || st.Frames != [2]uint64{c2s.frames, s2c.frames} {
			t.Errorf("stream %d: muxtop has %v bytes, %v frames; the wire %d/%d bytes, %d/%d frames",
				sid, st.Bytes, st.Frames, c2s.data, s2c.data, c2s.frames, s2c.frames)
		}
		want := live.Closed
		switch {
		case c2s.rst+s2c.rst > 0:
			want = live.StreamReset
		case c2s.fin == 0 || s2c.fin == 0:
			want = live.EndedWithSession
		}
		if st.State != want {
			t.Errorf("stream %d: %v, the wire says %v (FIN %d/%d, RST %d/%d)", sid, st.State, want, c2s.fin, s2c.fin, c2s.rst, s2c.rst)
		}
		res.mu.Lock()
		reset := res.reset[sid]
		res.mu.Unlock()
		if reset != (want == live.StreamReset) {
			t.Errorf("stream %d: the script reset it: %v; the wire: %v", sid, reset, want)
		}
	}
	if got, want := ss.Open, 0; got != want {
		t.Errorf("%d streams open after the workload", got)
	}
}
