package live_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// The twins of TestHealthyMoreV1Drain that are leaks, on real sessions:
// a server writes a download and closes its stream at once; the client
// never closes it. In smux v1 the wire shows nothing of the client's
// reading, and LEAK allows it the time a reader at live.V1DrainRate takes
// to read what it was sent, at most live.V1ReceiveBuffer, from the
// server's FIN (a slow reader still draining it is no leak); then LEAK
// opens, "the client never closes its streams". In v2 and yamux, whose
// readers show their reading, it opens --leak-after after the stream's
// latest frame, as before.

// drainCfg is the twins' thresholds: --leak-after 1 s.
var drainCfg = live.FindingsConfig{LeakAfter: time.Second, Churn: -1}

// v1Drain is how long LEAK allows an smux v1 reader of size bytes.
func v1Drain(size int) time.Duration {
	return time.Duration(min(size, live.V1ReceiveBuffer)) * time.Second / live.V1DrainRate
}

// forgottenDownload runs name's pair (keepalive off, the client's conn
// tapped): the client asks for size bytes, the server writes them and
// closes; the client reads them all at once if read, else none, and never
// closes its stream. It returns the stream's id, its latest frame and its
// first data from the server, once the traffic has settled.
func forgottenDownload(t *testing.T, name string, reg *live.Registry, size int, read bool) (uint32, time.Time, time.Time) {
	t.Helper()
	m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{})
	go func() {
		st, err := m.Srv.AcceptStream()
		if err != nil {
			return
		}
		if _, err := bufio.NewReader(st).ReadString('\n'); err == nil {
			io.Copy(st, io.LimitReader(zeros{}, int64(size)))
		}
		st.Close()
	}()
	st, err := m.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(st, "GET /big\n")
	if read {
		if n, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
	}
	sid := smuxtest.StreamID(st)
	var last, firstData time.Time
	smuxtest.Eventually(t, "the server's FIN recorded", func() bool {
		for _, s := range reg.Snapshot().Sessions {
			for _, ss := range s.Streams {
				if ss.ID == sid && ss.State == live.HalfClosedByServer && ss.Bytes[live.ServerToClient] == uint64(size) {
					return true
				}
			}
		}
		return false
	})
	// Let a v2 or yamux reader's last window update come.
	time.Sleep(200 * time.Millisecond)
	for _, s := range reg.Snapshot().Sessions {
		for _, ss := range s.Streams {
			if ss.ID == sid {
				last, firstData = ss.Last, ss.First.Add(ss.FirstReply)
			}
		}
	}
	return sid, last, firstData
}

// wantLeakAt is wantLeakIn of the client's LEAK, due in [lo, hi].
func wantLeakAt(t *testing.T, reg *live.Registry, sid uint32, last, lo, hi time.Time) {
	t.Helper()
	wantLeakIn(t, reg, sid, live.ClientToServer, last, lo, hi)
}

// wantLeakIn evaluates reg at its --leak-after past last (at which a
// stream closes no more, before the drain rule, a LEAK in v1 too), then
// just before lo and just after hi: the LEAK of stream sid of the side
// that sends d, which never closes it, is due between lo and hi (the
// bounds of when a reader would have drained it: the frames' times are
// the tap's), and opens then alone.
func wantLeakIn(t *testing.T, reg *live.Registry, sid uint32, d live.Dir, last, lo, hi time.Time) {
	t.Helper()
	for _, at := range []time.Time{last.Add(drainCfg.LeakAfter + time.Millisecond), lo.Add(-time.Millisecond)} {
		if !at.Before(lo) {
			continue
		}
		reg.Evaluate(at, drainCfg)
		if ls := leaksOf(reg); len(ls) != 0 {
			t.Fatalf("LEAK %v after the stream's latest frame, %v before it is due: %s", at.Sub(last), lo.Sub(at), ls[0].Text)
		}
	}
	at := hi.Add(time.Millisecond)
	reg.Evaluate(at, drainCfg)
	ls := leaksOf(reg)
	who, other := d.Sender(), d.Reverse().Sender()
	if len(ls) != 1 || ls[0].Stream != sid || !ls[0].HasDir || ls[0].Dir != d ||
		!strings.HasPrefix(ls[0].Text, fmt.Sprintf("the %s never closes its streams: 1 half-closed by the %s", who, other)) ||
		!strings.Contains(ls[0].Advice, fmt.Sprintf("Close() on the %s's stream", who)) {
		t.Fatalf("LEAKs %d %v after the stream's latest frame, want the %s's of stream %d: %s", len(ls), at.Sub(last), who, sid, describeLeaks(ls))
	}
	t.Logf("opened %v after the stream's latest frame: %s", at.Sub(last), ls[0].Text)
}

func describeLeaks(ls []*live.Finding) string {
	var b strings.Builder
	for _, f := range ls {
		fmt.Fprintf(&b, "\n\t%s", f.Text)
	}
	return b.String()
}

// TestLeakV1DrainedReal: a download the client never closes is a LEAK
// in smux v1 once a reader at V1DrainRate would have read it, from the
// server's FIN, however fast the client read it, and whether it read it
// at all: 3 MiB read at once (the classic forgotten Close), 48 s after the
// FIN; 3 MiB never read, 48 s; 10 MiB read at once, 64 s (the 4 MiB
// buffer's drain, its bound); 48 KiB read at once, --leak-after (1 s)
// after the FIN as before, less than a second's drain at 64 KiB/s. Before
// this rule each opened --leak-after after the FIN. In v2 and yamux, 3 MiB
// read at once opens --leak-after after the stream's latest frame (the
// reader's last window update), unchanged (in yamux, a stream opened in
// its session's first second waits NOPLateness more for the first ping:
// leakExcuses.graceCut).
func TestLeakV1DrainedReal(t *testing.T) {
	if testing.Short() {
		t.Skip("real sessions")
	}
	for _, c := range []struct {
		name string
		mux  string
		size int
		read bool
	}{
		{"v1 read at once", "smux-v1", 3 << 20, true},
		{"v1 never read", "smux-v1", 3 << 20, false},
		{"v1 beyond the buffer", "smux-v1", 10 << 20, true},
		{"v1 small", "smux-v1", 48 << 10, true},
		{"v2 read at once", "smux-v2", 3 << 20, true},
		{"yamux read at once", "yamux", 3 << 20, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			sid, last, firstData := forgottenDownload(t, c.mux, reg, c.size, c.read)
			lo := last.Add(drainCfg.LeakAfter)
			hi := lo
			switch c.mux {
			case "smux-v1":
				// The bytes came from the first data to the FIN (last),
				// faster than V1DrainRate.
				lo = maxTime(lo, firstData.Add(v1Drain(c.size)))
				hi = maxTime(hi, last.Add(v1Drain(c.size)))
			case "yamux":
				lo, hi = lo.Add(live.NOPLateness), hi.Add(live.NOPLateness)
			}
			wantLeakAt(t, reg, sid, last, lo, hi)
		})
	}
}

// TestLeakV1DrainedKeepaliveReal: the fault of "v1 never read" in real
// time, keepalive on (100 ms) and evaluated every 100 ms as muxtop does:
// the client never reads nor closes a 192 KiB download; LEAK opens once a
// reader at V1DrainRate would have read it (3 s after the server's FIN),
// at the client's first NOP after that (a side may be frozen until it
// speaks: leakExcuses.silenced), and not before.
func TestLeakV1DrainedKeepaliveReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	if testing.Short() {
		t.Skip("real sessions for seconds")
	}
	if racetest.Enabled {
		t.Skip("the race detector slows the sessions past the 100 ms keepalive")
	}
	const size = 192 << 10
	reg := live.New(live.Config{})
	m := livecaptest.RealPair(t, "smux-v1", reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: 3 * time.Second})
	go func() {
		st, err := m.Srv.AcceptStream()
		if err != nil {
			return
		}
		if _, err := bufio.NewReader(st).ReadString('\n'); err == nil {
			io.Copy(st, io.LimitReader(zeros{}, size))
		}
		st.Close()
	}()
	st, err := m.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(st, "GET /big\n")
	sid := smuxtest.StreamID(st)
	var fin, firstData time.Time
	deadline := time.Now().Add(10 * time.Second)
	for now := time.Now(); now.Before(deadline); now = time.Now() {
		reg.Evaluate(now, drainCfg)
		if fin.IsZero() {
			for _, s := range reg.Snapshot().Sessions {
				for _, ss := range s.Streams {
					if ss.ID == sid && ss.State == live.HalfClosedByServer {
						fin, firstData = ss.Last, ss.First.Add(ss.FirstReply)
					}
				}
			}
		}
		if ls := leaksOf(reg); len(ls) != 0 {
			if fin.IsZero() {
				t.Fatalf("LEAK before the server's FIN: %s", ls[0].Text)
			}
			if at := now.Sub(firstData); at < v1Drain(size) || now.Sub(fin) > v1Drain(size)+time.Second {
				t.Fatalf("LEAK %v after the server's first data, %v after its FIN, want %v to %v: %s", at, now.Sub(fin), v1Drain(size), v1Drain(size)+time.Second, ls[0].Text)
			}
			if ls[0].Stream != sid || ls[0].Dir != live.ClientToServer || !strings.HasPrefix(ls[0].Text, "the client never closes its streams: 1 half-closed by the server") {
				t.Fatalf("LEAK of stream %d, want the client's of stream %d: %s", ls[0].Stream, sid, ls[0].Text)
			}
			t.Logf("opened %v after the server's FIN: %s", now.Sub(fin), ls[0].Text)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no LEAK 10 s in (the server's FIN at %v)", fin)
}

// TestLeakV1HeldBackKeepsLeakReal: the reviewer's churn, on a real smux
// v1 session (--leak-after 1 s, keepalive off): the client downloads
// 3 MiB on one stream and 1000 bytes on another; the server closes both,
// the client neither. The small one is a LEAK, "the client never closes
// its streams", once --leak-after has passed; then the client closes it.
// The LEAK stays the one finding, open, now naming the big stream (as
// before the drain rule): a stream held back only because its v1 reader
// may still read what it was sent does not resolve an open LEAK of its
// side, which has shown it forgets Close. It resolved, "in use again: a
// frame on them less than the threshold ago", false (the big stream had
// carried no frame for long), and opened again as a new finding 48 s after
// the big stream's FIN.
func TestLeakV1HeldBackKeepsLeakReal(t *testing.T) {
	if testing.Short() {
		t.Skip("real sessions")
	}
	const big, small = 3 << 20, 1000
	reg := live.New(live.Config{})
	m := livecaptest.RealPair(t, "smux-v1", reg, livecaptest.PairConfig{})
	go func() {
		for range 2 {
			st, err := m.Srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				line, err := bufio.NewReader(st).ReadString('\n')
				if err == nil {
					size := small
					if line == "GET /big\n" {
						size = big
					}
					io.Copy(st, io.LimitReader(zeros{}, int64(size)))
				}
				st.Close()
			}()
		}
	}()
	open := func(req string, size int) net.Conn {
		st, err := m.Cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(st, req)
		if n, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatalf("%q: %d bytes, %v", req, n, err)
		}
		return st
	}
	bigSt := open("GET /big\n", big)
	smallSt := open("GET /small\n", small)
	bigID, smallID := smuxtest.StreamID(bigSt), smuxtest.StreamID(smallSt)
	var bigFIN time.Time
	state := func(sid uint32) (ss live.StreamSnap, ok bool) {
		for _, s := range reg.Snapshot().Sessions {
			for _, ss := range s.Streams {
				if ss.ID == sid {
					return ss, true
				}
			}
		}
		return ss, false
	}
	smuxtest.Eventually(t, "the server's FINs recorded", func() bool {
		b, ok1 := state(bigID)
		s, ok2 := state(smallID)
		bigFIN = b.Last
		return ok1 && ok2 && b.State == live.HalfClosedByServer && s.State == live.HalfClosedByServer
	})
	time.Sleep(1200 * time.Millisecond)
	reg.Evaluate(time.Now(), drainCfg)
	ls := leaksOf(reg)
	if len(ls) != 1 || ls[0].Stream != smallID || !strings.HasPrefix(ls[0].Text, "the client never closes its streams: 1 half-closed by the server") {
		t.Fatalf("LEAKs %d, want the client's of stream %d: %s", len(ls), smallID, describeLeaks(ls))
	}
	first := ls[0]
	t.Logf("opened: %s", first.Text)
	smallSt.Close()
	smuxtest.Eventually(t, "the client's FIN recorded", func() bool {
		s, ok := state(smallID)
		return !ok || s.State == live.Closed
	})
	for _, at := range []time.Time{time.Now(), bigFIN.Add(v1Drain(big) + time.Millisecond)} {
		reg.Evaluate(at, drainCfg)
		snap := reg.Snapshot()
		for _, f := range snap.Resolved {
			if f.Code == live.CodeLeak {
				t.Fatalf("LEAK resolved %v after the big stream's FIN: %s", at.Sub(bigFIN), f.Why)
			}
		}
		ls := leaksOf(reg)
		if len(ls) != 1 || ls[0].ID != first.ID || ls[0].Stream != bigID {
			t.Fatalf("LEAKs %d %v after the big stream's FIN, want finding %d still open, of stream %d: %s", len(ls), at.Sub(bigFIN), first.ID, bigID, describeLeaks(ls))
		}
		t.Logf("%v after the big stream's FIN: %s", at.Sub(bigFIN), ls[0].Text)
	}
}

// TestLeakV1DrainFromDataReal: the drain LEAK allows an smux v1 reader
// counts from when its bytes came, not from the FIN, on real v1 sessions
// (--leak-after 1 s, keepalive off, the client's conn tapped): a reader
// cannot still be reading what it could have read before. A tunnel: the
// server writes 3 MiB, then 2 s later closes its stream, which the client
// read at once and never closes. An upload: the client writes 3 MiB, then
// 2 s later closes its stream; the server reads it, answers with a small
// reply after the client's FIN and never closes. Each LEAK is due when a
// reader at V1DrainRate would have read the 3 MiB, from when they came:
// 46 s after the FIN. Before, 48 s after the FIN, whenever the bytes came
// (with the FIN minutes after them, a minute more).
func TestLeakV1DrainFromDataReal(t *testing.T) {
	t.Parallel() // real sessions of its own, mostly waiting
	if testing.Short() {
		t.Skip("real sessions")
	}
	const size, gap = 3 << 20, 2 * time.Second
	stream := func(reg *live.Registry, sid uint32) (ss live.StreamSnap) {
		for _, s := range reg.Snapshot().Sessions {
			for _, x := range s.Streams {
				if x.ID == sid {
					ss = x
				}
			}
		}
		return ss
	}
	t.Run("tunnel", func(t *testing.T) {
		t.Parallel()
		reg := live.New(live.Config{})
		m := livecaptest.RealPair(t, "smux-v1", reg, livecaptest.PairConfig{})
		wrote := make(chan time.Time, 1)
		go func() {
			st, err := m.Srv.AcceptStream()
			if err != nil {
				return
			}
			if _, err := bufio.NewReader(st).ReadString('\n'); err == nil {
				wrote <- time.Now()
				io.Copy(st, io.LimitReader(zeros{}, size))
				time.Sleep(gap)
			}
			st.Close()
		}()
		st, err := m.Cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(st, "CONNECT\n")
		if n, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatalf("tunnel: %d bytes, %v", n, err)
		}
		read := time.Now() // the tap recorded every byte before the client read it
		sid := smuxtest.StreamID(st)
		smuxtest.Eventually(t, "the server's FIN recorded", func() bool { return stream(reg, sid).State == live.HalfClosedByServer })
		fin := stream(reg, sid).Last
		if hi := read.Add(v1Drain(size)); !hi.Before(fin.Add(v1Drain(size) - gap/2)) {
			t.Fatalf("the bytes came %v before the FIN, want %v", fin.Sub(read), gap)
		}
		wantLeakIn(t, reg, sid, live.ClientToServer, fin, (<-wrote).Add(v1Drain(size)), read.Add(v1Drain(size)))
	})
	t.Run("upload", func(t *testing.T) {
		t.Parallel()
		reg := live.New(live.Config{})
		m := livecaptest.RealPair(t, "smux-v1", reg, livecaptest.PairConfig{})
		go func() {
			st, err := m.Srv.AcceptStream()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, st); err == nil {
				io.WriteString(st, "OK\n") // after the client's FIN; never closed
			}
		}()
		st, err := m.Cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := io.Copy(st, io.LimitReader(zeros{}, size)); err != nil {
			t.Fatal(err)
		}
		end := time.Now() // the tap recorded every frame as the client wrote it
		time.Sleep(gap)
		st.Close()
		sid := smuxtest.StreamID(st)
		smuxtest.Eventually(t, "the server's reply after the client's FIN recorded", func() bool {
			ss := stream(reg, sid)
			return ss.State == live.HalfClosedByClient && ss.Bytes[live.ServerToClient] == 3
		})
		wantLeakIn(t, reg, sid, live.ServerToClient, stream(reg, sid).Last, start.Add(v1Drain(size)), end.Add(v1Drain(size)))
	})
}
