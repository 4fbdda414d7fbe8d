package live_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// gate is a conn that can hold one Read once it has returned, or one
// Write before it goes out, until the test releases it: above a tap, a
// reader left between two reads; below it, a write in progress. It counts
// the writes that returned through it, and notes since when one has been
// in progress.
type gate struct {
	net.Conn
	readHold, writeHold atomic.Pointer[hold]
	wrote               atomic.Int64 // writes returned
	writing             atomic.Int64 // when (Unix ns) the write in progress began; 0 if none
}

// hold is one held Read or Write: held closes as it is held, release
// lets it go on.
type hold struct {
	held, release chan struct{}
	once          sync.Once
}

func (h *hold) let() { h.once.Do(func() { close(h.release) }) }

// arm has the next Read (read) or Write through g held, and returns its
// hold; the test's end releases it.
func (g *gate) arm(t *testing.T, read bool) *hold {
	h := &hold{held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(h.let)
	if read {
		g.readHold.Store(h)
	} else {
		g.writeHold.Store(h)
	}
	return h
}

func (g *gate) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if h := g.readHold.Swap(nil); h != nil {
		close(h.held)
		<-h.release
	}
	return n, err
}

func (g *gate) Write(p []byte) (int, error) {
	g.writing.Store(time.Now().UnixNano())
	if h := g.writeHold.Swap(nil); h != nil {
		close(h.held)
		<-h.release
	}
	n, err := g.Conn.Write(p)
	g.writing.Store(0)
	g.wrote.Add(1)
	return n, err
}

// TestNoBlockFromAMomentRealSmux: a real smux v1 server, tapped, whose
// stream 1 is idle longer than --leak-after at the second of two evaluations,
// not at the first. Its tap is, across both, between two reads, or inside
// one write; or inside a write at the first and done at the second. The
// first two are a microsecond apart by their own clock, the third 1.5 s:
// none showed the tap stood still for any time, and LEAK opens, with no
// SESSION_BLOCKED. Before, a counter unchanged across two evaluations
// however close was a direction stuck, and one seen once inside a write,
// done at the next evaluation a second later, a write that had waited a
// second: either held LEAK back, as the session looked blocked (a test's
// evaluations a microsecond apart, or a loaded machine's two ticks run
// back to back, found a reader between two reads).
func TestNoBlockFromAMomentRealSmux(t *testing.T) {
	for _, tc := range []struct {
		name string
		read bool          // the tap is held between two reads, not inside a write
		gap  time.Duration // between the evaluations, by their clock
		done bool          // the write returns between the evaluations
	}{
		{"between reads", true, 2 * time.Microsecond, false},
		{"inside a write", false, 2 * time.Microsecond, false},
		{"a write seen once", false, 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cfg := smuxtest.Config(1)
			cfg.KeepAliveDisabled = true
			above, below := &gate{}, &gate{}
			cli, srv := smuxtest.Pair(t, cfg, nil, func(c net.Conn) net.Conn {
				below.Conn = c
				above.Conn = tap.Wrap(below, live.Server, reg, "srv")
				return above
			})
			closeOne(t, cli.OpenStream, srv.AcceptStream) // the stream below is no setup stream
			cs, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			ss, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(ss, buf); err != nil {
				t.Fatal(err)
			}
			if _, err := ss.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(cs, buf); err != nil {
				t.Fatal(err)
			}
			waitStream(t, reg, cs.ID(), "the answer", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == 4 })

			h := above.arm(t, true)
			more, wrote := cs.Write, above.wrote.Load()
			if !tc.read {
				h, more = below.arm(t, false), ss.Write
			}
			go more([]byte("more")) // smux's Write returns once the frame is out: after the hold; or fails as the sessions close
			<-h.held
			at := time.Now() // after every frame recorded
			// Idle longer than --leak-after at the second evaluation, not
			// at the first: the leak clock starts at the stream's latest frame.
			last := reg.Snapshot().Sessions[0].Stream(cs.ID()).Last
			fcfg := live.FindingsConfig{LeakAfter: at.Sub(last) + time.Microsecond, UnansweredAfter: time.Hour, Churn: -1}
			reg.Evaluate(at, fcfg)
			if tc.done {
				h.let()
				smuxtest.Eventually(t, "the write to return", func() bool { return above.wrote.Load() > wrote })
			}
			reg.Evaluate(at.Add(tc.gap), fcfg)
			if got := codes(reg); got != "+LEAK" {
				t.Errorf("%s, want +LEAK: nothing showed the tap stood still for any time:%s", got, describeRecords(findingRecords(reg)))
			}
		})
	}
}

// TestBlockedWriteRealSmux: a real smux v1 server, tapped, writes on a
// stream to a client that has stopped reading the connection: once the
// socket buffers are full, its write waits. Evaluated every 100 ms from
// when it waits, SESSION_BLOCKED opens BlockedAfter after the first
// evaluation that saw the write in progress, as ever, and LEAK, older
// than --leak-after from the second evaluation on, stays back: the block
// explains it.
func TestBlockedWriteRealSmux(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(1)
	cfg.KeepAliveDisabled = true
	above, peer := &gate{}, &gate{}
	cli, srv := smuxtest.Pair(t, cfg, func(c net.Conn) net.Conn { peer.Conn = c; return peer }, func(c net.Conn) net.Conn {
		above.Conn = tap.Wrap(c, live.Server, reg, "srv")
		return above
	})
	cs, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Write([]byte("SINK")); err != nil {
		t.Fatal(err)
	}
	ss, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	waitStream(t, reg, cs.ID(), "the request", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 4 })
	peer.arm(t, true) // the client's next read returns, and its reader stops there
	go func() {       // the server writes until its write waits; it returns as the sessions close
		chunk := make([]byte, 64<<10)
		for {
			if _, err := ss.Write(chunk); err != nil {
				return
			}
		}
	}()
	smuxtest.Eventually(t, "the server's write to wait", func() bool {
		at := above.writing.Load()
		return at != 0 && time.Since(time.Unix(0, at)) > 300*time.Millisecond
	})
	first := reg.Snapshot().Sessions[0].Stream(cs.ID()).First
	base := time.Now()
	fcfg := live.FindingsConfig{LeakAfter: base.Sub(first) + 50*time.Millisecond, UnansweredAfter: time.Hour, Churn: -1}
	for k := range 26 {
		reg.Evaluate(base.Add(time.Duration(k)*100*time.Millisecond), fcfg)
		got := codes(reg)
		if k < 20 && got != "" || k >= 20 && got != "+SESSION_BLOCKED" {
			t.Fatalf("%s at %d ms, want SESSION_BLOCKED from 2000 ms and nothing before:%s", got, k*100, describeRecords(findingRecords(reg)))
		}
	}
	f := findingRecords(reg)[0].Finding
	if f.Dir != s2c || !f.Since.Equal(base) || f.Evidence.Sign != live.SignWrite {
		t.Errorf("SESSION_BLOCKED of %v since %v, sign %v; want the server's write, since the first evaluation (%v)", f.Dir, f.Since, f.Evidence.Sign, base)
	}
}
