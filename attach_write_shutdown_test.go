package main

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// holdingSmuxServer serves the first connection to a new loopback
// listener with a real smux v1 server, with a 64 KiB
// session-wide receive buffer: it reads the 4-byte request of the first
// stream and never answers it, and never reads the streams after it, so
// that a client writing on one fills the buffer, smux stops reading the
// connection, and the writes behind it block. When its AcceptStream fails
// (the client closed) it does not close its session: it holds its side
// of the connection open until the test ends, as a server that never
// calls Close does. If nops, it sends a keepalive NOP every 100 ms (and
// never gives up on a silent client); else none.
func holdingSmuxServer(t *testing.T, nops bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); close(hold); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		cfg := smuxtest.Config(1)
		cfg.KeepAliveDisabled = !nops
		cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 100*time.Millisecond, time.Hour
		cfg.MaxReceiveBuffer = 64 << 10
		sess, err := smux.Server(c, cfg)
		if err != nil {
			c.Close()
			return
		}
		accepting := make(chan struct{})
		go func() { // ends when AcceptStream fails: the session closed below, or its conn
			defer close(accepting)
			first := true
			for {
				st, err := sess.AcceptStream()
				if err != nil {
					return // no Close: the session is held
				}
				if first {
					first = false
					io.ReadFull(st, make([]byte, 4)) // and no answer
				}
			}
		}()
		<-hold
		sess.Close()
		<-accepting
	}()
	return ln.Addr().String()
}

// finsAndResets are the lines of tcpdump -r file that carry a FIN or a
// RST; it fails t if tcpdump cannot read the file.
func finsAndResets(t *testing.T, file string) []string {
	t.Helper()
	msg, err := exec.Command(tcpdumpPath(t), "-nr", file).CombinedOutput()
	if err != nil || strings.Contains(string(msg), "truncated") {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	var ends []string
	for _, line := range strings.Split(string(msg), "\n") {
		if strings.Contains(line, "Flags [F") || strings.Contains(line, "Flags [R") || strings.Contains(line, "Flags [.F") {
			ends = append(ends, line)
		}
	}
	return ends
}

// TestAttachWriteShutdownOpen: attach stopped while a session is open,
// its client writing into a server that stopped reading (a write of the
// proxy blocked in the middle of a frame) and a stream left unanswered,
// ends the session "shutdown" live with its findings still open, and
// its --write file must show the same connection as a capture stopped
// while it was open: no FIN nor RST from either end, which sent none
// (tcpdump -r shows none), so that muxtop read of the file leaves the
// session live at the capture's end, its findings open, not resolved by
// an end that never happened; and neither counts the frame the shutdown
// cut as TRUNCATED.
func TestAttachWriteShutdownOpen(t *testing.T) {
	upstream := holdingSmuxServer(t, true)
	file := filepath.Join(t.TempDir(), "shutdown.pcapng")
	thresholds := []string{"--unanswered-after", "300ms", "--blocked-after", "300ms"}
	a := runAttach(t, upstream, append([]string{"--write", file}, thresholds...)...)
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smuxtest.Config(1)
	cfg.KeepAliveDisabled = true
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	req, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	bulk, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() { // until the client's session closes, below
		defer close(wrote)
		buf := make([]byte, 64<<10)
		for {
			if _, err := bulk.Write(buf); err != nil {
				return
			}
		}
	}()
	defer func() { cli.Close(); <-wrote }()
	defer func() {
		if t.Failed() {
			for _, l := range strings.Split(a.stdout.String(), "\n") {
				if !strings.Contains(l, `"type":"frame"`) {
					t.Log(l)
				}
			}
		}
	}()
	smuxtest.Eventually(t, "attach's SESSION_BLOCKED finding", func() bool {
		return strings.Contains(a.stdout.String(), `"code":"SESSION_BLOCKED"`)
	})
	// The unanswered stream ages past --unanswered-after while the
	// server still sends: ten of its NOPs, 100 ms apart, after the block.
	nops := strings.Count(a.stdout.String(), `"cmd":"NOP"`)
	smuxtest.Eventually(t, "ten more of the server's NOPs", func() bool {
		return strings.Count(a.stdout.String(), `"cmd":"NOP"`) >= nops+10
	})
	a.stop(t)
	live := parseJSON(t, a.stdout.String())

	le := ended(live)
	if le["reason"] != "shutdown" {
		t.Fatalf("attach ended the session %v (%v), want shutdown\n%s", le["reason"], le["detail"], a.stdout.String())
	}
	if d := truncated(live); d != "" {
		t.Errorf("attach counts the frame its shutdown cut as TRUNCATED: %s", d)
	}

	rout := readOK(t, append([]string{file, "-o", "json"}, thresholds...)...)
	read := parseJSON(t, rout)
	if e := ended(read); e != nil {
		t.Errorf("read of attach's --write file ends the session: %v (%v); want it live at the capture's end", e["reason"], e["detail"])
	}
	for _, h := range records(read, "session-half-closed", 1) {
		t.Errorf("read of attach's --write file: %v; neither end closed its side", h["detail"])
	}
	if n, _ := read.summary["live_sessions"].(float64); n != 1 {
		t.Errorf("read of attach's --write file: %v live sessions at the end, want 1", read.summary["live_sessions"])
	}
	opened := map[string]bool{}
	for _, f := range records(read, "finding-opened", 1) {
		opened[f["code"].(string)] = true
	}
	// The write attach held at its stop is the server's window closed to
	// the end of the file: SESSION_BLOCKED, open at the capture's end.
	// (The unanswered stream's UNANSWERED opens, as live, only where it
	// aged past --unanswered-after before the block explained it.)
	if !opened["SESSION_BLOCKED"] {
		t.Errorf("read of attach's --write file opened no SESSION_BLOCKED of the write attach held at its stop:\n%s", rout)
	}
	// A finding the block explains is resolved by it, in the file (the
	// server's zero window, from attach's held write) as live: that is
	// no end. (Live, the block shows 50 ms into the held write, its
	// window in the file 100 ms in, closed 250 ms: a finding about to
	// open may open in one and not the other, to be resolved by it.)
	for _, f := range records(read, "finding-resolved", 1) {
		if strings.Contains(fmt.Sprint(f["detail"]), "SESSION_BLOCKED says why") {
			continue
		}
		t.Errorf("read of attach's --write file resolves %v: %v; want it open at the capture's end", f["code"], f["detail"])
	}
	if d := truncated(read); d != "" {
		t.Errorf("read of attach's --write file counts the frame the shutdown cut as TRUNCATED: %s", d)
	}
	if ends := finsAndResets(t, file); len(ends) > 0 {
		t.Errorf("tcpdump -r of attach's --write file shows ends neither peer sent:\n%s", strings.Join(ends, "\n"))
	}
}

// TestAttachWriteShutdownAfterClientFIN: the twin, where the client
// really closed its side before attach stopped (a real smux client's
// Close; the server, which never calls Close, holds its side open):
// attach says so at the shutdown, and its --write file keeps the
// client's FIN, and only it, so that muxtop read of the file says the
// client closed its side, the server's still open at the capture's end.
func TestAttachWriteShutdownAfterClientFIN(t *testing.T) {
	upstream := holdingSmuxServer(t, false)
	file := filepath.Join(t.TempDir(), "clientfin.pcapng")
	a := runAttach(t, upstream, "--write", file)
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smuxtest.Config(1)
	cfg.KeepAliveDisabled = true
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	cli.Close() // the client's FIN
	smuxtest.Eventually(t, "attach to see the client's close", func() bool {
		return strings.Contains(a.stdout.String(), `"type":"session-half-closed"`)
	})
	a.stop(t)
	live := parseJSON(t, a.stdout.String())
	le := ended(live)
	from := c.LocalAddr().String()
	if d, _ := le["detail"].(string); le["reason"] != "shutdown" || !strings.HasPrefix(d, "the client "+from+" had closed its side") {
		t.Fatalf("attach ended the session %v (%v), want shutdown, the client having closed its side\n%s", le["reason"], le["detail"], a.stdout.String())
	}

	rout := readOK(t, file, "-o", "json")
	read := parseJSON(t, rout)
	half := records(read, "session-half-closed", 1)
	if len(half) != 1 || !strings.Contains(fmt.Sprint(half[0]["detail"]), "the client "+from+" closed its side") {
		t.Errorf("read of attach's --write file: half-closed %v, want the client %s's close, once:\n%s", half, from, rout)
	}
	if e := ended(read); e != nil {
		t.Errorf("read of attach's --write file ends the session: %v (%v); the server's side was still open", e["reason"], e["detail"])
	}
	ends := finsAndResets(t, file)
	cli4 := c.LocalAddr().(*net.TCPAddr)
	fromClient := fmt.Sprintf("%s.%d > ", cli4.IP, cli4.Port)
	if len(ends) != 1 || !strings.Contains(ends[0], fromClient) || !strings.Contains(ends[0], "Flags [F") {
		t.Errorf("tcpdump -r of attach's --write file shows %d ends, want the client's FIN alone:\n%s", len(ends), strings.Join(ends, "\n"))
	}
}
