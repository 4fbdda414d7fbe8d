package pcapout_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// serveLive serves lc on loopback; the server closes, after lc, when the
// test ends.
func serveLive(t *testing.T, lc *pcapout.Live) string {
	t.Helper()
	srv := httptest.NewServer(lc) // 127.0.0.1
	t.Cleanup(func() { lc.Close(); srv.Close() })
	return srv.URL + "/debug/muxtop/capture"
}

// viewers waits until lc has n viewers.
func viewers(t *testing.T, lc *pcapout.Live, n int) {
	t.Helper()
	smuxtest.Eventually(t, fmt.Sprintf("%d viewers", n), func() bool { return lc.Viewers() == n })
}

// syns returns, by either end's port, whether the connection's packets
// in the pcapng capture raw hold a SYN: every test session has ports of
// its own.
func syns(t *testing.T, raw []byte) map[uint16]bool {
	t.Helper()
	m := map[uint16]bool{}
	for _, p := range pcaptest.Read(t, bytes.NewReader(raw)) {
		for _, port := range []uint16{uint16(p.TCP.SrcPort), uint16(p.TCP.DstPort)} {
			m[port] = m[port] || p.TCP.SYN
		}
	}
	return m
}

// TestLiveRealSessions: a real smux v1, v2 and yamux session, tapped at
// its client with tap.Record(live), carries stream A and two streams
// closed before a viewer comes; then A carries three more round trips,
// five new streams come and go, and a second session opens and carries
// four. The viewer, reading the stream as muxtop read does, counts
// exactly the frames the tap counted after it joined, by command (type)
// and direction, with no violation, anomaly or byte skipped or lost: the
// first session joined mid-way (no SYN in the stream; incomplete, as
// any session a capture joins), A adopted as joined, the streams opened
// later not; the second session from its handshake. Nothing is dropped and no goroutine is left.
func TestLiveRealSessions(t *testing.T) {
	for _, m := range livecaptest.Muxes() {
		t.Run(m.Name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			lc := pcapout.NewLive()
			url := serveLive(t, lc)
			reg := live.New(live.Config{})
			cli := livecaptest.Tapped(t, m, reg, lc)
			a, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			aid := smuxtest.StreamID(a)
			livecaptest.RoundTrip(t, a, "before-the-viewer")
			livecaptest.Streams(t, cli, 2, "closed-before")
			before := livecaptest.Settle(t, reg, 1)

			v := livecaptest.View(t, url)
			viewers(t, lc, 1)
			for i := range 3 {
				livecaptest.RoundTrip(t, a, fmt.Sprintf("after-the-viewer-%d", i))
			}
			livecaptest.Streams(t, cli, 5, "new-stream")
			cli2 := livecaptest.Tapped(t, m, reg, lc) // opened while watched
			livecaptest.Streams(t, cli2, 4, "second-session")
			after := livecaptest.Settle(t, reg, 1)
			lc.Close()
			v.Wait(t)

			want := livecaptest.Delta(after.Totals, before.Totals)
			snap := v.Reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
			if snap.Totals != want {
				t.Errorf("the viewer counted %d frames:\n%+v\nthe tap counted %d after it joined:\n%+v",
					snap.Totals.Total(), snap.Totals, want.Total(), want)
			}
			if snap.Violations != 0 || snap.Anomalies != 0 || snap.Lost != [2]int64{} || snap.Skipped != [2]int64{} {
				t.Errorf("violations %d, anomalies %d, lost %v, skipped %v; want none",
					snap.Violations, snap.Anomalies, snap.Lost, snap.Skipped)
			}
			if len(snap.Sessions) != 2 {
				t.Fatalf("%d sessions, want the joined one and the new one", len(snap.Sessions))
			}
			port := func(ss *live.SessionSnap) uint16 {
				ap, err := netAddrPort(ss.Info.Client)
				if err != nil {
					t.Fatal(err)
				}
				return ap
			}
			s1, s2 := snap.Sessions[0], snap.Sessions[1]
			// Joined, the first session's counts are what was seen, as of
			// any capture begun while a connection was open.
			if !s1.Incomplete || s2.Incomplete {
				t.Errorf("incomplete: joined session %v, new session %v; want the joined one only", s1.Incomplete, s2.Incomplete)
			}
			hasSYN := syns(t, v.Raw.Bytes())
			if hasSYN[port(s1)] || !hasSYN[port(s2)] {
				t.Errorf("SYNs by client port %v: want none for the joined session %s, one for the new %s", hasSYN, s1.Info.Client, s2.Info.Client)
			}
			var joined, fresh int
			for _, st := range s1.Streams {
				j := st.Head[0].Joined || st.Head[1].Joined
				switch {
				case st.ID == aid && j:
					joined++
				case st.ID != aid && !j:
					fresh++
				default:
					t.Errorf("session 1's stream %d: joined %v", st.ID, j)
				}
			}
			if joined != 1 || fresh != 5 {
				t.Errorf("session 1: A joined %d, %d streams seen open; want A joined, 5 seen open", joined, fresh)
			}
			for _, st := range s2.Streams {
				if st.Head[0].Joined || st.Head[1].Joined {
					t.Errorf("session 2's stream %d is joined: its handshake was in the capture", st.ID)
				}
			}
			if s2.Total != 4 {
				t.Errorf("session 2: %d streams, want 4", s2.Total)
			}
			if n := lc.Dropped(); n != 0 {
				t.Errorf("%d bytes dropped for a viewer that read", n)
			}
		})
	}
}

// netAddrPort returns the port of an address "127.0.0.1:1234".
func netAddrPort(s string) (uint16, error) {
	_, p, err := net.SplitHostPort(s)
	if err != nil {
		return 0, err
	}
	var n uint16
	_, err = fmt.Sscan(p, &n)
	return n, err
}

// TestLiveTwoViewers: two viewers at once, the second coming later, each
// counts exactly what the tap counted after it joined: the first both
// rounds of traffic, the second the last.
func TestLiveTwoViewers(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	m := livecaptest.Muxes()[1] // smux v2
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)
	livecaptest.Streams(t, cli, 1, "before")
	s0 := livecaptest.Settle(t, reg, 0)

	v1 := livecaptest.View(t, url)
	viewers(t, lc, 1)
	livecaptest.Streams(t, cli, 3, "first-round")
	s1 := livecaptest.Settle(t, reg, 0)

	v2 := livecaptest.View(t, url)
	viewers(t, lc, 2)
	livecaptest.Streams(t, cli, 4, "second-round")
	s2 := livecaptest.Settle(t, reg, 0)
	lc.Close()
	v1.Wait(t)
	v2.Wait(t)

	for i, c := range []struct {
		v      *livecaptest.Viewer
		from   *live.Snapshot
		stream uint64
	}{{v1, s0, 7}, {v2, s1, 4}} {
		want := livecaptest.Delta(s2.Totals, c.from.Totals)
		snap := c.v.Reg.Snapshot()
		if snap.Totals != want || snap.StreamsTotal != c.stream || snap.Violations != 0 || snap.Lost != [2]int64{} {
			t.Errorf("viewer %d: %d frames, %d streams, %d violations, lost %v; the tap counted %d frames, %d streams after it joined",
				i+1, snap.Totals.Total(), snap.StreamsTotal, snap.Violations, snap.Lost, want.Total(), c.stream)
		}
	}
}

// stuckViewer GETs the capture over a raw connection and never reads
// its answer: a viewer whose terminal froze.
func stuckViewer(t *testing.T, url string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	host, path, _ := strings.Cut(host, "/")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		t.Fatal(err)
	}
	return c
}

// bulk sends n chunks of size bytes on a new stream of cli and reads
// their echo, the reads beside the writes; it fails t if the traffic
// stops moving, neither a chunk written nor a byte read for a minute (the
// session stalled), with every goroutine's stack. Not a bound on the
// whole: a loaded machine (CI's race run, another package's tests
// beside it) took more than a minute for the 8 MB of a run that moved
// all along ("did not end within a minute").
func bulk(t *testing.T, cli smuxtest.Session, n, size int) {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var moved atomic.Int64 // chunks written and bytes read
	read := make(chan error, 1)
	go func() {
		_, err := io.CopyN(countingDiscard{&moved}, st, int64(n*size))
		read <- err
	}()
	chunk := bytes.Repeat([]byte("x"), size)
	wrote := make(chan error, 1)
	go func() {
		for range n {
			if _, err := st.Write(chunk); err != nil {
				wrote <- err
				return
			}
			moved.Add(1)
		}
		wrote <- nil
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := moved.Load(), time.Now()
	for done := 0; done < 2; {
		select {
		case err := <-read:
			if err != nil {
				t.Fatal(err)
			}
			done++
		case err := <-wrote:
			if err != nil {
				t.Fatal(err)
			}
			done++
		case now := <-tick.C:
			if m := moved.Load(); m != last {
				last, since = m, now
			} else if now.Sub(since) >= time.Minute {
				buf := make([]byte, 1<<20)
				t.Fatalf("the tapped session stalled: its traffic did not move for a minute:\n%s", buf[:runtime.Stack(buf, true)])
			}
		}
	}
}

// countingDiscard discards what is written to it, adding its length to n.
type countingDiscard struct{ n *atomic.Int64 }

func (c countingDiscard) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestLiveStuckViewerNeverBlocks: a viewer that stops reading does not
// slow the tapped session: 40 000 chunks pass both ways while its queue
// fills, what it could not take is counted dropped, and a viewer that
// reads, beside it, still gets a capture that decodes. Once the stuck
// viewer's connection closes it is gone, and a viewer that comes then
// counts exactly the traffic after it joined.
func TestLiveStuckViewerNeverBlocks(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	m := livecaptest.Muxes()[1] // smux v2
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)

	stuck := stuckViewer(t, url)
	viewers(t, lc, 1)
	reading := livecaptest.View(t, url)
	viewers(t, lc, 2)
	bulk(t, cli, 40_000, 200)
	if lc.Dropped() == 0 {
		t.Fatal("nothing dropped though a viewer never read")
	}
	t.Logf("dropped %d bytes", lc.Dropped())
	stuck.Close()
	viewers(t, lc, 1)
	reading.Leave()
	viewers(t, lc, 0)

	before := livecaptest.Settle(t, reg, 0)
	v := livecaptest.View(t, url)
	viewers(t, lc, 1)
	livecaptest.Streams(t, cli, 3, "after")
	after := livecaptest.Settle(t, reg, 0)
	lc.Close()
	v.Wait(t)
	if snap, want := v.Reg.Snapshot(), livecaptest.Delta(after.Totals, before.Totals); snap.Totals != want || snap.Violations != 0 {
		t.Errorf("the viewer after: %d frames, %d violations; want the tap's %d, none", snap.Totals.Total(), snap.Violations, want.Total())
	}
}

// TestLiveCloseEndsEveryStream: Close ends the stream of a viewer that
// reads (a capture that ends whole: its reader sees the end, no error)
// and of one stuck, its writer blocked on a full socket, and returns; a
// GET after it is refused with 503. HEAD answers the stream's type and
// is no viewer; another method is refused with 405.
func TestLiveCloseEndsEveryStream(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	m := livecaptest.Muxes()[1]
	lc := pcapout.NewLive()
	url := serveLive(t, lc)

	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-pcapng" || lc.Viewers() != 0 {
		t.Errorf("HEAD: %s, %s, %d viewers; want 200, application/x-pcapng, none", resp.Status, resp.Header.Get("Content-Type"), lc.Viewers())
	}
	resp, err = http.Post(url, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s, want 405", resp.Status)
	}

	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)
	stuckViewer(t, url)
	viewers(t, lc, 1)
	v := livecaptest.View(t, url)
	viewers(t, lc, 2)
	bulk(t, cli, 40_000, 200) // until the stuck viewer's writer blocks
	if lc.Dropped() == 0 {
		t.Fatal("nothing dropped: the stuck viewer's writer may not be blocked")
	}
	closed := make(chan struct{})
	go func() {
		lc.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return 30 s after it was called, a viewer stuck")
	}
	v.Wait(t) // its capture ended whole: no error
	if n := lc.Viewers(); n != 0 {
		t.Errorf("%d viewers after Close", n)
	}
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET after Close: %s, want 503", resp.Status)
	}
	http.DefaultClient.CloseIdleConnections()
	livecaptest.Streams(t, cli, 2, "after-close") // the taps go on
}

// TestLiveViewerLeavesNothing: a viewer that goes away while the tapped
// session runs is dropped from every connection: no goroutine of its
// stream is left, and the session goes on.
func TestLiveViewerLeavesNothing(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	m := livecaptest.Muxes()[2] // yamux
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)
	livecaptest.Streams(t, cli, 1, "before")
	livecaptest.Settle(t, reg, 0)
	base := runtime.NumGoroutine()

	v := livecaptest.View(t, url)
	viewers(t, lc, 1)
	livecaptest.Streams(t, cli, 3, "watched")
	v.Leave()
	viewers(t, lc, 0)
	livecaptest.Streams(t, cli, 3, "after")
	smuxtest.NoGoroutinesAbove(t, base)
}
