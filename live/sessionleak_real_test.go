package live_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// SESSION_LEAK on real smux v1, v2 and yamux sessions, each client end
// tapped (as the demo's gateway taps), all dialed from 127.0.0.1 to one
// listener: a client that dials a session per request and never closes
// the old ones opens it; the healthy shapes that hold many sessions of
// one host do not: a fleet of client "processes" started together, each
// idle with its session, a fixed pool used round-robin, a fixed pool of
// which only the first session is used, a client that redials only after
// closing its session, and one long-lived session.

// pileCfg is the tests' config: sessions are idle after 300 ms (the
// shorter --leak-after), and 5 piled ones through 600 ms make
// SESSION_LEAK.
var pileCfg = live.FindingsConfig{LeakAfter: 300 * time.Millisecond, Churn: -1, SessionLeak: 5, SessionLeakHold: 600 * time.Millisecond}

// pileRun is how long each healthy shape runs, evaluated every 50 ms.
const pileRun = 2500 * time.Millisecond

// pileProto is one of the muxes the tests drive.
type pileProto struct {
	name string
	// dial returns a client session over a new connection to ln, its
	// client end tapped into reg, and serves its server end: each stream
	// is answered "ok" and closed (pileSmux's edit edits both ends'
	// smux configs).
	dial func(t *testing.T, reg *live.Registry, ln net.Listener, wg *sync.WaitGroup) muxEnd
}

var pileProtos = []pileProto{pileSmux("v1", 1, nil), pileSmux("v2", 2, nil), {name: "yamux", dial: func(t *testing.T, reg *live.Registry, ln net.Listener, wg *sync.WaitGroup) muxEnd {
	cc, sc := smuxtest.ConnsOn(t, ln)
	ccfg, scfg := hyamux.DefaultConfig(), hyamux.DefaultConfig()
	ccfg.LogOutput, scfg.LogOutput = io.Discard, io.Discard
	cli, err := hyamux.Client(tap.Wrap(cc, live.Client, reg, "cli"), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hyamux.Server(sc, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	pileServe(yamuxEnd{srv}, wg)
	pileServers.Store(yamuxEnd{cli}, yamuxEnd{srv})
	t.Cleanup(func() { pileServers.Delete(yamuxEnd{cli}) })
	return yamuxEnd{cli}
}}}

// pileServers maps each client end pileProtos dialed to its server end,
// for a test that ends sessions from the server's side (a restart).
var pileServers sync.Map

// pileServer returns the server end of client end cli that a pileProto
// dialed.
func pileServer(cli muxEnd) muxEnd {
	srv, _ := pileServers.Load(cli)
	return srv.(muxEnd)
}

func pileSmux(name string, version int, edit func(c, s *smux.Config)) pileProto {
	return pileProto{name: name, dial: func(t *testing.T, reg *live.Registry, ln net.Listener, wg *sync.WaitGroup) muxEnd {
		cc, sc := smuxtest.ConnsOn(t, ln)
		ccfg, scfg := smuxtest.Config(version), smuxtest.Config(version)
		if edit != nil {
			edit(ccfg, scfg)
		}
		cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "cli"), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smux.Server(sc, scfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close(); srv.Close() })
		pileServe(smuxEnd{srv}, wg)
		pileServers.Store(smuxEnd{cli}, smuxEnd{srv})
		t.Cleanup(func() { pileServers.Delete(smuxEnd{cli}) })
		return smuxEnd{cli}
	}}
}

// pileServe answers each stream of srv "ok" after its first byte, and
// closes it, until srv closes.
func pileServe(srv muxEnd, wg *sync.WaitGroup) {
	wg.Go(func() {
		for {
			st, err := srv.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				var b [1]byte
				if _, err := io.ReadFull(st, b[:]); err == nil {
					st.Write([]byte("ok"))
				}
				st.Close()
			})
		}
	})
}

// pileAsk makes one request on cli: a stream, a byte, the answer, closed.
func pileAsk(t *testing.T, cli muxEnd) {
	t.Helper()
	st, err := cli.Open()
	if err != nil {
		t.Error(err)
		return
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := st.Write([]byte{'R'}); err != nil {
		t.Error(err)
		return
	}
	var b [2]byte
	if _, err := io.ReadFull(st, b[:]); err != nil {
		t.Error(err)
	}
}

// pileShape runs drive against p's sessions for pileRun with pileCfg,
// evaluating every 50 ms, and returns the registry and the SESSION_LEAK
// records. drive dials with dial and stops when ctx is done.
func pileShape(t *testing.T, p pileProto, drive func(ctx context.Context, dial func() muxEnd)) (*live.Registry, []live.Record) {
	return pileRunCfg(t, p, pileCfg, pileRun, drive)
}

// pileRecords returns the SESSION_LEAK records.
func pileRecords(reg *live.Registry) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Finding != nil && r.Finding.Code == live.CodeSessionLeak {
			out = append(out, r)
		}
	}
	return out
}

// TestSessionLeakPerRequestReal: a client that dials a session per
// request, every 100 ms, and never closes one opens SESSION_LEAK, naming
// the client's host and the server; closing them resolves it.
func TestSessionLeakPerRequestReal(t *testing.T) {
	t.Parallel()
	for _, p := range pileProtos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			reg, recs := pileUntilOpened(t, p, pileCfg, func(ctx context.Context, dial func() muxEnd) {
				for {
					pileAsk(t, dial())
					select {
					case <-ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			})
			if len(recs) == 0 || recs[0].Kind != live.FindingOpened {
				t.Fatalf("a session per request, never closed, opened no SESSION_LEAK:%s", describeRecords(recs))
			}
			f := recs[0].Finding
			t.Logf("%s: %s — %s", f.Code, f.Text, f.Advice)
			if f.Session != 0 || f.Severity != live.Warning || f.Evidence.Piled < 5 || f.Evidence.ClientHost != "127.0.0.1" ||
				!strings.Contains(f.Text, "from 127.0.0.1 to 127.0.0.1:") || !strings.Contains(f.Text, "a client dials new sessions and leaves the old ones open") ||
				!strings.Contains(f.Advice, "Session.Close()") || !strings.Contains(f.Advice, "recvLoop") {
				t.Errorf("SESSION_LEAK: %+v %q — %q", f.Evidence, f.Text, f.Advice)
			}
			// The client closed its sessions: the next evaluation resolves it.
			deadline := time.Now().Add(10 * time.Second)
			for {
				reg.Evaluate(time.Now(), pileCfg)
				recs = pileRecords(reg)
				if last := recs[len(recs)-1]; last.Kind == live.FindingResolved {
					t.Logf("resolved: %s", last.Detail)
					if !strings.Contains(last.Detail, "ended, closed or are in use again") {
						t.Errorf("resolved as %q", last.Detail)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the sessions closed, and SESSION_LEAK holds:%s", describeRecords(recs))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestSessionLeakRedialReal: the exploratory user's case, in small: 4
// clients redial every 100 ms without closing the session they had, and
// the server's keepalive ends each abandoned session 1 to 2 s later (the
// clients' keepalive is off). The sessions live shorter than CHURN's
// window allows and longer than it counts; SESSION_LEAK opens.
func TestSessionLeakRedialReal(t *testing.T) {
	t.Parallel()
	p := pileSmux("v1 server keepalive 1s", 1, func(c, s *smux.Config) {
		c.KeepAliveDisabled = true
		ka(s, 100*time.Millisecond, time.Second)
	})
	_, recs := pileUntilOpened(t, p, pileCfg, func(ctx context.Context, dial func() muxEnd) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					pileAsk(t, dial())
					select {
					case <-ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			})
		}
		wg.Wait()
	})
	if len(recs) == 0 || recs[0].Kind != live.FindingOpened {
		t.Fatalf("4 clients redialing opened no SESSION_LEAK:%s", describeRecords(recs))
	}
	t.Logf("%s: %s", recs[0].Finding.Code, recs[0].Finding.Text)
}

// dialPool dials a pool of n sessions together, as a pool filled at its
// start does. Dialed one after another, on a loaded machine whose dials
// took 100 ms each, the later ones came pileCfg's LeakAfter (300 ms)
// after the first, idle, and more than its tenth apart: 5 piled, and a
// true-by-rule SESSION_LEAK (the real --leak-after is minutes, no dial's
// time).
func dialPool(dial func() muxEnd, n int) []muxEnd {
	pool := make([]muxEnd, n)
	var wg sync.WaitGroup
	for i := range pool {
		wg.Go(func() { pool[i] = dial() })
	}
	wg.Wait()
	return pool
}

// TestSessionLeakHealthyReal: the healthy twins. None opens SESSION_LEAK.
func TestSessionLeakHealthyReal(t *testing.T) {
	t.Parallel()
	const n = 8 // more than pileCfg's threshold
	shapes := []struct {
		name  string
		drive func(t *testing.T) func(ctx context.Context, dial func() muxEnd)
	}{
		// n client processes behind one host, started together at a
		// deploy: each makes a request, then idles with its session.
		{"fleet", func(t *testing.T) func(ctx context.Context, dial func() muxEnd) {
			return func(ctx context.Context, dial func() muxEnd) {
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() { pileAsk(t, dial()) })
				}
				wg.Wait()
				<-ctx.Done()
			}
		}},
		// A fixed pool of n (dialed together), a request every 30 ms on the next in turn.
		{"round-robin pool", func(t *testing.T) func(ctx context.Context, dial func() muxEnd) {
			return func(ctx context.Context, dial func() muxEnd) {
				pool := dialPool(dial, n)
				for i := 0; ctx.Err() == nil; i++ {
					pileAsk(t, pool[i%n])
					time.Sleep(30 * time.Millisecond)
				}
			}
		}},
		// A fixed pool of n (dialed together) under low load: only the first is used.
		{"first-only pool", func(t *testing.T) func(ctx context.Context, dial func() muxEnd) {
			return func(ctx context.Context, dial func() muxEnd) {
				pool := dialPool(dial, n)
				for ctx.Err() == nil {
					pileAsk(t, pool[0])
					time.Sleep(100 * time.Millisecond)
				}
			}
		}},
		// A client that replaces its session after closing it (a
		// restart, a reconnect after the server went away), every 150 ms.
		{"replace after end", func(t *testing.T) func(ctx context.Context, dial func() muxEnd) {
			return func(ctx context.Context, dial func() muxEnd) {
				for ctx.Err() == nil {
					cli := dial()
					pileAsk(t, cli)
					time.Sleep(100 * time.Millisecond)
					cli.Close()
					time.Sleep(50 * time.Millisecond)
				}
			}
		}},
		// One long-lived session, a request every 500 ms.
		{"one session", func(t *testing.T) func(ctx context.Context, dial func() muxEnd) {
			return func(ctx context.Context, dial func() muxEnd) {
				cli := dial()
				for ctx.Err() == nil {
					pileAsk(t, cli)
					time.Sleep(500 * time.Millisecond)
				}
			}
		}},
	}
	for _, p := range pileProtos {
		for _, sh := range shapes {
			t.Run(p.name+"/"+sh.name, func(t *testing.T) {
				t.Parallel()
				_, recs := pileShape(t, p, sh.drive(t))
				if len(recs) != 0 {
					t.Errorf("%s opened SESSION_LEAK:%s", sh.name, describeRecords(recs))
				}
			})
		}
	}
}
