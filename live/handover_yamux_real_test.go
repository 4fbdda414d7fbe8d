package live_test

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// realYamux returns a real hashicorp/yamux client, tapped into reg, and
// its server, over loopback TCP, both of cfg (smuxtest.YamuxConfig if
// nil), the server's conn wrapped by wrap if not nil; both close when the
// test ends.
func realYamux(t *testing.T, reg *live.Registry, cfg *hyamux.Config, wrap func(net.Conn) net.Conn) (cli, srv *hyamux.Session) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	if cfg == nil {
		cfg = smuxtest.YamuxConfig()
	}
	if wrap != nil {
		sc = wrap(sc)
	}
	return smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "test", tap.WithProtocol(tap.Yamux)), sc, cfg, cfg)
}

// openWriting opens a stream on cli and writes p on it.
func openWriting(t *testing.T, cli *hyamux.Session, p string) *hyamux.Stream {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte(p)); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUnansweredHandsOverRealYamux: UNANSWERED's resolution texts on
// real hashicorp/yamux sessions, whose server answers a stream first by
// accepting it (its WINDOW_UPDATE ACK is the first frame back). A yamux
// upload nobody reads is one the server never accepts: its writer runs
// into the 256 KiB window the SYN granted and is held there. Each case
// opens its streams, lets the uploads fill their windows, has the server
// ping (UNANSWERED holds only while the other side speaks), evaluates
// once (UNANSWERED counts every stream: each waited --unanswered-after,
// and no window has held its writer --stall-after yet), then has the
// server accept those it answers and evaluates again, when the uploads
// have been held --stall-after: the resolution names the uploads as
// WINDOW_STALL's and says the others got an answer. The frames' times are the tap's; the evaluations'
// are chosen from them.
func TestUnansweredHandsOverRealYamux(t *testing.T) {
	const upload, request = true, false
	for _, tc := range []struct {
		name    string
		streams []bool // streams 1, 3... in order: an upload, or a request
		accept  int    // how many the server accepts, in order, after the first evaluation
		codes   string
		detail  string
	}{
		{"two uploads", []bool{upload, upload}, 0,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL",
			"streams 1 and 3, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from"},
		{"a request accepted and an upload", []bool{request, upload}, 1,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL",
			"stream 3, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from; the other got an answer, or closed"},
		{"two requests accepted", []bool{request, request}, 2,
			"+UNANSWERED -UNANSWERED",
			"the streams got an answer, or closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, srv := realYamux(t, reg, nil, nil)
			var sts []*hyamux.Stream
			for _, up := range tc.streams {
				sts = append(sts, openWriting(t, cli, map[bool]string{upload: "PUT ", request: "REQ!"}[up]))
			}
			// Each upload writes until yamux holds it at the window; the
			// writes return when the session closes at the test's end.
			last := waitStream(t, reg, sts[len(sts)-1].StreamID(), "the last stream's first bytes", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 4 })
			var full time.Time // when the latest window filled
			wait := time.Hour  // --unanswered-after: less than any stream's age at the first evaluation
			for i, up := range tc.streams {
				if !up {
					continue
				}
				go sts[i].Write(make([]byte, live.InitialPeerWindow))
				st := waitStream(t, reg, sts[i].StreamID(), "the full window", func(st *live.StreamSnap) bool { return !st.Flow[c2s].FullSince.IsZero() })
				fs := st.Flow[c2s].FullSince
				full = maxTime(full, fs)
				wait = min(wait, fs.Sub(st.First)/2) // filled after it waited: not held from the start
			}
			// The server shows it is alive, not accepting: a ping, after
			// every SYN. UNANSWERED holds only while the other side speaks.
			if _, err := srv.Ping(); err != nil {
				t.Fatal(err)
			}
			first := time.Now() // after every frame so far, the ping's reply read
			wait = min(wait, first.Sub(last.First)/2)
			// --stall-after: longer than any upload is held at the first
			// evaluation, by a second.
			cfg := live.FindingsConfig{UnansweredAfter: wait, StallAfter: first.Sub(full) + time.Second, LeakAfter: time.Hour, Churn: -1}
			if full.IsZero() {
				cfg.StallAfter = time.Second
			}
			reg.Evaluate(first, cfg) // every stream waits; no upload is held StallAfter yet

			for i := range tc.accept {
				acc, err := srv.AcceptStream() // sends the ACK: the stream's answer
				if err != nil {
					t.Fatal(err)
				}
				if acc.StreamID() != sts[i].StreamID() {
					t.Fatalf("the server accepted stream %d, want %d", acc.StreamID(), sts[i].StreamID())
				}
			}
			// The second evaluation says a second has passed: a ping
			// between the two has the client's tap read and write in it,
			// as it would. Without one, a tap caught between two reads at
			// both (a microsecond apart in real time) looks as if it had
			// read nothing for that second, a session blocking, which
			// holds WINDOW_STALL back.
			if _, err := srv.Ping(); err != nil {
				t.Fatal(err)
			}
			second := first.Add(time.Second) // the uploads held StallAfter
			for i := range tc.accept {
				st := waitStream(t, reg, sts[i].StreamID(), "the server's ACK", func(st *live.StreamSnap) bool { return st.Frames[s2c] > 0 })
				second = maxTime(second, st.Last.Add(time.Millisecond))
			}
			reg.Evaluate(second, cfg) // the uploads are held StallAfter; the requests answered
			recs := findingRecords(reg)
			if got := codes(reg); got != tc.codes {
				t.Fatalf("%s, want %s:%s", got, tc.codes, describeRecords(recs))
			}
			if n := recs[0].Finding.Evidence.Count; n != uint64(len(tc.streams)) || recs[1].Detail != tc.detail {
				t.Errorf("UNANSWERED counted %d streams and resolved:\n  %q\nwant %d and\n  %q", n, recs[1].Detail, len(tc.streams), tc.detail)
			}
			if recs[0].Finding.Proto != live.Yamux || strings.Contains(recs[0].Finding.Text, "smux") {
				t.Errorf("UNANSWERED not in yamux's words: %q", recs[0].Finding.Text)
			}
		})
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// freezableConn is a conn whose writes freeze can hold: a peer frozen
// mid-session, still reading.
type freezableConn struct {
	net.Conn
	mu      sync.RWMutex // Write holds it shared; freeze, whole
	written atomic.Int64
}

// Write writes p unless the conn is frozen, and then once it thaws.
func (c *freezableConn) Write(p []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// freeze holds every write from now on, once the one in progress is done,
// until thaw.
func (c *freezableConn) freeze() { c.mu.Lock() }

func (c *freezableConn) thaw() { c.mu.Unlock() }

// lastFrame returns the time of the latest frame of direction d in reg's
// history, and how many Ping SYNs of d came at or after since.
func lastFrame(reg *live.Registry, d live.Dir, since time.Time) (last time.Time, pings int) {
	for _, r := range allRecords(reg) {
		if r.Kind != live.FrameRecord || r.Dir != d {
			continue
		}
		last = maxTime(last, r.At)
		if h := r.YamuxHeader; h.Type() == yamux.Ping && h.Flags()&yamux.SYN != 0 && !r.At.Before(since) {
			pings++
		}
	}
	return last, pings
}

// lastAnswer returns the time of the latest Ping ACK in reg's history
// answering a ping of direction d (one of d.Reverse()'s).
func lastAnswer(reg *live.Registry, d live.Dir) (at time.Time) {
	for _, r := range allRecords(reg) {
		if h := r.YamuxHeader; r.Kind == live.FrameRecord && r.Dir == d.Reverse() && h.Type() == yamux.Ping && h.Flags()&yamux.ACK != 0 {
			at = maxTime(at, r.At)
		}
	}
	return at
}

// unansweredPing says whether a Ping SYN of direction d in reg's history
// has no ACK echoing its value (yamux numbers a session's pings apart).
func unansweredPing(reg *live.Registry, d live.Dir) bool {
	asked, answered := map[uint32]bool{}, map[uint32]bool{}
	for _, r := range allRecords(reg) {
		h := r.YamuxHeader
		if r.Kind != live.FrameRecord || h.Type() != yamux.Ping {
			continue
		}
		switch {
		case r.Dir == d && h.Flags()&yamux.SYN != 0:
			asked[h.Length()] = true
		case r.Dir == d.Reverse() && h.Flags()&yamux.ACK != 0:
			answered[h.Length()] = true
		}
	}
	for v := range asked {
		if !answered[v] {
			return true
		}
	}
	return false
}

// TestUnansweredToKeepaliveRealYamux: real hashicorp/yamux ends that ping
// every 100 ms; the client opens an upload (stream 1) and a request
// (stream 3) the server never accepts. While the server still pings,
// UNANSWERED counts both (evaluated just after a ping of the server's);
// then the server freezes: its writes never return, while it reads on,
// a ping of its own waiting for the answer the client, held, gives a
// moment after the server's last frame. Once it has been silent
// --silent-after, counted from that answer (its keepalive pings again an
// interval after it), and the upload held at its window --stall-after,
// UNANSWERED resolves: the upload is WINDOW_STALL's, the request
// KEEPALIVE's. The client's own ping, unanswered, waits: its silence is
// not KEEPALIVE. The frames' times are the tap's; the evaluations' are
// chosen from them.
func TestUnansweredToKeepaliveRealYamux(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := smuxtest.YamuxConfig()
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = 100 * time.Millisecond
	// A ping unanswered for ConnectionWriteTimeout ends the session: at
	// its default 10 s, a loaded machine that held the server for that
	// long ended it before the first evaluation. Nothing here waits for
	// the timeout.
	cfg.ConnectionWriteTimeout = time.Minute
	cc, sc := smuxtest.Conns(t)
	// The client's writes can be held above its tap (nothing it sends is
	// recorded while they are), the server's below (it is frozen).
	held := &freezableConn{Conn: tap.Wrap(cc, live.Client, reg, "test", tap.WithProtocol(tap.Yamux))}
	frozen := &freezableConn{Conn: sc}
	cli, _ := smuxtest.YamuxPair(t, held, frozen, cfg, cfg)
	up := openWriting(t, cli, "PUT ")
	req := openWriting(t, cli, "REQ!")
	go up.Write(make([]byte, live.InitialPeerWindow)) // held at the window; returns when the session closes
	upSnap := waitStream(t, reg, up.StreamID(), "the full window", func(st *live.StreamSnap) bool { return !st.Flow[c2s].FullSince.IsZero() })
	full := upSnap.Flow[c2s].FullSince
	reqSnap := waitStream(t, reg, req.StreamID(), "the request", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 4 })
	// A ping of the server's after both SYNs and the full window: it is
	// alive, and UNANSWERED may count the streams.
	after := maxTime(full, reqSnap.First)
	smuxtest.Eventually(t, "a ping of the server's", func() bool {
		_, n := lastFrame(reg, s2c, after)
		return n > 0
	})
	// The client pings on the same cadence: a ping of its recorded and
	// not yet answered asks the server for an answer, and UNANSWERED
	// rightly waits for it (the server may be frozen). Under load the
	// evaluation came between such a ping and its answer, and nothing
	// opened. So the client's writes are held, above its tap, for the
	// first evaluation, once each ping it sent has its answer.
	held.freeze()
	var thawOnce sync.Once
	thawClient := func() { thawOnce.Do(held.thaw) }
	t.Cleanup(thawClient) // before the sessions close
	smuxtest.Eventually(t, "the client's pings answered", func() bool { return !unansweredPing(reg, c2s) })
	heard, _ := lastFrame(reg, s2c, after)
	first := heard.Add(time.Microsecond) // the server has just spoken
	wait := min(full.Sub(upSnap.First), first.Sub(reqSnap.First)) / 2
	fcfg := live.FindingsConfig{UnansweredAfter: wait, StallAfter: first.Sub(full) + time.Second, SilentAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
	reg.Evaluate(first, fcfg)
	if got := codes(reg); got != "+UNANSWERED" {
		t.Fatalf("%s, want +UNANSWERED while the server pings:%s", got, describeRecords(findingRecords(reg)))
	}

	// The server freezes with a ping of its own waiting for the client's
	// answer, which the client, held still, gives only once the server's
	// last frame is answerLate old: an answer that comes after the
	// server's last frame, as one did under load, 7 ms after. The
	// server's keepalive pings again an interval after that answer, so
	// its silence counts from it (TestYamuxLateAnswerPingerNotFrozenReal).
	smuxtest.Eventually(t, "a ping of the server's the held client has not answered", func() bool { return unansweredPing(reg, s2c) })
	frozen.freeze()
	t.Cleanup(frozen.thaw) // before the sessions close: yamux's Close waits for its writer
	smuxtest.Eventually(t, "every byte the server wrote read", func() bool {
		ss := reg.Snapshot().Sessions[0]
		return int64(ss.WireBytes(s2c)) == frozen.written.Load()
	})
	silentFrom, _ := lastFrame(reg, s2c, after)
	const answerLate = 20 * time.Millisecond
	for time.Since(silentFrom) < answerLate {
		time.Sleep(answerLate)
	}
	thawClient()
	// The client's ping the frozen server never answers: its next, or
	// one it held. yamux's keepalive sends no other until that one times
	// out (ConnectionWriteTimeout). And every ping of the server's
	// answered by the client, which is not frozen: a server whose latest
	// ping waits for the client's answer is not silent of its own accord,
	// and no KEEPALIVE opens for it.
	smuxtest.Eventually(t, "the client's unanswered ping", func() bool {
		return unansweredPing(reg, c2s) && !unansweredPing(reg, s2c)
	})
	// The client's reader back in Read, where it stays: the server sends
	// no more. One caught between two reads at both evaluations (the
	// last it read came before the first) looks stopped for the second
	// between them, a session blocking, which holds KEEPALIVE back.
	sess := reg.Session(reg.Snapshot().Sessions[0].ID)
	smuxtest.Eventually(t, "the client's reader in Read", func() bool { return live.Reading(sess, s2c) })
	answered := lastAnswer(reg, s2c)
	if !answered.After(silentFrom) {
		t.Fatalf("the client answered the server's latest ping at %v, not after its last frame at %v", answered, silentFrom)
	}
	second := maxTime(answered.Add(fcfg.SilentAfter), full.Add(fcfg.StallAfter)).Add(time.Millisecond)
	reg.Evaluate(second, fcfg)
	recs := findingRecords(reg)
	if got, want := codes(reg), "+UNANSWERED -UNANSWERED +KEEPALIVE +WINDOW_STALL"; got != want {
		t.Fatalf("%s, want %s:%s", got, want, describeRecords(recs))
	}
	want := "stream 1, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from; stream 3 is KEEPALIVE's: the server went silent"
	if recs[0].Finding.Evidence.Count != 2 || recs[1].Detail != want {
		t.Errorf("UNANSWERED counted %d streams and resolved:\n  %q\nwant 2 and\n  %q", recs[0].Finding.Evidence.Count, recs[1].Detail, want)
	}
	if recs[2].Finding.Dir != s2c {
		t.Errorf("KEEPALIVE of %v, want the server's silence", recs[2].Finding.Dir)
	}
}
