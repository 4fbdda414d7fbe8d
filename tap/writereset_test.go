package tap_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestWriteResetRecorded: a peer that resets the connection (a close with
// SO_LINGER 0) while the tapped end only writes, so that the reset comes
// back through a failed Write (ECONNRESET, then EPIPE) and not a Read,
// ends the session reset, and the recording says so too: a RST from the
// peer, not a FIN from the tapped end, so that a read of the file ends the
// session reset as well, and tcpdump reads the file.
func TestWriteResetRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reset := make(chan struct{})
	go func() { // the peer: reads the stream's SYN, then resets
		defer close(reset)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Read(make([]byte, 8))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c, reg, w, path := recordedSYN(t, ln.Addr().String())
	<-reset
	// NOPs, as smux's keepalive writes them, until one meets the reset.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = c.Write([]byte{1, 3, 0, 0, 0, 0, 0, 0})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("the writes to the peer that reset ended with %v; want ECONNRESET or EPIPE", err)
	}
	c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 || snap.Sessions[0].Reason != live.Reset {
		t.Fatalf("the tap: %d sessions, want one ended reset", len(snap.Sessions))
	}

	rreg := readRecording(t, path)
	if got := rreg.Snapshot(); len(got.Sessions) != 1 || !got.Sessions[0].Ended || got.Sessions[0].Reason != live.Reset {
		for _, s := range got.Sessions {
			t.Logf("session %d: ended %v, %v %q", s.ID, s.Ended, s.Reason, s.Err)
		}
		t.Errorf("read of the recording: %d sessions; want one ended reset", len(got.Sessions))
	}
	// The write that met the reset sent nothing: the recording says so,
	// and a read of it takes those bytes back as the tap did.
	if a, r := snap.Unsent, rreg.Snapshot().Unsent; a[live.ClientToServer] == 0 || a != r {
		t.Errorf("unsent: the tap %v, read of the recording %v; want the same, not zero", a, r)
	}

	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("MUXTOP_REQUIRE_TCPDUMP") == "1" {
			t.Fatal("tcpdump is not installed and MUXTOP_REQUIRE_TCPDUMP=1")
		}
		t.Skip("tcpdump is not installed: the recording's packets are not checked")
	}
	msg, err := exec.Command(bin, "-nr", path).CombinedOutput()
	if err != nil || strings.Contains(string(msg), "truncated") {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	up := ln.Addr().(*net.TCPAddr)
	from := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s.%d > ", up.IP, up.Port)) + `.*Flags \[R`)
	if rst := strings.Count(string(msg), "Flags [R"); rst != 1 || !from.Match(msg) {
		t.Errorf("tcpdump -r shows %d RSTs, want one, from the peer %s:\n%s", rst, ln.Addr(), msg)
	}
}

// TestWriteAfterCloseWriteNoReset: a Write after the tapped end's own
// CloseWrite fails with EPIPE, which is no reset by the peer: the peer,
// still reading and open, sent no RST. The tap ends the session closed
// locally, by the tapped end, where it said reset; the recording keeps
// the tapped end's FIN and no RST, so that a read of it does not end the
// session reset by the peer.
func TestWriteAfterCloseWriteNoReset(t *testing.T) {
	addr, peerDone := readingPeer(t) // the peer: reads to EOF, then closes normally
	c, reg, w, path := recordedSYN(t, addr)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Write([]byte{1, 3, 0, 0, 0, 0, 0, 0}) // a NOP after the half-close
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("a Write after CloseWrite returned %v, want EPIPE", err)
	}
	if ss := reg.Snapshot().Sessions; len(ss) != 1 || !ss[0].Ended || ss[0].Reason != live.LocalClose || !strings.Contains(ss[0].Err, "CloseWrite") {
		for _, s := range ss {
			t.Logf("session %d: ended %v, %v %q", s.ID, s.Ended, s.Reason, s.Err)
		}
		t.Errorf("the tap: %d sessions; want one ended by a local close, a write after its own CloseWrite", len(ss))
	}
	<-peerDone
	c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rreg := readRecording(t, path)
	for _, s := range rreg.Snapshot().Sessions {
		if s.Reason == live.Reset {
			t.Errorf("read of the recording: session %d ended reset (%q), though the peer sent no RST", s.ID, s.Err)
		}
	}
}

// readRecording reads the capture at path as muxtop read does, with its
// times, and returns the registry it fills.
func readRecording(t *testing.T, path string) *live.Registry {
	t.Helper()
	reg, _ := pcaptest.ReadFile(t, path, capture.Config{})
	return reg
}

// recordedSYN dials addr, taps the conn as an smux v1 client recording
// into a --write file, and writes a SYN of stream 3 on it.
func recordedSYN(t *testing.T, addr string) (*tap.Conn, *live.Registry, *pcapout.Writer, string) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.pcapng")
	w, err := pcapout.Create(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	c := tap.Wrap(raw, live.Client, reg, "test", tap.Version(1), tap.WithProtocol(tap.Smux), tap.Record(w))
	if _, err := c.Write([]byte{1, 0, 0, 0, 3, 0, 0, 0}); err != nil { // SYN, stream 3
		t.Fatal(err)
	}
	return c, reg, w, path
}

// readingPeer listens on a loopback port until the test ends and
// returns its address and a channel closed once its peer, which accepts
// one connection and reads it to EOF (or an error), has closed it.
func readingPeer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String(), done
}

// TestFailedWriteFirstBytesTakenBack: a PSH whose Write fails (its
// deadline has passed: nothing of it is sent) never went on the wire: the
// tap takes it back, and the stream's first bytes do not show it. Before,
// the stream's first client bytes were "SECRET-NEVER-SENT".
func TestFailedWriteFirstBytesTakenBack(t *testing.T) {
	addr, _ := readingPeer(t)
	c, reg, w, _ := recordedSYN(t, addr)
	defer w.Close()
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	payload := "SECRET-NEVER-SENT"
	psh := append([]byte{1, 2, byte(len(payload)), 0, 3, 0, 0, 0}, payload...) // PSH, stream 3
	if n, err := c.Write(psh); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a Write past its deadline returned %d, %v; want 0, a deadline exceeded", n, err)
	}
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	st := ss[0].Stream(3)
	if st == nil {
		t.Fatal("stream 3 is gone")
	}
	if got := st.Head[live.ClientToServer].Bytes(); len(got) != 0 || st.Bytes[live.ClientToServer] != 0 {
		t.Errorf("stream 3's first client bytes %q, %d bytes counted; want none: the PSH never went out", got, st.Bytes[live.ClientToServer])
	}
}
