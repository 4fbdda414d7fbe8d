package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// wireChunk is one Write of a real yamux end: its direction, bytes and
// the phase of the test it came in.
type wireChunk struct {
	dir   live.Dir
	b     []byte
	phase int
}

// wireRec keeps what each end of a real yamux pair writes, to replay at
// chosen times; a frozen end's writes are swallowed, as a stopped
// process sends nothing.
type wireRec struct {
	mu     sync.Mutex
	chunks []wireChunk
	phase  int
	frozen [2]bool
}

type recConn struct {
	net.Conn
	rec *wireRec
	dir live.Dir
}

func (c *recConn) Write(p []byte) (int, error) {
	r := c.rec
	r.mu.Lock()
	if r.frozen[c.dir] {
		r.mu.Unlock()
		return len(p), nil
	}
	r.chunks = append(r.chunks, wireChunk{dir: c.dir, b: append([]byte(nil), p...), phase: r.phase})
	r.mu.Unlock()
	return c.Conn.Write(p)
}

func (r *wireRec) set(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
}

// count returns how many chunks of phase have been written.
func (r *wireRec) count(phase int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.chunks {
		if c.phase == phase {
			n++
		}
	}
	return n
}

// recordedYamux returns a real hashicorp/yamux client and server over a
// pipe, each end's writes kept by rec. Their keepalive is off: the test
// sends its pings at its own moments. Both close when the test ends.
func recordedYamux(t *testing.T) (rec *wireRec, cli, srv *hyamux.Session) {
	t.Helper()
	rec = &wireRec{}
	a, b := net.Pipe()
	cfg := hyamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	cli, err := hyamux.Client(&recConn{Conn: a, rec: rec, dir: live.ClientToServer}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err = hyamux.Server(&recConn{Conn: b, rec: rec, dir: live.ServerToClient}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return rec, cli, srv
}

// timedFrame is a frame of a real yamux end with the time it is replayed at.
type timedFrame struct {
	at  time.Time
	dir live.Dir
	f   *yamux.Frame
}

// frames decodes r's chunks into frames timed for a replay: phase p's at
// at[p], 50 µs apart in the order written.
func (r *wireRec) frames(t *testing.T, at []time.Time) []timedFrame {
	t.Helper()
	decs := [2]*yamux.Decoder{yamux.New(64), yamux.New(64)}
	var i [8]int
	var out []timedFrame
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.chunks {
		when := at[c.phase].Add(time.Duration(i[c.phase]) * 50 * time.Microsecond)
		i[c.phase]++
		for q := c.b; len(q) > 0; {
			n, f, err := decs[c.dir].Next(q)
			q = q[n:]
			if err != nil {
				t.Fatalf("the real yamux bytes do not decode: %v", err)
			}
			if f != nil { // the decoder's, reused: a copy
				fc := *f
				fc.Payload = append([]byte(nil), f.Payload...)
				out = append(out, timedFrame{at: when, dir: c.dir, f: &fc})
			}
		}
	}
	return out
}

// TestYamuxFrozenServerDefaultTimings replays real hashicorp/yamux frames
// at yamux's default timings: a client opens three streams, writes on
// them, and the server accepts them and freezes (SIGSTOP); the client's
// keepalive pings 30 s into the session and, with no answer, ends it
// ConnectionWriteTimeout (10 s) later. KEEPALIVE opens for the server
// PingAnswerLimit after the ping, well before yamux gives up, and no
// LEAK says a side forgot Close for the streams the frozen server left
// open: neither when the ping goes out just before the streams reach
// --leak-after (30 s) nor 26 ms after it (the demo's keepalive fault saw
// 7 ms, the audit's client 26): until the session's first ping, a stream
// opened as it began waits NOPLateness past its deadline for it. A ping
// later still finds a LEAK open, which holds until KEEPALIVE opens, then
// resolves, saying why: a ping in flight is no sign yet that the server
// froze (a healthy server answers it a round trip later). Before, LEAK opened at 30 s, and
// KEEPALIVE only 1.5 "intervals" (the time to the first ping) after the
// server's last frame, 45 s in, after yamux had given up at 40 s.
//
// A server that answers the ping is no KEEPALIVE; its streams, never
// closed, are LEAKs once it has answered; closed, it opens nothing.
func TestYamuxFrozenServerDefaultTimings(t *testing.T) {
	cases := []struct {
		name                  string
		ping                  time.Duration // after the streams' SYNs
		frozen, closeStreams  bool
		wantKeepalive, wantLK bool
	}{
		{name: "frozen, ping just before the leak deadline", ping: 30*time.Second - 10*time.Millisecond, frozen: true, wantKeepalive: true},
		{name: "frozen, ping 26 ms after the leak deadline", ping: 30*time.Second + 26*time.Millisecond, frozen: true, wantKeepalive: true},
		// A ping later than NOPLateness: LEAK opens, and resolves as it comes.
		{name: "frozen, ping 1.5 s after the leak deadline", ping: 31*time.Second + 500*time.Millisecond, frozen: true, wantKeepalive: true},
		{name: "healthy, streams left open", ping: 30*time.Second - 10*time.Millisecond, wantLK: true},
		{name: "healthy, streams closed", ping: 30*time.Second - 10*time.Millisecond, closeStreams: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, cli, srv := recordedYamux(t)             // its ping is sent below, at the test's moment
			closeOne(t, cli.OpenStream, srv.AcceptStream) // the streams below are no setup streams
			for range 3 {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				acc, err := srv.AcceptStream() // sends the ACK
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(acc, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				if tc.closeStreams {
					st.Close()
					acc.Close()
				}
			}
			settle()
			rec.set(func() { rec.phase = 1; rec.frozen[live.ServerToClient] = tc.frozen })
			if tc.frozen {
				go cli.Ping() // no answer: it waits until the session closes
				for rec.count(1) == 0 {
					time.Sleep(time.Millisecond)
				}
				settle()
			} else if _, err := cli.Ping(); err != nil {
				t.Fatal(err)
			}
			if n := rec.count(1); tc.frozen && n != 1 || !tc.frozen && n != 2 {
				t.Fatalf("%d frames in the ping's phase, want the ping and, from a live server, its answer", n)
			}

			reg := live.New(live.Config{})
			syn := t0.Add(200 * time.Microsecond)
			ping := syn.Add(tc.ping)
			sess := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
			frames, next := rec.frames(t, []time.Time{syn, ping}), 0
			fcfg := live.FindingsConfig{Churn: -1} // --leak-after 30 s, KEEPALIVE by the cadence
			giveUp := ping.Add(10 * time.Second)   // yamux's ConnectionWriteTimeout
			var keepalive, leak *live.Finding
			var leakOpenAt time.Time
			for at := t0; !at.After(giveUp); at = at.Add(100 * time.Millisecond) {
				instants := []time.Time{at}
				if d := syn.Add(30*time.Second + 10*time.Millisecond); at.Before(d) && !at.Add(100*time.Millisecond).Before(d) {
					instants = append(instants, d) // between the leak deadline and a late ping
				}
				if d := ping.Add(-time.Millisecond); at.Before(d) && !at.Add(100*time.Millisecond).Before(d) {
					instants = append(instants, d) // just before the ping
				}
				for _, now := range instants {
					for ; next < len(frames) && !frames[next].at.After(now); next++ {
						sess.RecordYamux(frames[next].dir, frames[next].at, frames[next].f)
					}
					found := openFindings(reg, now, fcfg)
					for code, f := range found {
						switch code {
						case live.CodeKeepalive:
							if f.Dir != live.ServerToClient {
								t.Fatalf("at %v: KEEPALIVE for the client, whose keepalive waits for its ping's answer: %s", now.Sub(t0), f.Text)
							}
							if keepalive == nil {
								keepalive = f
							}
						case live.CodeLeak:
							if leak == nil {
								leak, leakOpenAt = f, now
							}
							if tc.frozen && found[live.CodeKeepalive] != nil {
								t.Fatalf("at %v, KEEPALIVE open (the ping at %v): LEAK open beside it for a frozen server's streams: %s", now.Sub(t0), ping.Sub(t0), f.Text)
							}
							if tc.frozen && !now.Before(ping) && leak.Opened.After(ping) {
								t.Fatalf("at %v, after the ping (%v): LEAK opened for a frozen server's streams: %s", now.Sub(t0), ping.Sub(t0), f.Text)
							}
						default:
							t.Fatalf("at %v: %v: %s", now.Sub(t0), code, f.Text)
						}
					}
				}
			}
			if leak != nil {
				t.Logf("LEAK opened at %v (the ping at %v)", leakOpenAt.Sub(t0), ping.Sub(t0))
			}
			if tc.frozen && leak != nil {
				// Opened in the moment between the deadline and the ping:
				// it resolved as KEEPALIVE opened, and says why.
				var res *live.Finding
				for _, r := range reg.Snapshot().Resolved {
					if r.ID == leak.ID {
						res = r
					}
				}
				if res == nil || !strings.Contains(res.Why, "another condition explains them: a side gone silent (KEEPALIVE") {
					t.Errorf("LEAK opened at %v, before the ping: resolved %+v, want it explained by the silent side", leakOpenAt.Sub(t0), res)
				}
			}
			if tc.frozen && tc.ping < 30*time.Second+live.NOPLateness && leak != nil {
				t.Errorf("LEAK opened at %v, though the ping came within NOPLateness of the leak deadline: %s", leakOpenAt.Sub(t0), leak.Text)
			}
			if tc.frozen && tc.ping > 30*time.Second+live.NOPLateness && leak == nil {
				t.Error("no LEAK before a ping that came 1.5 s after the deadline")
			}
			switch {
			case tc.wantKeepalive && keepalive == nil:
				t.Fatal("no KEEPALIVE for the frozen server before yamux gave up")
			case tc.wantKeepalive:
				opened := keepalive.Opened
				t.Logf("KEEPALIVE opened %v after the ping: %s", opened.Sub(ping), keepalive.Text)
				if opened.Before(ping.Add(live.PingAnswerLimit)) || opened.After(ping.Add(live.PingAnswerLimit+100*time.Millisecond)) {
					t.Errorf("KEEPALIVE opened %v after the ping, want at PingAnswerLimit (%v)", opened.Sub(ping), live.PingAnswerLimit)
				}
				if keepalive.Evidence.Limit != live.PingAnswerLimit || keepalive.Evidence.Ping < live.PingAnswerLimit {
					t.Errorf("evidence %+v, want the limit PingAnswerLimit and the ping's wait", keepalive.Evidence)
				}
				ev := keepalive.Evidence
				if ev.Age < 34*time.Second || ev.Every != 0 && ev.Every != ping.Sub(t0) {
					t.Errorf("evidence %+v, want the server's silence since its ACKs, and no cadence but the time to the first ping", ev)
				}
				if want := fmt.Sprintf("the server has sent nothing for %s, and the client's ping has waited %s for its answer, which yamux sends at once: it is frozen or gone",
					live.FormatAge(ev.Age), live.FormatAge(ev.Ping)); keepalive.Text != want {
					t.Errorf("text %q, want %q", keepalive.Text, want)
				}
			case keepalive != nil:
				t.Errorf("a server that answers its ping: %s", keepalive.Text)
			}
			if tc.wantLK && (leak == nil || leakOpenAt.Before(ping)) {
				t.Errorf("streams a live server never closed: LEAK %v at %v, want one once it answered the ping", leak, leakOpenAt.Sub(t0))
			}
			if !tc.wantLK && !tc.frozen && leak != nil {
				t.Errorf("closed streams: LEAK %s", leak.Text)
			}
		})
	}
}

// TestYamuxKeepaliveBorrowedWording: a server that sends no ping of its
// own, only the answers to the client's, and then stops answering is
// measured against the client's cadence, and the text says the pings
// were the client's. Before, it said "its pings came every 1.0 s" of a
// server that had sent none.
func TestYamuxKeepaliveBorrowedWording(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
	var off [2]int64
	rec := func(at time.Time, dir live.Dir, flags yamux.Flags, value uint32) {
		f := &yamux.Frame{Offset: off[dir], Header: yamux.MakeHeader(yamux.Ping, flags, 0, value)}
		off[dir] += f.Size()
		s.RecordYamux(dir, at, f)
	}
	for i := range 3 { // answered at once
		rec(sec(float64(i+1)), live.ClientToServer, yamux.SYN, uint32(i))
		rec(sec(float64(i+1)+0.001), live.ServerToClient, yamux.ACK, uint32(i))
	}
	rec(sec(4), live.ClientToServer, yamux.SYN, 3) // never answered
	cfg := live.FindingsConfig{Churn: -1}
	if f := openFindings(reg, sec(4.9), cfg)[live.CodeKeepalive]; f != nil {
		t.Fatalf("at 4.9 s, 1.9 s after the server's last answer: %s", f.Text)
	}
	f := openFindings(reg, sec(5.1), cfg)[live.CodeKeepalive]
	if f == nil || f.Dir != live.ServerToClient || !f.Evidence.Borrowed || f.Evidence.Every != time.Second || f.Evidence.Limit != live.SilenceLimit(time.Second) {
		t.Fatalf("at 5.1 s: %+v, want the server's KEEPALIVE against the client's 1 s cadence", f)
	}
	if want := "the server has sent nothing, not even an answer to the client's keepalive ping, for 2.1 s; the client's pings came every 1.0 s: it is frozen or gone"; f.Text != want {
		t.Errorf("text %q, want %q", f.Text, want)
	}
}
