package pcapout_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// logging is a logging middleware's ResponseWriter as many are written:
// it keeps the status and has neither Flush nor Unwrap.
type logging struct {
	http.ResponseWriter
	status int
}

func (l *logging) WriteHeader(s int) { l.status = s; l.ResponseWriter.WriteHeader(s) }

// unwrapping is the same with Unwrap, through which
// http.ResponseController reaches the server's own ResponseWriter.
type unwrapping struct{ logging }

func (u *unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestLiveRefusesWriterThatCannotFlush: behind a middleware whose
// ResponseWriter can neither flush nor take a write deadline, a GET is
// refused at once with a 500 that says why and what to do, rather than
// buffered silently, and Close, with a stuck viewer behind it and bulk
// traffic, returns within seconds, not after the stuck viewer. Behind one with Unwrap, a viewer is served
// live and counts what the tap counts.
func TestLiveRefusesWriterThatCannotFlush(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	m := livecaptest.Muxes()[1]
	lc := pcapout.NewLive()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/unwrap") {
			lc.ServeHTTP(&unwrapping{logging{ResponseWriter: w}}, r)
			return
		}
		lc.ServeHTTP(&logging{ResponseWriter: w}, r)
	}))
	t.Cleanup(func() { lc.Close(); srv.Close() })
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(srv.URL + "/debug/muxtop/capture")
	if err != nil {
		t.Fatalf("GET behind a middleware that cannot flush: %v; want a 500 at once", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "Unwrap") || strings.Count(strings.TrimSpace(string(body)), "\n") != 0 {
		t.Errorf("GET behind a middleware that cannot flush: %s %q; want 500 and one line naming Unwrap", resp.Status, body)
	}

	stuckViewer(t, srv.URL+"/debug/muxtop/capture")
	time.Sleep(100 * time.Millisecond)
	bulk(t, cli, 20_000, 200)
	closed := make(chan struct{})
	go func() {
		lc.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return 5 s after it was called: a viewer behind the middleware held it")
	}

	lc2 := pcapout.NewLive()
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lc2.ServeHTTP(&unwrapping{logging{ResponseWriter: w}}, r)
	}))
	t.Cleanup(func() { lc2.Close(); srv2.Close() })
	cli2 := livecaptest.Tapped(t, m, reg, lc2)
	before := livecaptest.Settle(t, reg, 0)
	v := livecaptest.View(t, srv2.URL)
	viewers(t, lc2, 1)
	livecaptest.Streams(t, cli2, 3, "through-unwrap")
	after := livecaptest.Settle(t, reg, 0)
	lc2.Close()
	v.Wait(t)
	if snap, want := v.Reg.Snapshot(), livecaptest.Delta(after.Totals, before.Totals); snap.Totals != want {
		t.Errorf("behind Unwrap: the viewer counted %d frames, the tap %d", snap.Totals.Total(), want.Total())
	}
}

// closedUnread dials ln n times, taps each conn with rec, and closes it
// having never read it: half of them after a write of a v1 NOP, half at
// once (a pool's or a health check's dial).
func closedUnread(t *testing.T, ln net.Listener, reg *live.Registry, rec tap.Recorder, n int) {
	t.Helper()
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tc := tap.Wrap(c, live.Client, reg, "raw", tap.Record(rec))
		if i%2 == 0 {
			if _, err := tc.Write([]byte{1, 3, 0, 0, 0, 0, 0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		tc.Close()
	}
}

// drain accepts conns on a new loopback listener and reads each to its
// end.
func drain(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln
}

// TestLiveTapClosedConnsForgotten: 200 tapped conns the program closes
// having never read them are forgotten by the Live (they do not stay in
// the connections a viewer joins), and a viewer's read of them sees each
// session end, as the tap's registry does: none left live.
func TestLiveTapClosedConnsForgotten(t *testing.T) {
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	v := livecaptest.View(t, url)
	viewers(t, lc, 1)
	reg := live.New(live.Config{})
	ln := drain(t)
	closedUnread(t, ln, reg, lc, 200)
	deadline := time.Now().Add(3 * time.Second)
	for pcapout.LiveConns(lc) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := pcapout.LiveConns(lc); n != 0 {
		t.Errorf("%d of 200 conns the program closed are still held open by the Live", n)
	}
	if n := reg.Snapshot().LiveSessions; n != 0 {
		t.Fatalf("the tap's registry holds %d live sessions", n)
	}
	lc.Close()
	v.Wait(t)
	snap := v.Reg.Snapshot()
	if len(snap.Sessions) == 0 {
		t.Fatal("the viewer decoded no session")
	}
	if snap.LiveSessions != 0 {
		t.Errorf("the viewer's read holds %d of %d sessions live (half-closed) that the tap ended", snap.LiveSessions, len(snap.Sessions))
	}
}

// TestWriterTapClosedConnsEnd: the same into a file Writer: read of the
// file sees every session end.
func TestWriterTapClosedConnsEnd(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	closedUnread(t, drain(t), reg, w, 20)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	read, _ := pcaptest.ReadAll(t, bytes.NewReader(buf.Bytes()), capture.Config{})
	snap := read.Snapshot()
	if len(snap.Sessions) == 0 || snap.LiveSessions != 0 {
		t.Errorf("read of the file: %d sessions, %d live; want every one ended, as the tap's", len(snap.Sessions), snap.LiveSessions)
	}
}

// bothEnds runs n smux sessions over loopback TCP, each tapped at both
// ends into reg and rec, with three streams each, then closes them and
// waits for the tap's counts to settle.
func bothEnds(t *testing.T, reg *live.Registry, rec tap.Recorder, n int) *live.Snapshot {
	t.Helper()
	m := livecaptest.Muxes()[1]
	for range n {
		cc, sc := smuxtest.Conns(t)
		srvc := make(chan smuxtest.Session, 1)
		go func() {
			s, err := m.M.Server(tap.Wrap(sc, live.Server, reg, "server", tap.Record(rec)))
			if err != nil {
				panic(err)
			}
			srvc <- s
		}()
		cli, err := m.M.Client(tap.Wrap(cc, live.Client, reg, "client", tap.Record(rec)))
		if err != nil {
			t.Fatal(err)
		}
		srv := <-srvc
		go func() {
			for {
				s, err := srv.AcceptStream()
				if err != nil {
					return
				}
				go func() { io.Copy(s, s); s.Close() }()
			}
		}()
		livecaptest.Streams(t, cli, 3, "both-ends")
		livecaptest.Settle(t, reg, 0)
		cli.Close()
		srv.Close()
	}
	smuxtest.Eventually(t, "every tapped session to end", func() bool { return reg.Snapshot().LiveSessions == 0 })
	return livecaptest.Settle(t, reg, 0)
}

// checkBothEnds checks read's registry of a capture of sessions tapped
// at both ends against the tap's: a session per tapped end, the same
// frames, nothing lost, skipped or violated.
func checkBothEnds(t *testing.T, got *live.Snapshot, tapped *live.Snapshot) {
	t.Helper()
	if len(got.Sessions) != len(tapped.Sessions) || got.Totals != tapped.Totals || got.Violations != 0 || got.Anomalies != 0 || got.Lost != [2]int64{} || got.Skipped != [2]int64{} {
		t.Errorf("read: %d sessions, %d frames, %d violations %v, %d anomalies, lost %v, skipped %v; the tap recorded %d sessions, %d frames",
			len(got.Sessions), got.Totals.Total(), got.Violations, got.ViolationsBy, got.Anomalies, got.Lost, got.Skipped,
			len(tapped.Sessions), tapped.Totals.Total())
	}
}

// TestBothEndsTappedLive: two smux sessions, each tapped at both ends in
// one process into one Live: a viewer's read sees four sessions, with
// exactly the tap's counts, no loss and no violation.
func TestBothEndsTappedLive(t *testing.T) {
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	v := livecaptest.View(t, url)
	viewers(t, lc, 1)
	reg := live.New(live.Config{})
	tapped := bothEnds(t, reg, lc, 2)
	lc.Close()
	v.Wait(t)
	checkBothEnds(t, v.Reg.Snapshot(), tapped)
}

// TestBothEndsTappedFile: the same into one file Writer.
func TestBothEndsTappedFile(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	tapped := bothEnds(t, reg, w, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	read, _ := pcaptest.ReadAll(t, bytes.NewReader(buf.Bytes()), capture.Config{})
	checkBothEnds(t, read.Snapshot(), tapped)
}

// TestLiveViewersCapped: with the default cap, the viewer over it is
// refused with a 503 that says why, in one line.
func TestLiveViewersCapped(t *testing.T) {
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	for i := range 4 {
		stuckViewer(t, url)
		viewers(t, lc, i+1)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "viewers") || strings.Count(strings.TrimSpace(string(body)), "\n") != 0 {
		t.Errorf("a fifth viewer: %s %q; want 503 saying there are too many viewers", resp.Status, body)
	}
	if n := lc.Viewers(); n != 4 {
		t.Errorf("%d viewers, want 4", n)
	}
}

// TestLiveStalledViewerBounded: a viewer that stopped reading holds at
// most LiveQueueBytes of queued payload, however much passes (the count
// may pass it by a write's bytes for an instant, as a Write that finds no
// room takes them back, before it copies them).
func TestLiveStalledViewerBounded(t *testing.T) {
	const bound = pcapout.LiveQueueBytes + 128<<10
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, livecaptest.Muxes()[1], reg, lc)
	stuckViewer(t, url)
	viewers(t, lc, 1)
	var most atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, q := range pcapout.LiveQueued(lc) {
				if q > most.Load() {
					most.Store(q)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	bulk(t, cli, 20_000, 1000)
	close(stop)
	wg.Wait()
	if most.Load() > bound {
		t.Errorf("a stalled viewer's queue held %d bytes, want at most %d", most.Load(), bound)
	}
	if lc.Dropped() == 0 {
		t.Error("nothing dropped for a viewer that never read")
	}
}

// TestWriteFullQueueNoCopy: a Write that finds the queue full allocates
// and copies nothing: the bytes dropped cost no memory.
func TestWriteFullQueueNoCopy(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	// Filling New's 64 MiB queue copied 64 MiB first (15 s of CI's race
	// run), and a full queue is full whatever its bound: 1 MiB. One writer
	// only: a second, left running, would leak its goroutine.
	newWriter := func() (*pcapout.Writer, error) { return pcapout.New(g, 0) }
	if racetest.Enabled {
		newWriter = func() (*pcapout.Writer, error) { return pcapout.NewQueued(g, 1<<20) }
	}
	w, err := newWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(g.open); w.Close() }()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	p := make([]byte, 64<<10)
	for w.Dropped() == 0 {
		c.Write(live.ClientToServer, at, p)
	}
	if n := testing.AllocsPerRun(50, func() { c.Write(live.ClientToServer, at, p) }); n != 0 {
		t.Errorf("a Write into a full queue: %v allocations, want none", n)
	}
}

// TestLiveDroppedMonotonic: Dropped never goes back, as a viewer that
// dropped bytes leaves (here at Close, which gives it a second).
func TestLiveDroppedMonotonic(t *testing.T) {
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, livecaptest.Muxes()[1], reg, lc)
	stuckViewer(t, url)
	viewers(t, lc, 1)
	bulk(t, cli, 20_000, 1000) // until its writer blocks on the full socket
	if lc.Dropped() == 0 {
		t.Fatal("nothing dropped")
	}
	stop := make(chan struct{})
	back := make(chan [2]int64, 1)
	last := lc.Dropped()
	go func() {
		defer close(back)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := lc.Dropped()
			if n < last {
				back <- [2]int64{last, n}
				return
			}
			last = n
		}
	}()
	time.Sleep(50 * time.Millisecond) // the poller polls
	start := time.Now()
	lc.Close()
	t.Logf("Close took %v", time.Since(start))
	close(stop)
	if b, ok := <-back; ok {
		t.Errorf("Dropped went back from %d to %d as the viewer left", b[0], b[1])
	}
}
