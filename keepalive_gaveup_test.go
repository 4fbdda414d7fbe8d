package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// freezeConn is a yamux client's conn that its process stops using at
// freeze, as a SIGSTOPped or hung process does: from then on nothing it
// reads reaches yamux, nothing yamux writes goes out, and its Close
// closes nothing (the process does not run to close it). Its calls wait
// until thaw.
type freezeConn struct {
	net.Conn
	frozen chan struct{}
	thawed chan struct{}
	once   sync.Once
}

func newFreezeConn(c net.Conn) *freezeConn {
	return &freezeConn{Conn: c, frozen: make(chan struct{}), thawed: make(chan struct{})}
}

func (c *freezeConn) freeze() { c.once.Do(func() { close(c.frozen) }) }

func (c *freezeConn) isFrozen() bool {
	select {
	case <-c.frozen:
		return true
	default:
		return false
	}
}

func (c *freezeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.isFrozen() {
		<-c.thawed
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.isFrozen() {
		<-c.thawed
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *freezeConn) Close() error {
	if c.isFrozen() {
		return nil
	}
	return c.Conn.Close()
}

// recordingProxy forwards one connection from ln to upstream and records
// what passes each way, as tcpdump on the path would see it, into rec:
// the bytes as they are read, a FIN as the sender's EOF (passed on as a
// half-close), a RST as a reset read. It returns when both ways ended.
func recordingProxy(t *testing.T, ln net.Listener, upstream string, w *pcapout.Writer) {
	t.Helper()
	cc, err := ln.Accept()
	if err != nil {
		t.Error(err)
		return
	}
	sc, err := net.Dial("tcp", upstream)
	if err != nil {
		t.Error(err)
		cc.Close()
		return
	}
	// The server recorded at yamux's usual port, as in a capture of a
	// service: a capture that joins a connection with no stream opening
	// in it tells its server by its port.
	rec := w.Conn(cc.RemoteAddr().String(), "127.0.0.1:7800", time.Now())
	var wg sync.WaitGroup
	forward := func(dst, src net.Conn, dir live.Dir) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				rec.Write(dir, time.Now(), buf[:n])
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
			switch {
			case err == nil:
				continue
			case errors.Is(err, io.EOF):
				rec.End(dir, time.Now())
				dst.(*net.TCPConn).CloseWrite()
			case errors.Is(err, syscall.ECONNRESET):
				rec.Reset(dir, time.Now())
				dst.(*net.TCPConn).SetLinger(0)
				dst.Close()
				src.Close()
			default:
				dst.Close()
				src.Close()
			}
			return
		}
	}
	wg.Add(2)
	go forward(sc, cc, live.ClientToServer)
	go forward(cc, sc, live.ServerToClient)
	wg.Wait()
	cc.Close()
	sc.Close()
}

// yamuxKeepaliveRun is a capture of two real hashicorp/yamux sessions:
// one whose client may freeze, and a healthy one beside it, whose pings
// go on as the other's client hangs (as on a server with several
// clients: a capture's clock is its packets).
type yamuxKeepaliveRun struct {
	ps []pcaptest.Packet
	// client is the address of the client that may freeze.
	client string
	// lastClient is the time of its last packet with payload; serverFIN
	// that of its server's FIN, zero if none.
	lastClient, serverFIN time.Time
}

// keepaliveConfig is yamux's config for both ends: a ping a second, and
// a ping given up on after 6 s with no answer (yamux's default is 10 s:
// it must exceed the 5 s after which muxtop calls the silent side frozen).
func keepaliveConfig() *hyamux.Config {
	cfg := hyamux.DefaultConfig()
	cfg.KeepAliveInterval = time.Second
	cfg.ConnectionWriteTimeout = 6 * time.Second
	cfg.LogOutput = io.Discard
	return cfg
}

// yamuxClient is a client of runYamuxKeepalive's.
type yamuxClient struct {
	raw net.Conn
	fz  *freezeConn
	cli *hyamux.Session
}

// dialYamux dials addr and runs a yamux client on the connection, which
// opens a stream, has it echoed and closes it.
func dialYamux(t *testing.T, addr string) yamuxClient {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fz := newFreezeConn(raw)
	t.Cleanup(func() { close(fz.thawed) })
	cli, err := hyamux.Client(fz, keepaliveConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(st, got); err != nil || string(got) != "hello" {
		t.Fatalf("the echo: %q, %v", got, err)
	}
	st.Close()
	return yamuxClient{raw, fz, cli}
}

// runYamuxKeepalive runs a real hashicorp/yamux server over loopback TCP
// and two clients, through recordingProxy, all with keepaliveConfig: each
// client opens a stream, has it echoed, closes it, and the keepalive
// pings go both ways for 1.5 s. If freeze, the second client's process
// then freezes (freezeConn): the server's next ping on its session gets
// no answer, the server's yamux gives up 6 s after it and closes that
// connection (its FIN), and 3 s later the client's host resets it, as at
// the process's exit (a RST). Else that client closes its session (its
// FIN), and the server closes on the EOF. The first client closes its
// session last. The capture is as the proxy saw it.
func runYamuxKeepalive(t *testing.T, freeze bool) yamuxKeepaliveRun {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	srvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srvLn.Close()
	prLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer prLn.Close()

	var sessions sync.WaitGroup
	ended := make(chan net.Addr, 2) // the server's sessions' remote addresses, as they end
	go func() {                     // the server: echoes each stream until its session ends
		for {
			c, err := srvLn.Accept()
			if err != nil {
				return
			}
			s, err := hyamux.Server(c, keepaliveConfig())
			if err != nil {
				t.Error(err)
				return
			}
			sessions.Add(1)
			go func() {
				defer sessions.Done()
				go func() {
					for {
						st, err := s.AcceptStream()
						if err != nil {
							return
						}
						io.Copy(st, st)
						st.Close()
					}
				}()
				<-s.CloseChan()
				ended <- c.RemoteAddr()
			}()
		}
	}()
	var proxied sync.WaitGroup
	proxied.Add(2)
	go func() {
		for range 2 {
			go func() {
				defer proxied.Done()
				recordingProxy(t, prLn, srvLn.Addr().String(), w)
			}()
		}
	}()

	healthy := dialYamux(t, prLn.Addr().String())
	c := dialYamux(t, prLn.Addr().String())
	time.Sleep(1500 * time.Millisecond) // pings both ways, answered
	if freeze {
		c.fz.freeze()
		select {
		case <-ended: // the server's keepalive gave up and closed
		case <-time.After(20 * time.Second):
			t.Fatal("the server's yamux did not end its session on its unanswered ping")
		}
		time.Sleep(3 * time.Second)
		c.raw.(*net.TCPConn).SetLinger(0) // the client's host resets the connection
		c.raw.Close()
	} else {
		c.cli.Close()
		<-ended
	}
	healthy.cli.Close()
	<-ended
	proxied.Wait()
	sessions.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	run := yamuxKeepaliveRun{ps: pcaptest.Read(t, &buf), client: c.raw.LocalAddr().String()}
	port := uint16(c.raw.LocalAddr().(*net.TCPAddr).Port)
	for _, p := range run.ps {
		tcp := p.TCP
		switch {
		case uint16(tcp.SrcPort) == port && len(tcp.Payload) > 0:
			run.lastClient = p.CI.Timestamp
		case uint16(tcp.DstPort) == port && tcp.FIN && run.serverFIN.IsZero():
			run.serverFIN = p.CI.Timestamp
		}
	}
	return run
}

// sessionOf returns the id of the session of the JSON output out whose
// client is client.
func sessionOf(t *testing.T, out, client string) float64 {
	t.Helper()
	for l := range strings.Lines(out) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["type"] == "session-opened" && m["client"] == client {
			return m["session"].(float64)
		}
	}
	t.Fatalf("no session of the client %s in:\n%s", client, out)
	return 0
}

// write writes the packets ps kept by keep to a capture file, whose path
// it returns.
func (r yamuxKeepaliveRun) write(t *testing.T, name string, keep func(at time.Time) bool) string {
	t.Helper()
	var ps []pcaptest.Packet
	for _, p := range r.ps {
		if keep(p.CI.Timestamp) {
			ps = append(ps, p)
		}
	}
	var buf bytes.Buffer
	pcaptest.Write(t, &buf, ps)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readOut runs muxtop read on path with output format out.
func readOut(t *testing.T, path, out string) string {
	t.Helper()
	return readOK(t, path, "-o", out)
}

// records returns the records of c of type typ about session id.
func records(c capture, typ string, id float64) []map[string]any {
	var rs []map[string]any
	for _, m := range c.other {
		if m["type"] == typ && m["session"] == id {
			rs = append(rs, m)
		}
	}
	return rs
}

// keepalives returns the KEEPALIVE records of c of type typ, of any session.
func keepalives(c capture, typ string) []map[string]any {
	var rs []map[string]any
	for _, m := range c.other {
		if m["type"] == typ && m["code"] == "KEEPALIVE" {
			rs = append(rs, m)
		}
	}
	return rs
}

// TestYamuxKeepaliveGaveUp: a real hashicorp/yamux client freezes; the
// server's ping gets no answer, its yamux gives up after
// ConnectionWriteTimeout (6 s here) and closes its side (FIN), and the
// client's host resets the connection 3 s later. Read back from the
// capture, the server's FIN is a session-half-closed record at its time,
// in JSON and plain; KEEPALIVE's ping stops waiting at it (gave_up, ping
// about 6 s, not the 9 s to the reset), its text says the server closed
// its side after its ping went unanswered, and the session's end says
// what came in order rather than blaming yamux's keepalive for the reset.
// The capture cut 1 s after the FIN has the session half-closed in the
// summary, and KEEPALIVE's ping still at 6 s. The healthy session beside
// it, and the healthy twin run, whose client answers every ping and
// closes its session, open no KEEPALIVE.
// pingGaveUp is a session end's words of a ping unanswered for 5.5 to 7 s.
var pingGaveUp = regexp.MustCompile(`after the server closed its side of the connection, its ping unanswered for (5\.[5-9]|6(\.[0-9])?|7(\.0)?) s`)

func TestYamuxKeepaliveGaveUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a frozen yamux session for 11 s")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	run := runYamuxKeepalive(t, true)
	if run.serverFIN.IsZero() || !run.serverFIN.After(run.lastClient) {
		t.Fatalf("the server's FIN at %v, the client's last payload at %v: want a FIN after it", run.serverFIN, run.lastClient)
	}
	full := run.write(t, "full.pcapng", func(time.Time) bool { return true })

	out := readOut(t, full, "json")
	id := sessionOf(t, out, run.client)
	c := parseJSON(t, out)
	half := records(c, "session-half-closed", id)
	if len(half) != 1 || half[0]["dir"] != "s2c" || half[0]["proto"] != "yamux" ||
		!strings.HasPrefix(half[0]["detail"].(string), "the server 127.0.0.1:") || half[0]["time"] != run.serverFIN.UTC().Format(time.RFC3339Nano) {
		t.Errorf("session-half-closed records %v; want one, s2c, the server's, at its FIN %v", half, run.serverFIN.UTC().Format(time.RFC3339Nano))
	}
	res := keepalives(c, "finding-resolved")
	if len(res) != 1 || res[0]["session"] != id {
		t.Fatalf("KEEPALIVE resolved %v, want one, of session %v", res, id)
	}
	k := res[0]
	ping, _ := k["ping"].(float64)
	text, _ := k["text"].(string)
	if k["dir"] != "c2s" || k["gave_up"] != true || ping < 5.5 || ping > 7 ||
		!strings.Contains(text, "and then the server closed its side of the connection") || strings.Contains(text, "has waited") {
		t.Errorf("KEEPALIVE as resolved: dir %v, gave_up %v, ping %v, text %q; want c2s, the server's ping given up after about 6 s as it closed", k["dir"], k["gave_up"], ping, text)
	}
	ended := records(c, "session-ended", id)
	if len(ended) != 1 {
		t.Fatalf("session-ended records %v", ended)
	}
	detail, _ := ended[0]["detail"].(string)
	// About 6 s, as the finding's ping above: yamux's timer starts as
	// Ping is called, and the wire's ping may go out a little later on a
	// loaded machine (5.9 s in one CI run).
	if ended[0]["reason"] != "reset" || !pingGaveUp.MatchString(detail) ||
		strings.Contains(detail, "yamux's keepalive ends a session") {
		t.Errorf("session-ended %v; want a reset after the server closed its side, its ping unanswered for about 6 s", ended[0])
	}

	plain := readOut(t, full, "plain")
	if !strings.Contains(plain, fmt.Sprintf(" #%v ← session half-closed: the server 127.0.0.1:", id)) {
		t.Errorf("no plain line for the server's half-close:\n%s", plain)
	}

	// Up to 1 s after the server's FIN: the session is live, half-closed,
	// and KEEPALIVE still open, its ping's wait the one it gave up after.
	upto := run.write(t, "upto.pcapng", func(at time.Time) bool { return !at.After(run.serverFIN.Add(time.Second)) })
	c = parseJSON(t, readOut(t, upto, "json"))
	if c.summary["live_sessions"] != 2.0 || c.summary["half_closed_sessions"] != 1.0 {
		t.Errorf("summary sessions: live %v, half-closed %v; want 2 and 1", c.summary["live_sessions"], c.summary["half_closed_sessions"])
	}
	var open map[string]any
	for _, f := range c.summary["findings"].([]any) {
		if f := f.(map[string]any); f["code"] == "KEEPALIVE" && f["resolved"] == nil {
			open = f
		}
	}
	// The summary's findings have their text, not every key of their
	// records. About 6 s, as the resolved record's ping: a loaded machine
	// sent the ping late, and the wait was 6.1 s.
	text, _ = open["text"].(string)
	wait := 0.0
	if m := regexp.MustCompile(`the server's ping went (\d+\.\d) s without its answer`).FindStringSubmatch(text); m != nil {
		wait, _ = strconv.ParseFloat(m[1], 64)
	}
	if open == nil || wait < 5.5 || wait > 7 || !strings.Contains(text, "and then the server closed its side of the connection") {
		t.Errorf("KEEPALIVE open at the end %v; want its ping's wait stopped at the server's close, about 6 s", open)
	}
	if plain := readOut(t, upto, "plain"); !strings.Contains(plain, "sessions  2 (2 live, 1 of them half-closed") {
		t.Errorf("the plain summary does not say a session is half-closed:\n%s", plain)
	}

	healthy := runYamuxKeepalive(t, false)
	c = parseJSON(t, readOut(t, healthy.write(t, "healthy.pcapng", func(time.Time) bool { return true }), "json"))
	if ks := keepalives(c, "finding-opened"); len(ks) != 0 {
		t.Errorf("the healthy sessions opened KEEPALIVE: %v", ks)
	}
}

// TestYamuxKeepaliveUnheard: the capture of a frozen yamux client, cut to
// begin after the client's last byte, holds the server's ping and no frame
// of the client's: KEEPALIVE opens for the client all the same, its text
// saying it sent nothing in what the capture saw (unheard), not since a
// frame of its, and the healthy session beside it opens none. The healthy
// twin, cut likewise to begin after a byte of the same client's before a
// ping of the server's, opens none: its client answers the ping; nor does
// it cut to end at that ping (the last frame of its session in the
// capture, its answer unseen).
func TestYamuxKeepaliveUnheard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a frozen yamux session for 11 s")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	run := runYamuxKeepalive(t, true)
	cut := run.write(t, "from.pcapng", func(at time.Time) bool { return at.After(run.lastClient) })
	out := readOut(t, cut, "json")
	id := sessionOf(t, out, run.client)
	c := parseJSON(t, out)
	res := keepalives(c, "finding-resolved")
	if len(res) != 1 || res[0]["session"] != id {
		t.Fatalf("KEEPALIVE findings %v, want one, of session %v", res, id)
	}
	k := res[0]
	text, _ := k["text"].(string)
	if k["dir"] != "c2s" || k["unheard"] != true || !strings.Contains(text, "the client has sent nothing in the ") ||
		!strings.Contains(text, "the capture has seen of the session") {
		t.Errorf("KEEPALIVE %v; want the client's, unheard, saying it sent nothing in what the capture saw", k)
	}
	// It opens 5 s after the server's ping, as the capture's time passes
	// it: not when the connection, or the capture, ends.
	frozenPing := serverPing(t, run, run.serverFIN)
	if opened := keepalives(c, "finding-opened"); len(opened) != 1 {
		t.Errorf("KEEPALIVE opened %v; want one", opened)
	} else if at := recordTime(t, opened[0]); at.Before(frozenPing.Add(5*time.Second)) || at.After(frozenPing.Add(5500*time.Millisecond)) {
		t.Errorf("KEEPALIVE opened at %v, %v after the server's ping; want 5 s after it", at.Format(time.RFC3339Nano), at.Sub(frozenPing))
	}

	healthy := runYamuxKeepalive(t, false)
	port := uint16(0)
	if a, err := net.ResolveTCPAddr("tcp", healthy.client); err == nil {
		port = uint16(a.Port)
	}
	var from, ping time.Time
	for _, p := range healthy.ps {
		tcp := p.TCP
		// A server's Ping SYN (yamux: version 0, type 2, flags 1) after a
		// packet of the client's; on a loaded machine the proxy may pass
		// it on in one write with other frames.
		if uint16(tcp.SrcPort) == port && len(tcp.Payload) > 0 {
			from = p.CI.Timestamp
		}
		if uint16(tcp.DstPort) == port && hasPingSYN(tcp.Payload) && !from.IsZero() {
			ping = p.CI.Timestamp
			break
		}
	}
	if ping.IsZero() {
		t.Fatal("no ping of the server's in the healthy capture")
	}
	// From after the client's last byte before that ping: the client
	// answers it, and every ping after.
	cut = healthy.write(t, "healthy-from.pcapng", func(at time.Time) bool { return at.After(from) })
	c = parseJSON(t, readOut(t, cut, "json"))
	if ks := keepalives(c, "finding-opened"); len(ks) != 0 {
		t.Errorf("pings the client answers opened KEEPALIVE: %v", ks)
	}
	// And up to that ping: its session's last frame, its answer unseen.
	cut = healthy.write(t, "healthy-ping.pcapng", func(at time.Time) bool { return at.After(from) && !at.After(ping) })
	c = parseJSON(t, readOut(t, cut, "json"))
	if ks := keepalives(c, "finding-opened"); len(ks) != 0 {
		t.Errorf("a ping that is the capture's last frame opened KEEPALIVE: %v", ks)
	}
}

// hasPingSYN reports whether payload, whole yamux frames, holds a Ping
// SYN: false for a payload that does not begin and end at frame
// boundaries.
func hasPingSYN(payload []byte) bool {
	for len(payload) >= 12 {
		h := payload[:12]
		if h[0] != 0 || h[1] > 3 {
			return false
		}
		if h[1] == 2 && binary.BigEndian.Uint16(h[2:4])&1 != 0 {
			return true
		}
		n := 12
		if h[1] == 0 { // DATA: its length is its body's
			n += int(binary.BigEndian.Uint32(h[8:12]))
		}
		if n > len(payload) {
			return false
		}
		payload = payload[n:]
	}
	return false
}
