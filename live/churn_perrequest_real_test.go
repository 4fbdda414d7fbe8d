package live_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// churnServer serves echo sessions of mux ("smux1", "smux2", "yamux") at
// their library's defaults (smux's keepalive on: a NOP every 10 s, a close
// at the 30 s tick that finds nothing came since the last) on a listener
// tapped into reg, as a server that leaves an AcceptStream error at
// return does: it never calls Close itself. smux does not close a session
// on its client's EOF (recvLoop only records the read error), so each
// session its client left lasts until its keepalive acts on it, the conn
// with it; yamux closes one at once. It returns the address to dial;
// every session and the listener close when the test ends.
func churnServer(t *testing.T, reg *live.Registry, mux string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var closers []io.Closer
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range closers {
			c.Close()
		}
	})
	tl := tap.WrapListener(ln, reg, "test")
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go serveChurn(c, mux, func(c io.Closer) { mu.Lock(); closers = append(closers, c); mu.Unlock() })
		}
	}()
	return ln.Addr().String()
}

// serveChurn echoes each stream of the server session of mux over c.
func serveChurn(c net.Conn, mux string, keep func(io.Closer)) {
	keep(c)
	var accept func() (net.Conn, error)
	if mux == "yamux" {
		s, err := yamux.Server(c, nil)
		if err != nil {
			return
		}
		keep(s)
		accept = func() (net.Conn, error) { return s.AcceptStream() }
	} else {
		s, err := smux.Server(c, smuxtest.Config(int(mux[4]-'0')))
		if err != nil {
			return
		}
		keep(s)
		accept = func() (net.Conn, error) { return s.AcceptStream() }
	}
	for {
		st, err := accept()
		if err != nil {
			return // no Close: smux keeps the session until its keepalive acts
		}
		go func() {
			defer st.Close()
			io.Copy(st, st)
		}()
	}
}

// churnClient dials a session of mux to addr, as a client that dials a
// session per request does, and returns it with its call: one stream, a
// request, its echo read, the stream closed.
func churnClient(t *testing.T, addr, mux string) (io.Closer, func()) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var s io.Closer
	var open func() (net.Conn, error)
	if mux == "yamux" {
		ys, err := yamux.Client(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, open = ys, func() (net.Conn, error) { return ys.OpenStream() }
	} else {
		ss, err := smux.Client(c, smuxtest.Config(int(mux[4]-'0')))
		if err != nil {
			t.Fatal(err)
		}
		s, open = ss, func() (net.Conn, error) { return ss.OpenStream() }
	}
	call := func() {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	return s, call
}

// churnOpened evaluates reg as the front ends do until CHURN opens, or
// for 10 s, and returns it (nil if it did not open).
func churnOpened(reg *live.Registry, cfg live.FindingsConfig, d time.Duration) *live.Finding {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		reg.Evaluate(time.Now(), cfg)
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeChurn {
				return f
			}
		}
	}
	return nil
}

// churnOf returns reg's open CHURN finding, or nil.
func churnOf(reg *live.Registry) *live.Finding {
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeChurn {
			return f
		}
	}
	return nil
}

// TestChurnSessionPerRequestReal: a client that dials a session per
// request — 25 in a row, each one stream, one request, closed — against a
// default smux server through the tap. The client is done within
// milliseconds, but smux's server does not close a session on its
// client's EOF: its keepalive's NOP (every 10 s) draws the gone client's
// RST, and the conn ends at the next NOP's failed write, 10–20 s after
// the session opened (or at the 30 s keepalive tick that closes it): just
// outside "opened and ended within 10 s", and CHURN never opened for the
// very pattern it is for (the operator's attach run: 400 sessions in
// 20 s, "findings 0 opened"). For CHURN a session's life ends at the
// client's half-close if that comes before the connection's end: the
// same sessions open it now, over v1 and v2, as yamux's (which closes
// its end on EOF) always did, and its text says that the server kept the
// smux sessions open after their clients closed them.
func TestChurnSessionPerRequestReal(t *testing.T) {
	for _, mux := range []string{"smux1", "smux2", "yamux"} {
		t.Run(mux, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			addr := churnServer(t, reg, mux)
			cfg := live.FindingsConfig{Churn: 20}
			for range 25 {
				s, call := churnClient(t, addr, mux)
				call()
				s.Close()
			}
			f := churnOpened(reg, cfg, 10*time.Second)
			if f == nil {
				var ended []string
				for _, s := range reg.Snapshot().Sessions {
					if s.Ended {
						ended = append(ended, s.End.Sub(s.Start).Round(time.Millisecond).String())
					}
				}
				t.Fatalf("no CHURN within 10 s of 25 sessions of one request each, each closed by its client at once; %d ended, their connections lasting %v", len(ended), ended)
			}
			if f.Evidence.Count < 20 || f.Evidence.Age > time.Second {
				t.Errorf("CHURN counted %d sessions living %v each: want 20 or more, each as long as its client kept it (ms)", f.Evidence.Count, f.Evidence.Age)
			}
			if !strings.Contains(f.Text, "a client redialing in a loop, or clients that dial a session per request") {
				t.Errorf("CHURN's text %q", f.Text)
			}
			// The connections' fates differ: smux's server holds each on
			// (the text says so once they outlived their clients' close
			// by a second), yamux's closes it at once (the text never
			// does, all of them ended).
			const note = "the server kept most of them open after that: an smux server closes a session its client left only when its keepalive acts"
			if mux == "yamux" {
				smuxtest.Eventually(t, "the yamux sessions' ends", func() bool { return reg.Snapshot().LiveSessions == 0 })
				reg.Evaluate(time.Now(), cfg)
				if f = churnOf(reg); f == nil || strings.Contains(f.Text, "the server kept") {
					t.Errorf("CHURN of yamux sessions, all ended with their clients' close: %v", f)
				}
				return
			}
			smuxtest.Eventually(t, "CHURN's note of the sessions the server held", func() bool {
				reg.Evaluate(time.Now(), cfg)
				f = churnOf(reg)
				return f != nil && strings.Contains(f.Text, note)
			})
		})
	}
}

// TestChurnHealthyTwinReal: the same server and the same 25 requests
// each, made as healthy clients make them — on one long-lived session, and
// over a pool of four sessions, each closed by its client more than CHURN's
// 10 s after its start — open no CHURN, while the sessions are up and once
// they have all closed, at a threshold of the pool's size: a session
// counted as short-lived would open it (closed at once, all six subtests
// open it). At the default 20 no pool of four could, whatever the rule (a
// reread).
func TestChurnHealthyTwinReal(t *testing.T) {
	for _, mux := range []string{"smux1", "smux2", "yamux"} {
		for _, pool := range []int{1, 4} {
			t.Run(mux+"/"+strings.Repeat("s", pool), func(t *testing.T) {
				t.Parallel()
				reg := live.New(live.Config{})
				addr := churnServer(t, reg, mux)
				cfg := live.FindingsConfig{Churn: pool}
				start := time.Now()
				var ss []io.Closer
				var calls []func()
				for range pool {
					s, call := churnClient(t, addr, mux)
					ss, calls = append(ss, s), append(calls, call)
				}
				for i := range 25 {
					calls[i%pool]()
				}
				reg.Evaluate(time.Now(), cfg)
				time.Sleep(time.Until(start.Add(10*time.Second + 500*time.Millisecond))) // long-lived: past CHURN's window
				for _, s := range ss {
					s.Close()
				}
				smuxtest.Eventually(t, "the clients' half-closes", func() bool {
					n := 0
					for _, s := range reg.Snapshot().Sessions {
						if !s.DirEnded[live.ClientToServer].IsZero() {
							n++
						}
					}
					return n == pool
				})
				if f := churnOpened(reg, cfg, 500*time.Millisecond); f != nil {
					t.Errorf("CHURN opened for %d long-lived session(s): %s", pool, f.Text)
				}
			})
		}
	}
}

// TestChurnHalfCloseLife: for CHURN a session's life ends at its
// client's end where that comes before the connection's: 25 sessions
// whose clients closed 1 s after their start, their connections ended
// 11 s after it, are CHURN; 25 whose clients closed 11 s after their
// start (long-lived sessions, closed late, however soon the connection
// followed) are not.
func TestChurnHalfCloseLife(t *testing.T) {
	for _, c := range []struct {
		client float64 // the client's end, s after the session's start
		churn  bool
	}{{1, true}, {11, false}} {
		reg := live.New(live.Config{})
		cfg := live.FindingsConfig{Churn: 20}
		client := time.Duration(c.client * float64(time.Second))
		var ss []*live.Session
		for i := range 25 {
			ss = append(ss, reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2"}, t0.Add(time.Duration(i)*10*time.Millisecond)))
		}
		for i, s := range ss {
			s.DirectionEnded(live.ClientToServer, t0.Add(client+time.Duration(i)*10*time.Millisecond))
		}
		reg.Evaluate(t0.Add(client+500*time.Millisecond), cfg)
		for i, s := range ss {
			s.End(t0.Add(max(client, 10*time.Second)+time.Second+time.Duration(i)*10*time.Millisecond), live.Reset, nil)
		}
		reg.Evaluate(t0.Add(max(client, 10*time.Second)+1500*time.Millisecond), cfg)
		var churn *live.Record // opened at either evaluation
		recs, _ := reg.Frames(live.Query{From: 1}, nil)
		for _, r := range recs {
			if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeChurn {
				churn = &r
			}
		}
		if (churn != nil) != c.churn {
			t.Errorf("clients closing %v s after their start: CHURN %v, want %v", c.client, churn != nil, c.churn)
		}
	}
}
