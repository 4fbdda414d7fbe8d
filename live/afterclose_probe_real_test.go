package live_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// probeAttach returns a client conn through an attach proxy to an upstream
// whose accepted conn is sc, and the proxy's registry.
func probeAttach(t *testing.T) (cli, sc net.Conn, reg *live.Registry) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	reg = live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.Addr().String(), Registry: reg})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); p.Wait() })
	cli, err = net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err = up.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); sc.Close() })
	return cli, sc, reg
}

// lateAfterCaughtUp: a push read as it comes, the client caught up; its FIN; 300 ms
// later the server writes late frames (in one Write): the fault.
func lateAfterCaughtUp(t *testing.T, ver byte, cli, sc net.Conn, reg *live.Registry, late int) string {
	cfg := live.FindingsConfig{Churn: -1}
	line := pushCaughtUp(t, ver, cli, sc)
	done := make(chan error, 1)
	go func() { done <- readRawFrames(cli, late) }() // caught up, waiting
	writeRaw(t, cli, smuxRawFrame(ver, 1, 3, nil))
	time.Sleep(300 * time.Millisecond)
	reg.Evaluate(time.Now(), cfg)
	var b []byte
	for range late {
		b = append(b, smuxRawFrame(ver, 2, 3, line)...)
	}
	writeRaw(t, sc, b) // the fault: written 300 ms after the FIN, in one write
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // attach: let the proxy's records land
	reg.Evaluate(time.Now().Add(time.Second), cfg)
	return codes(reg)
}

// TestAfterCloseLateBurstCaughtUpAttach: through attach, a push read as it
// comes, the client caught up; its FIN; 300 ms later the server writes 1
// or 3 frames in one Write: DATA_AFTER_CLOSE. The first cut of the
// arrival probes lost it (a review's scratch test: "attach v1: 1 frame(s)
// written 300 ms after the FIN to a caught-up reader: "", want
// DATA_AFTER_CLOSE"): attach's copy loop waits in a Read of up to 2 KiB,
// which no probe could show had not taken the late frame's bytes. A frame
// stamped late now counts unless a probe shows it had come by the window.
func TestAfterCloseLateBurstCaughtUpAttach(t *testing.T) {
	for _, ver := range []byte{1, 2} {
		for _, late := range []int{1, 3} {
			cli, sc, reg := probeAttach(t)
			got := lateAfterCaughtUp(t, ver, cli, sc, reg, late)
			if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
				t.Errorf("attach v%d: %d frame(s) written 300 ms after the FIN to a caught-up reader: %q, want DATA_AFTER_CLOSE:%s", ver, late, got, probeDesc(reg))
			}
		}
	}
}

// TestAfterCloseLateBurstCaughtUpTap is its twin at a tapped end.
func TestAfterCloseLateBurstCaughtUpTap(t *testing.T) {
	for _, ver := range []byte{1, 2} {
		for _, late := range []int{1, 3} {
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			cli := tap.Wrap(cc, live.Client, reg, "cli")
			got := lateAfterCaughtUp(t, ver, cli, sc, reg, late)
			if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
				t.Errorf("tap v%d: %d frame(s) written 300 ms after the FIN to a caught-up reader: %q, want DATA_AFTER_CLOSE", ver, late, got)
			}
			cc.Close()
			sc.Close()
		}
	}
}

// attachedSmux returns real smux v ver client and server sessions through
// an attach proxy (probeAttach), and the proxy's registry.
func attachedSmux(t *testing.T, ver int) (*live.Registry, *smux.Session, *smux.Session) {
	t.Helper()
	cc, sc, reg := probeAttach(t)
	cli, err := smux.Client(cc, smuxtest.Config(ver))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, smuxtest.Config(ver))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cli, srv
}

// probeDesc lists reg's records, for a failure's message.
func probeDesc(reg *live.Registry) string {
	var b strings.Builder
	for _, r := range allRecords(reg) {
		b.WriteString("\n  " + r.Kind.String() + " " + r.Dir.String() + " " + r.At.Format("05.000") + " " + r.Header.String())
	}
	return b.String()
}

// ignoresEOF: real smux sessions cli, srv; the server's writer
// pushes 256 B every 5 ms; the client reads 100 ms of it, then Closes the
// stream (FIN); the server's writer ignores the FIN (its Reads' io.EOF)
// and writes on for 1.5 s. The client's recvLoop is caught up throughout.
func ignoresEOF(t *testing.T, reg *live.Registry, cli, srv *smux.Session) string {
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		b := make([]byte, 256)
		st.Read(b) // the request
		start := time.Now()
		for time.Since(start) < 1800*time.Millisecond {
			st.Write(b) // ignores io.EOF: writes on
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return tailThenClose(t, reg, cli, 1800*time.Millisecond)
}

// tailThenClose is the client of ignoresEOF and trailerAfterEOF: it opens
// a stream, asks for a tail, reads what comes for 100 ms and closes the
// stream (its FIN), evaluating reg every 50 ms for evalFor after it, and
// once more a second later (past v2's wait for a UPD); it returns reg's
// finding codes.
func tailThenClose(t *testing.T, reg *live.Registry, cli *smux.Session, evalFor time.Duration) string {
	t.Helper()
	cfg := live.FindingsConfig{Churn: -1}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("TAIL /var/log/app\n"))
	b := make([]byte, 4096)
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := st.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	stop := time.Now().Add(evalFor)
	for time.Now().Before(stop) {
		reg.Evaluate(time.Now(), cfg)
		time.Sleep(50 * time.Millisecond)
	}
	reg.Evaluate(time.Now().Add(time.Second), cfg)
	return codes(reg)
}

// TestAfterCloseIgnoresEOFRealTap: a real smux writer that ignores its
// Read's io.EOF and streams on after the client's Close: DATA_AFTER_CLOSE
// at the client's tap, v1 and v2.
func TestAfterCloseIgnoresEOFRealTap(t *testing.T) {
	for _, ver := range []int{1, 2} {
		reg := live.New(live.Config{})
		cli, srv := smuxtest.Pair(t, smuxtest.Config(ver), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") }, nil)
		got := ignoresEOF(t, reg, cli, srv)
		t.Logf("tap v%d: %q", ver, got)
		if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
			t.Errorf("tap v%d: writer ignores io.EOF, streams 1.7 s past the FIN: %q, want DATA_AFTER_CLOSE", ver, got)
		}
	}
}

// TestAfterCloseIgnoresEOFRealAttach is its twin through attach.
func TestAfterCloseIgnoresEOFRealAttach(t *testing.T) {
	for _, ver := range []int{1, 2} {
		reg, cli, srv := attachedSmux(t, ver)
		got := ignoresEOF(t, reg, cli, srv)
		t.Logf("attach v%d: %q", ver, got)
		if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
			t.Errorf("attach v%d: writer ignores io.EOF, streams 1.7 s past the FIN: %q, want DATA_AFTER_CLOSE", ver, got)
		}
		cli.Close()
		srv.Close()
	}
}

// trailerAfterEOF: the server streams 256 B every 5 ms until its Read of
// the stream returns io.EOF (the client's Close), then, 400 ms later,
// writes one trailer of 100 B: written after the FIN's window, to a
// client whose recvLoop waits, caught up.
func trailerAfterEOF(t *testing.T, reg *live.Registry, cli, srv *smux.Session) string {
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		b := make([]byte, 256)
		st.Read(b) // the request
		eof := make(chan struct{})
		go func() { io.Copy(io.Discard, st); close(eof) }()
		for {
			select {
			case <-eof:
				time.Sleep(400 * time.Millisecond)
				st.Write(make([]byte, 100)) // the fault: after the FIN's window
				return
			default:
			}
			st.Write(b)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return tailThenClose(t, reg, cli, 1200*time.Millisecond)
}

// TestAfterCloseTrailerRealSmux: a real smux server streams until its
// Read returns io.EOF, then writes a trailer 400 ms later: DATA_AFTER_CLOSE
// at a tap and through attach (the first cut of the probes: attach "").
func TestAfterCloseTrailerRealSmux(t *testing.T) {
	for _, ver := range []int{1, 2} {
		reg := live.New(live.Config{})
		cli, srv := smuxtest.Pair(t, smuxtest.Config(ver), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") }, nil)
		got := trailerAfterEOF(t, reg, cli, srv)
		t.Logf("tap v%d: %q", ver, got)
		if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
			t.Errorf("tap v%d: a trailer written 400 ms after the FIN: %q, want DATA_AFTER_CLOSE", ver, got)
		}
		cli.Close()
		srv.Close()
	}
	for _, ver := range []int{1, 2} {
		reg, cli, srv := attachedSmux(t, ver)
		got := trailerAfterEOF(t, reg, cli, srv)
		t.Logf("attach v%d: %q", ver, got)
		if !strings.Contains(got, "+"+live.CodeDataAfterClose.String()) {
			t.Errorf("attach v%d: a trailer written 400 ms after the FIN: %q, want DATA_AFTER_CLOSE", ver, got)
		}
		cli.Close()
		srv.Close()
	}
}

// TestAfterCloseRunStreamingAfterFIN: the run becomes a stream only by a
// burst stamped before the FIN and recorded after it (a tap's reader
// records after its writer's FIN: TestDataAfterCloseInFlightRecordedOutOfOrder),
// so the FIN arms no probe; the writer writes again 2 s after the FIN.
func TestAfterCloseRunStreamingAfterFIN(t *testing.T) {
	for _, ver := range []uint8{1, 2} {
		for _, probe := range []bool{false, true} {
			cfg := live.FindingsConfig{Churn: -1}
			reg := live.New(live.Config{})
			sc := openSession(reg, ver)
			if probe {
				sc.s.SetArrivalProbe(s2c, func() (time.Time, int64, bool) { return time.Time{}, 0, false })
			}
			sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "TAIL"))
			sc.feedAt(sec(0.001), psh(s2c, 3, "line"))
			sc.feedAt(sec(0.005), psh(s2c, 3, "line"))
			sc.feedAt(sec(0.020), fin(c2s, 3))
			sc.feedAt(sec(0.015), psh(s2c, 3, "line")) // stamped before the FIN, recorded after
			sc.feedAt(sec(2.020), psh(s2c, 3, "late"), psh(s2c, 3, "late"))
			reg.Evaluate(sec(3.5), cfg)
			got := codes(reg)
			t.Logf("v%d probe set %v: %q", ver, probe, got)
			if !strings.Contains(got, "+DATA_AFTER_CLOSE") {
				t.Errorf("v%d probe set %v: frames written 2 s after the FIN: %q, want DATA_AFTER_CLOSE", ver, probe, got)
			}
		}
	}
}

// TestArrivalProbesDisarmWithoutEvaluations: a registry no one evaluates
// (a program embedding the tap for its snapshots or a recording, no
// diagnosis): a FIN on a streaming writer's stream arms the reader's
// probes, which the reader's Reads stop wanting once armFor has passed.
// In the first cut only an evaluation disarmed them, and every Read
// probed (a clock read, an ioctl and the session's lock, at most every
// ms) for good.
func TestArrivalProbesDisarmWithoutEvaluations(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	cli := tap.Wrap(cc, live.Client, reg, "cli")
	line := make([]byte, 512)
	buf := make([]byte, 8+len(line))
	cli.Write(smuxRawFrame(1, 0, 3, nil))
	cli.Write(smuxRawFrame(1, 2, 3, []byte("TAIL\n")))
	for range 20 {
		sc.Write(smuxRawFrame(1, 2, 3, line))
		io.ReadFull(cli, buf)
		time.Sleep(2 * time.Millisecond)
	}
	cli.Write(smuxRawFrame(1, 1, 3, nil))
	time.Sleep(3 * time.Second) // armFor is 1.25 s
	s := reg.Session(reg.Snapshot().Sessions[0].ID)
	if s.ArrivalWanted(live.ServerToClient) {
		t.Errorf("3 s after the FIN, no evaluation: the reader's probes are still armed")
	}
}
