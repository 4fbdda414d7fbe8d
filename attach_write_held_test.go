package main

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// findingKeys are "CODE dir" of the finding-opened records of c.
func findingKeys(c capture) map[string]bool {
	keys := map[string]bool{}
	for _, m := range c.other {
		if m["type"] == "finding-opened" {
			keys[fmt.Sprintf("%v %v", m["code"], m["dir"])] = true
		}
	}
	return keys
}

// zeroWindows are the lines of tcpdump -r file that advertise a zero
// window; it fails t unless tcpdump reads the file cleanly.
func zeroWindows(t *testing.T, file string) (zero []string, all string) {
	t.Helper()
	msg, err := exec.Command(tcpdumpPath(t), "-nn", "-r", file).CombinedOutput()
	if err != nil || strings.Contains(string(msg), "truncated") || strings.Contains(string(msg), "bad ") {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	for _, line := range strings.Split(string(msg), "\n") {
		if strings.Contains(line, "win 0,") || strings.HasSuffix(line, "win 0") {
			zero = append(zero, line)
		}
	}
	return zero, string(msg)
}

// zeroSpan is the longest a sender in tcpdump -r's output all (lines
// "HH:MM:SS.ffffff IP A > B: … win N …") kept its window at 0: from its
// first zero to its last before it announced a window again.
func zeroSpan(t *testing.T, all string) time.Duration {
	t.Helper()
	var longest time.Duration
	first := map[string]time.Time{} // a sender's first zero of its current run
	for _, line := range strings.Split(all, "\n") {
		f := strings.Fields(line)
		i := strings.Index(line, " win ")
		if len(f) < 3 || f[1] != "IP" || i < 0 {
			continue
		}
		at, err := time.Parse("15:04:05.000000", f[0])
		if err != nil {
			t.Fatalf("tcpdump -r line %q: %v", line, err)
		}
		from, win := f[2], strings.TrimRight(strings.Fields(line[i+5:])[0], ",")
		if win != "0" {
			delete(first, from)
			continue
		}
		if _, ok := first[from]; !ok {
			first[from] = at
		}
		longest = max(longest, at.Sub(first[from]))
	}
	return longest
}

// heldWriteRun is what heldWrite found: attach's own output, and read's
// of attach's --write file.
type heldWriteRun struct {
	live, read       capture
	liveOut, readOut string
	file             string
	// real is read's of a tcpdump capture of the proxy's connection to
	// the server, taken meanwhile: what the wire showed.
	real    capture
	realOut string
	wire    string // that capture's file
}

// clientKeepalives counts the client's keepalive frames (smux NOP, yamux
// PING) in attach's JSON output out.
func clientKeepalives(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"type":"frame"`) && strings.Contains(l, `"dir":"c2s"`) &&
			(strings.Contains(l, `"cmd":"NOP"`) || strings.Contains(l, `"cmd":"PING"`)) {
			n++
		}
	}
	return n
}

// heldWrite runs attach --write in front of upstream, a server that stops
// reading its connection, and starts client (a real mux client over the
// conn to attach, keepalive on); once attach has seen three of the
// client's keepalives, it calls write, which writes until the client's
// write blocks; once attach has opened
// SESSION_BLOCKED c2s, it waits for the client's keepalive to be due
// several times over (the server's own frames still coming, where it
// sends any), stops attach and reads the file back.
func heldWrite(t *testing.T, upstream string, client func(c net.Conn) (write, stop func())) heldWriteRun {
	t.Helper()
	dir := t.TempDir()
	file, wire := filepath.Join(dir, "held.pcapng"), filepath.Join(dir, "wire.pcap")
	stopDump := startTcpdump(t, tcpdumpPath(t), upstream, wire)
	thresholds := []string{"--blocked-after", "500ms"}
	a := runAttach(t, upstream, append([]string{"--write", file}, thresholds...)...)
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	write, stop := client(c)
	defer stop()
	smuxtest.Eventually(t, "three of the client's keepalives", func() bool { return clientKeepalives(a.stdout.String()) >= 3 })
	write()
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
	// The client's keepalive is due every 200 ms: 3 s of its silence is
	// far past KEEPALIVE's limit (1.5 intervals and 1 s more). Waited for
	// by attach's clock: its findings' ages.
	began := time.Now()
	smuxtest.Eventually(t, "3 s more of the held write", func() bool { return time.Since(began) > 3*time.Second })
	a.stop(t)
	stopDump()
	r := heldWriteRun{file: file, liveOut: a.stdout.String(), wire: wire}
	r.realOut = readOK(t, append([]string{wire, "-o", "json"}, thresholds...)...)
	r.real = parseJSON(t, r.realOut)
	r.live = parseJSON(t, r.liveOut)
	r.readOut = readOK(t, append([]string{file, "-o", "json"}, thresholds...)...)
	r.read = parseJSON(t, r.readOut)
	return r
}

// checkHeld checks that attach and read of its file agree on the held
// write: SESSION_BLOCKED of the client's direction, and no KEEPALIVE nor
// UNANSWERED blaming the client for the silence the block made; and that
// tcpdump reads the file cleanly, with the server's zero window in it.
func checkHeld(t *testing.T, r heldWriteRun) {
	t.Helper()
	lk, rk := findingKeys(r.live), findingKeys(r.read)
	if !lk["SESSION_BLOCKED c2s"] {
		t.Fatalf("attach opened no SESSION_BLOCKED c2s: %v", lk)
	}
	for _, k := range []string{"KEEPALIVE c2s", "UNANSWERED s2c", "KEEPALIVE s2c", "UNANSWERED c2s"} {
		if lk[k] {
			t.Errorf("attach opened %s", k)
		}
	}
	// The wire, the oracle: tcpdump's capture of the proxy's connection
	// to the server shows the server's zero window. (On a loaded machine
	// its read has been seen to open KEEPALIVE c2s beside it: not the
	// --write file's matter, and not asserted.)
	// Where that capture shows no window held at 0 for a second, the
	// server's kernel took the bytes as they came (its receive buffer,
	// autotuned, did not fill while tcpdump ran: CI's clean run showed
	// none, and read of that wire rightly called the client silent):
	// the wire then proves nothing of the block, and its read is not
	// asserted.
	if wk := findingKeys(r.real); !wk["SESSION_BLOCKED c2s"] {
		zero, all := zeroWindows(t, r.wire)
		if span := zeroSpan(t, all); span >= time.Second {
			t.Errorf("read of tcpdump's capture of the server's connection opened %v, want SESSION_BLOCKED c2s: a window stayed 0 for %v", wk, span)
		} else {
			t.Logf("tcpdump's capture of the server's connection shows no window held at 0 past %v (%d zero-window packets): its read opened %v, not asserted", span, len(zero), wk)
		}
	} else {
		t.Logf("read of tcpdump's capture of the server's connection opened %v", wk)
	}
	if !rk["SESSION_BLOCKED c2s"] {
		t.Errorf("read of attach's --write file opened no SESSION_BLOCKED c2s: %v", rk)
	}
	for k := range rk {
		if !lk[k] {
			for _, m := range r.read.other {
				if m["type"] == "finding-opened" && fmt.Sprintf("%v %v", m["code"], m["dir"]) == k {
					t.Errorf("read of attach's --write file opened %s, which attach did not: %s %v", k, m["severity"], m["text"])
				}
			}
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(r.readOut, "\n") {
			if !strings.Contains(l, `"type":"frame"`) {
				t.Log("read: ", l)
			}
		}
	}
	for _, c := range []struct {
		name string
		c    capture
	}{{"attach", r.live}, {"read of its file", r.read}, {"read of tcpdump's", r.real}} {
		for _, m := range c.c.other {
			if m["type"] == "finding-opened" && m["code"] == "SESSION_BLOCKED" {
				t.Logf("%s: SESSION_BLOCKED %v sid %v sign %v: %v", c.name, m["dir"], m["sid"], m["sign"], m["text"])
			}
		}
	}
	// The file's zero window is attach's held write, all attach saw: read
	// of it words the block as attach did (sign write: the receiver
	// stopped reading, or reads far slower), never as a capture of the
	// wire's closed window, which the wire may not have shown (a slow
	// reader's reopens within tenths of a second). A real capture's is
	// the window's.
	signs := func(c capture) (ss []string) {
		for _, m := range c.other {
			if m["type"] == "finding-opened" && m["code"] == "SESSION_BLOCKED" && m["dir"] == "c2s" {
				ss = append(ss, fmt.Sprint(m["sign"]))
				if strings.Contains(fmt.Sprint(m["text"]), "TCP window has been closed") && m["sign"] != "window" {
					t.Errorf("SESSION_BLOCKED sign %v words a closed window: %v", m["sign"], m["text"])
				}
			}
		}
		return ss
	}
	for _, sg := range signs(r.read) {
		if sg != "write" {
			t.Errorf("read of attach's --write file opened SESSION_BLOCKED c2s sign %s, want write, as attach: %v", sg, signs(r.live))
		}
	}
	for _, sg := range signs(r.real) {
		if sg != "window" {
			t.Errorf("read of tcpdump's capture opened SESSION_BLOCKED c2s sign %s, want window", sg)
		}
	}
	zero, all := zeroWindows(t, r.file)
	if len(zero) == 0 {
		t.Errorf("tcpdump -r of attach's --write file shows no zero window:\n%s", tail(all, 20))
	}
	t.Logf("tcpdump -r of attach's --write file, its last lines:\n%s", tail(all, 6))
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestAttachWriteHeldSmux: a real smux client (keepalive every 200 ms)
// whose real smux server stops reading the connection (holdingSmuxServer:
// one unread stream fills its session-wide buffer), through attach
// --write: the proxy's write to the server is held, the client's own
// write then, and its NOPs never reach the wire. attach says
// SESSION_BLOCKED c2s; read of its --write file must say the same, from
// the server's zero window the file carries, and not blame the client's
// silence (KEEPALIVE c2s) on the client.
func TestAttachWriteHeldSmux(t *testing.T) {
	upstream := holdingSmuxServer(t, true)
	r := heldWrite(t, upstream, func(c net.Conn) (func(), func()) {
		cfg := smuxtest.Config(1)
		cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 200*time.Millisecond, time.Hour
		cli, err := smux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		req, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := req.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		wrote := make(chan struct{})
		write := func() {
			go func() { // until the client's session closes
				defer close(wrote)
				bulk, err := cli.OpenStream()
				if err != nil {
					return
				}
				buf := make([]byte, 64<<10)
				for {
					if _, err := bulk.Write(buf); err != nil {
						return
					}
				}
			}()
		}
		return write, func() { cli.Close(); <-wrote }
	})
	checkHeld(t, r)
}

// stallConn is a conn whose Reads stop once stall is closed, until
// release is: a process that stops reading its connection (a frozen one),
// and perhaps runs again.
type stallConn struct {
	net.Conn
	stall, release chan struct{}
}

func (c *stallConn) Read(b []byte) (int, error) {
	select {
	case <-c.stall:
		<-c.release // resumed, or the test's end
	default:
	}
	return c.Conn.Read(b)
}

// holdingYamuxServer serves the first connection to a new loopback
// listener with a real hashicorp/yamux server that reads the first
// stream's 4-byte request and, once the client opens a second stream,
// stops reading the connection altogether (its conn's Reads no longer
// return), as a frozen process does, until resume is called. It sends
// nothing of its own (no keepalive).
func holdingYamuxServer(t *testing.T) (addr string, resume func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stall, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	resume = func() { once.Do(func() { close(release) }) }
	conns := make(chan net.Conn, 1)
	t.Cleanup(func() {
		ln.Close()
		resume()
		select {
		case c := <-conns:
			c.Close()
		default:
		}
	})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns <- c
		sc := &stallConn{Conn: c, stall: stall, release: release}
		cfg := smuxtest.YamuxConfig()
		sess, err := yamux.Server(sc, cfg)
		if err != nil {
			c.Close()
			return
		}
		st, err := sess.AcceptStream()
		if err != nil {
			return
		}
		io.ReadFull(st, make([]byte, 4))
		if _, err := sess.AcceptStream(); err == nil {
			close(sc.stall) // at the client's next stream: its pings were answered until then
		}
	}()
	return ln.Addr().String(), resume
}

// TestAttachWriteHeldYamux: the same with real hashicorp/yamux: the
// client (keepalive every 200 ms, its write timeout long) writes on new
// streams into a server that stopped reading; its pings never reach the
// wire.
func TestAttachWriteHeldYamux(t *testing.T) {
	upstream, _ := holdingYamuxServer(t)
	r := heldWrite(t, upstream, yamuxWriter(t))
	checkHeld(t, r)
}

// yamuxWriter is heldWrite's client of a real hashicorp/yamux session
// (keepalive every 200 ms, its write timeout long) that writes on 64 new
// streams.
func yamuxWriter(t *testing.T) func(c net.Conn) (func(), func()) {
	return func(c net.Conn) (func(), func()) {
		cfg := smuxtest.YamuxConfig()
		cfg.EnableKeepAlive, cfg.KeepAliveInterval = true, 200*time.Millisecond
		cfg.ConnectionWriteTimeout = time.Minute
		cli, err := yamux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		req, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := req.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		write := func() {
			for range 64 { // a full window each: more than the socket buffers take
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := cli.OpenStream()
					if err != nil {
						return
					}
					buf := make([]byte, 256<<10)
					for {
						select {
						case <-done:
							return
						default:
						}
						if _, err := st.Write(buf); err != nil {
							return
						}
					}
				}()
			}
		}
		return write, func() { close(done); cli.Close(); wg.Wait() }
	}
}

// TestAttachWriteHealthyNoZeroWindow: a healthy session through attach
// --write, a real smux client (keepalive every 200 ms) and echo server
// exchanging requests that no socket buffer holds up: the file carries no
// zero window (tcpdump -r shows none), and read of it opens no
// SESSION_BLOCKED, nor anything else.
func TestAttachWriteHealthyNoZeroWindow(t *testing.T) {
	upstream := echoServer(t, 1)
	file := filepath.Join(t.TempDir(), "healthy.pcapng")
	a := runAttach(t, upstream, "--write", file, "--blocked-after", "500ms")
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smuxtest.Config(1)
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 200*time.Millisecond, time.Hour
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, 1+i*200)
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, msg); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	smuxtest.Eventually(t, "three of the client's keepalives", func() bool { return clientKeepalives(a.stdout.String()) >= 3 })
	cli.Close()
	smuxtest.Eventually(t, "the session to end", func() bool { return strings.Contains(a.stdout.String(), `"type":"session-ended"`) })
	a.stop(t)
	rout := readOK(t, file, "-o", "json", "--blocked-after", "500ms")
	if k := findingKeys(parseJSON(t, rout)); len(k) > 0 {
		t.Errorf("read of a healthy session's --write file opened %v", k)
	}
	if zero, _ := zeroWindows(t, file); len(zero) > 0 {
		t.Errorf("tcpdump -r of a healthy session's --write file shows zero windows:\n%s", strings.Join(zero, "\n"))
	}
}

// TestAttachWriteHeldYamuxResumes: the yamux server stops reading, then
// reads again: attach's held write returns, its SESSION_BLOCKED resolves,
// and the --write file has the server's window closed, then open again
// (tcpdump -r: its ACKs at win 0, then at 65535): read of it opens
// SESSION_BLOCKED c2s and resolves it, and blames the client's silence
// meanwhile on nothing.
func TestAttachWriteHeldYamuxResumes(t *testing.T) {
	upstream, resume := holdingYamuxServer(t)
	file := filepath.Join(t.TempDir(), "resumed.pcapng")
	thresholds := []string{"--blocked-after", "500ms"}
	a := runAttach(t, upstream, append([]string{"--write", file}, thresholds...)...)
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	write, stop := yamuxWriter(t)(c)
	defer stop()
	smuxtest.Eventually(t, "three of the client's keepalives", func() bool { return clientKeepalives(a.stdout.String()) >= 3 })
	write()
	smuxtest.Eventually(t, "attach's SESSION_BLOCKED finding", func() bool {
		return strings.Contains(a.stdout.String(), `"code":"SESSION_BLOCKED"`)
	})
	resume()
	smuxtest.Eventually(t, "attach's SESSION_BLOCKED resolved", func() bool {
		for _, l := range strings.Split(a.stdout.String(), "\n") {
			if strings.Contains(l, `"type":"finding-resolved"`) && strings.Contains(l, `"code":"SESSION_BLOCKED"`) {
				return true
			}
		}
		return false
	})
	a.stop(t)
	rout := readOK(t, append([]string{file, "-o", "json"}, thresholds...)...)
	read := parseJSON(t, rout)
	defer func() {
		if t.Failed() {
			for _, out := range []struct{ name, out string }{{"attach", a.stdout.String()}, {"read", rout}} {
				for _, l := range strings.Split(out.out, "\n") {
					if !strings.Contains(l, `"type":"frame"`) {
						t.Log(out.name+":", l)
					}
				}
			}
		}
	}()
	// Until the block dissolved: after it, the server, that reads again,
	// may read slowly (on a loaded machine, under -race), which a
	// capture shows as a window that touches zero for moments, and the
	// client's frames come as slowly: not this test's matter.
	var opened, resolved string
	for _, m := range read.other {
		if m["code"] == "SESSION_BLOCKED" && m["dir"] == "c2s" && opened == "" && m["type"] == "finding-opened" {
			opened = m["time"].(string)
		}
		if m["code"] == "SESSION_BLOCKED" && m["dir"] == "c2s" && resolved == "" && m["type"] == "finding-resolved" {
			resolved = m["time"].(string)
		}
	}
	if opened == "" || resolved == "" {
		t.Fatalf("read of attach's --write file: SESSION_BLOCKED c2s opened at %q, resolved at %q; want both", opened, resolved)
	}
	end, err := time.Parse(time.RFC3339Nano, resolved)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range read.other {
		at, _ := time.Parse(time.RFC3339Nano, m["time"].(string))
		if m["type"] == "finding-opened" && (m["code"] == "KEEPALIVE" || m["code"] == "UNANSWERED") && !at.After(end) {
			t.Errorf("read of attach's --write file opened %v %v while the session was blocked: %v", m["code"], m["dir"], m["text"])
		}
	}
	zero, all := zeroWindows(t, file)
	if len(zero) == 0 {
		t.Fatalf("tcpdump -r of attach's --write file shows no zero window:\n%s", tail(all, 20))
	}
	// The server's packets after its first zero window advertise room
	// again (the server may fill its buffers again after).
	after := all[strings.Index(all, zero[0])+len(zero[0]):]
	reopened := false
	for _, l := range strings.Split(after, "\n") {
		reopened = reopened || strings.Contains(l, strings.Replace(upstream, ":", ".", 1)+" > ") && strings.Contains(l, "win 65535")
	}
	if !reopened {
		t.Errorf("tcpdump -r of attach's --write file: the server's window is not open again after its first zero window:\n%s", tail(all, 10))
	}
}
