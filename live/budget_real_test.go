package live_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestStreamBudgetRealSessions drives many real smux v1, v2 and
// hashicorp/yamux sessions, records the bytes each connection carried in
// the order they went, and feeds that same record, as a tap would, into
// a registry that keeps every closed stream, one on a budget so small that
// each session keeps only the floor (MinClosedStreams,
// MinEndedClosedStreams), and one that keeps a single closed stream per
// session. The frames that name a stream after it was folded (v2's UPDs
// after both FINs, an answer written after the client's close, read or
// not) then name a stream the small windows have forgotten: every count,
// anomaly and finding must be the same in all three, before the sessions
// end and after; only the detail kept differs. (One record fed three
// times, not three taps: each tap stamps a frame with its own clock, and
// a FIN and an answer that cross within those microseconds would be
// DATA_AFTER_CLOSE in one and not another.)
func TestStreamBudgetRealSessions(t *testing.T) {
	const (
		sessions = 6
		workers  = 4  // streams each session has open at once
		each     = 30 // streams each worker opens, one after another
	)
	muxes := []struct {
		name string
		mux  smuxtest.Mux
	}{
		{"smux v1", smuxtest.Mux{Smux: smuxtest.Config(1)}},
		{"smux v2", smuxtest.Mux{Smux: smuxtest.Config(2)}},
		{"yamux", smuxtest.Mux{}},
	}
	for _, m := range muxes {
		t.Run(m.name, func(t *testing.T) {
			w := new(wireLog)
			var clients, servers []smuxtest.Session
			for i := range sessions {
				c, s := smuxtest.Conns(t)
				cli, err := m.mux.Client(&loggedConn{Conn: c, log: w, conn: i})
				if err != nil {
					t.Fatal(err)
				}
				srv, err := m.mux.Server(s)
				if err != nil {
					t.Fatal(err)
				}
				clients, servers = append(clients, cli), append(servers, srv)
			}
			var wg sync.WaitGroup
			errc := make(chan error, sessions*(workers+1))
			for i := range sessions {
				wg.Go(func() { errc <- serveKinds(servers[i]) })
				for k := range workers {
					wg.Go(func() {
						for n := range each {
							if err := clientKind(clients[i], (k+n)%numKinds); err != nil {
								errc <- err
								return
							}
							w.mu.Lock()
							w.closes++
							w.mu.Unlock()
						}
						errc <- nil
					})
				}
			}
			// Every stream closed both ways, and the frames after (a v2
			// reader's UPDs) recorded: the client's streams are done when
			// its workers are, and the server's answers to them with them.
			want := sessions * workers * each
			smuxtest.Eventually(t, "every stream served", func() bool { return w.served() == want })
			time.Sleep(100 * time.Millisecond) // the UPDs after the last reads
			live_ := w.len()
			for i := range sessions {
				clients[i].Close()
				servers[i].Close()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				if err != nil {
					t.Error(err)
				}
			}

			regs := []*live.Registry{
				live.New(live.Config{ClosedStreams: 1 << 20, StreamBudget: 1 << 20}),
				live.New(live.Config{StreamBudget: 1}),
				live.New(live.Config{ClosedStreams: 1}),
			}
			feeds := make([]*replay, len(regs))
			for i, reg := range regs {
				feeds[i] = newReplay(reg, w, sessions)
				feeds[i].feed(0, live_)
			}
			now := w.at(live_ - 1).Add(time.Second) // past lateGrace
			compare(t, "live", regs, now)
			// The frames after a stream's close named a stream the
			// smallest window had folded: it counts them as untracked.
			untracked := func(reg *live.Registry) (n uint64) {
				for _, ss := range reg.Snapshot().Sessions {
					n += ss.Untracked.Frames[0] + ss.Untracked.Frames[1]
				}
				return n
			}
			all, one := untracked(regs[0]), untracked(regs[2])
			t.Logf("%d frames named a folded stream with one closed stream kept, %d with all kept", one, all)
			if one <= all && m.name == "smux v2" { // its UPDs after both FINs; the others send none
				t.Errorf("%d frames named a folded stream with one closed stream kept, %d with all kept: want more, the test's point", one, all)
			}
			end := now.Add(time.Second)
			for _, f := range feeds {
				f.feed(live_, w.len())
				f.end(end)
			}
			compare(t, "ended", regs, end.Add(time.Second))
			big, _ := retained(regs[0].Snapshot())
			floor, _ := retained(regs[1].Snapshot())
			kept1, _ := retained(regs[2].Snapshot())
			if big != want || floor != sessions*live.MinEndedClosedStreams || kept1 != sessions {
				t.Errorf("closed streams kept: %d, %d, %d; want %d, %d, %d", big, floor, kept1, want, sessions*live.MinEndedClosedStreams, sessions)
			}
		})
	}
}

// wireLog is the bytes the clients' conns carried, in the order they
// went: each write before it went out, each read after it came in.
type wireLog struct {
	mu     sync.Mutex
	chunks []chunk
	closes int // streams the clients closed
}

// chunk is one read or write of conn's client end.
type chunk struct {
	conn int
	dir  live.Dir
	p    []byte
	at   time.Time
}

func (w *wireLog) add(conn int, dir live.Dir, p []byte) {
	w.mu.Lock()
	w.chunks = append(w.chunks, chunk{conn, dir, slices.Clone(p), time.Now()})
	w.mu.Unlock()
}

func (w *wireLog) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.chunks)
}

func (w *wireLog) at(i int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.chunks[i].at
}

func (w *wireLog) served() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closes
}

// loggedConn logs the bytes of the client's end of connection conn.
type loggedConn struct {
	net.Conn
	log  *wireLog
	conn int
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.add(c.conn, live.ClientToServer, p)
	return c.Conn.Write(p)
}

func (c *loggedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.log.add(c.conn, live.ServerToClient, p[:n])
	}
	return n, err
}

// replay feeds a wireLog into a registry as a tap of the client's end.
type replay struct {
	log      *wireLog
	sessions []*live.Session
	feeders  [][2]tap.Feeder
}

func newReplay(reg *live.Registry, w *wireLog, n int) *replay {
	r := &replay{log: w}
	for range n {
		s := reg.Open(live.SessionInfo{Client: "127.0.0.1:50000", Server: "127.0.0.1:9000", Tap: live.Client}, w.at(0))
		c2s, s2c := tap.NewFeeders(s, live.DefaultSnaplen, tap.Detect, 0)
		r.sessions = append(r.sessions, s)
		r.feeders = append(r.feeders, [2]tap.Feeder{c2s, s2c})
	}
	return r
}

// feed feeds the log's chunks from i to j.
func (r *replay) feed(i, j int) {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	for _, c := range r.log.chunks[i:j] {
		r.feeders[c.conn][c.dir].Feed(c.p, c.at)
	}
}

// end ends every session at at, as its connection closed.
func (r *replay) end(at time.Time) {
	for i, s := range r.sessions {
		for d := range r.feeders[i] {
			r.feeders[i][d].End(at, true)
		}
		s.End(at, live.EOF, nil)
	}
}

// compare evaluates the findings of regs at now and reports every count,
// anomaly and finding in which the others differ from regs[0].
func compare(t *testing.T, when string, regs []*live.Registry, now time.Time) {
	t.Helper()
	var want string
	for i, reg := range regs {
		reg.Evaluate(now, live.FindingsConfig{Churn: -1})
		got := figures(reg.SnapshotWith(live.SnapshotOptions{Now: now, Latency: true, LeakAfter: live.DefaultLeakAfter}))
		if i == 0 {
			want = got
			t.Logf("%s: %s", when, got)
			continue
		}
		if got != want {
			t.Errorf("%s: registry %d (%+v) sees\n%s\nwant, as the one that keeps every stream,\n%s", when, i, reg.Config(), got, want)
		}
	}
}

// figures says what a user sees counted in snap: its totals, per
// session and in all, its anomalies, findings and latency.
func figures(snap *live.Snapshot) string {
	s := fmt.Sprintf("streams %d open %d live sessions %d anomalies %d %v frames %d/%d latency %v\n",
		snap.StreamsTotal, snap.OpenStreams, snap.LiveSessions, snap.Anomalies, snap.AnomaliesBy,
		snap.Totals.FramesDir(0), snap.Totals.FramesDir(1), snap.Latency)
	for _, ss := range snap.Sessions {
		a := ss.Accounted()
		s += fmt.Sprintf("session %d: total %d open %d ended %d closed %d leaks %d aged %d anomalies %d %v accounted %v/%v\n",
			ss.ID, ss.Total, ss.Open, ss.StreamsEnded, ss.Total-uint64(ss.Open)-ss.StreamsEnded, ss.Leaks, ss.Aged,
			ss.AnomalyCount, ss.AnomaliesBy, a.Frames == [2]uint64{ss.Counts.FramesDir(0), ss.Counts.FramesDir(1)}, a.Wire[0]+a.Wire[1] == ss.Counts.BytesDir(0)+ss.Counts.BytesDir(1))
	}
	var fs []string
	for _, f := range snap.Findings {
		fs = append(fs, fmt.Sprintf("%s session %d %v count %d bytes %d streams %d", f.Code, f.Session, f.Dir, f.Evidence.Count, f.Evidence.Bytes, f.Evidence.Streams))
	}
	slices.Sort(fs)
	for _, f := range fs {
		s += f + "\n"
	}
	return s
}

// The kinds of stream clientKind opens, its first byte: how each side
// closes it.
const (
	kindCloseWrite  = iota // the client half-closes, reads the answer to EOF and closes: a second FIN in smux
	kindAnswered           // the client reads the answer, then closes; the server closes after the client's FIN
	kindLateRead           // the client half-closes before the answer comes and reads it: v2 UPDs after the FIN
	kindLateUnread         // the client closes before the answer comes, and never reads it: DATA_AFTER_CLOSE
	kindServerFirst        // the server answers and closes at once; the client half-closes later, then closes: smux's second FIN
	numKinds
)

// answer is what the server writes on every stream.
var answer = []byte("an answer of some bytes")

// clientKind opens a stream on cli and runs kind on it.
func clientKind(cli smuxtest.Session, kind int) error {
	st, err := cli.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write([]byte{byte(kind), 'q'}); err != nil {
		return err
	}
	switch kind {
	case kindCloseWrite, kindLateRead:
		if err := closeWrite(st); err != nil {
			return err
		}
		got, err := smuxtest.ReadAll(st)
		if err != nil || string(got) != string(answer) {
			return fmt.Errorf("kind %d: read %q, %v; want the answer", kind, got, err)
		}
	case kindServerFirst:
		time.Sleep(5 * time.Millisecond) // after the server's FIN
		if err := closeWrite(st); err != nil {
			return err
		}
	case kindAnswered:
		got := make([]byte, len(answer))
		if _, err := io.ReadFull(st, got); err != nil {
			return fmt.Errorf("kind %d: %v", kind, err)
		}
	}
	return nil
}

// closeWrite half-closes st: smux's CloseWrite, yamux's Close (which is one).
func closeWrite(st net.Conn) error {
	if cw, ok := st.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return st.Close()
}

// serveKinds serves the streams clientKind opens on srv until srv closes.
func serveKinds(srv smuxtest.Session) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return nil // the session closed
		}
		wg.Go(func() {
			defer st.Close()
			req := make([]byte, 2)
			if _, err := io.ReadFull(st, req); err != nil {
				return
			}
			switch req[0] {
			case kindCloseWrite:
				io.Copy(io.Discard, st) // to the client's FIN
			case kindLateRead, kindLateUnread:
				time.Sleep(5 * time.Millisecond) // after the client's FIN
			}
			st.Write(answer)
			if req[0] == kindAnswered {
				io.Copy(io.Discard, st)
			}
		})
	}
}
