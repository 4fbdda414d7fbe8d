package tap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
	"github.com/xtaci/smux"
)

// serveYamux returns an upstream handler that skips prefix bytes, runs a
// yamux server on the conn, answers each stream with 8 bytes per 4 read
// (RAND) or echoes a bulk request, and records what it wrote into *raw.
func serveYamux(prefix int, raw chan<- *smuxtest.RecordingConn) func(net.Conn) {
	return func(c net.Conn) {
		if prefix > 0 {
			if _, err := io.ReadFull(c, make([]byte, prefix)); err != nil {
				return
			}
		}
		rc := &smuxtest.RecordingConn{Conn: c}
		raw <- rc
		sess, err := hyamux.Server(rc, smuxtest.YamuxConfig())
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sess.Close()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer st.Close()
				b, err := io.ReadAll(st)
				if err != nil {
					return
				}
				if string(b) == "RAND" {
					st.Write([]byte("\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"))
					return
				}
				st.Write(b)
			})
		}
	}
}

// yamuxClientWork runs RAND requests, a bulk echo larger than a window,
// and pings over a yamux client session on c.
func yamuxClientWork(t *testing.T, c net.Conn, rands, bulk, pings int) {
	t.Helper()
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	call := func(req []byte) []byte {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := st.Write(req)
			if err == nil {
				err = st.Close() // FIN: the server reads to EOF
			}
			done <- err
		}()
		resp, err := io.ReadAll(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range rands {
		if r := call([]byte("RAND")); len(r) != 8 {
			t.Fatalf("RAND answered %d bytes", len(r))
		}
	}
	if bulk > 0 {
		req := bytes.Repeat([]byte("0123456789"), bulk/10)
		if r := call(req); !bytes.Equal(r, req) {
			t.Fatalf("bulk echo returned %d bytes of %d", len(r), len(req))
		}
	}
	for range pings {
		if _, err := cli.Ping(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkYamuxWire checks a yamux session's counts against the raw bytes
// each side wrote, walked with nothing but encoding/binary.
func checkYamuxWire(t *testing.T, ss *live.SessionSnap, raw [2][]byte, prefix [2]int64) {
	t.Helper()
	if ss.Proto != live.Yamux {
		t.Fatalf("session speaks %v, want yamux", ss.Proto)
	}
	for d := range 2 {
		var frames, wire [yamux.NumTypes]uint64
		b := raw[d]
		for len(b) >= 12 {
			size := 12
			if b[1] == 0 {
				size += int(binary.BigEndian.Uint32(b[8:]))
			}
			frames[b[1]]++
			wire[b[1]] += uint64(size)
			b = b[size:]
		}
		if ss.Counts.TypeFrames[d] != frames || ss.Counts.TypeBytes[d] != wire {
			t.Errorf("%s: counted frames %v bytes %v; the wire has %v, %v", live.Dir(d).Code(), ss.Counts.TypeFrames[d], ss.Counts.TypeBytes[d], frames, wire)
		}
		if got, want := ss.WireBytes(live.Dir(d)), uint64(len(raw[d]))+uint64(prefix[d]); got != want {
			t.Errorf("%s: %d wire bytes, %d sent", live.Dir(d).Code(), got, want)
		}
		// The prefix is the one thing no frame holds: all of Unparsed.
		if ss.Prefix[d] != prefix[d] || ss.Unparsed[d] != prefix[d] {
			t.Errorf("%s: prefix %d, unparsed %d; want %d, %d", live.Dir(d).Code(), ss.Prefix[d], ss.Unparsed[d], prefix[d], prefix[d])
		}
	}
	if len(ss.Framing) != 0 || ss.AnomalyCount != 0 {
		t.Errorf("violations %v, anomalies %v", ss.Framing, ss.Anomalies)
	}
}

// TestProxyYamux puts the attach proxy, detecting the protocol, in front
// of an unmodified yamux server and checks what it shows against the
// bytes both programs wrote.
func TestProxyYamux(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto Protocol
		skip  int
	}{
		{"detected", Detect, 0},
		{"forced", Yamux, 0},
		{"after a one-byte prefix, as Consul sends", Detect, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := make(chan *smuxtest.RecordingConn, 1)
			up := startUpstream(t, "", serveYamux(tc.skip, raw))
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: tc.proto, Skip: tc.skip})
			c := dialProxy(t, p)
			if tc.skip > 0 {
				c.Write([]byte{0x04})
			}
			rc := &smuxtest.RecordingConn{Conn: c}
			yamuxClientWork(t, rc, 5, 600_000, 2)
			srv := <-raw
			c.Close()
			ss := endedSession(t, reg)
			// The ended snapshot holds the streams: take a full one.
			ss = reg.Snapshot().Session(ss.ID)
			checkYamuxWire(t, ss, [2][]byte{rc.Bytes(), srv.Bytes()}, [2]int64{int64(tc.skip), 0})
			if len(ss.Streams) != 6 {
				t.Fatalf("%d streams, want 6", len(ss.Streams))
			}
			for _, st := range ss.Streams {
				if st.State != live.Closed || st.Opener != live.Client || st.ID%2 != 1 {
					t.Errorf("stream %d: %v, opened by %v", st.ID, st.State, st.Opener)
				}
			}
			bulk := ss.Stream(11)
			if bulk == nil || bulk.Bytes != [2]uint64{600_000, 600_000} {
				t.Fatalf("bulk stream: %+v", bulk)
			}
			if p := ss.Pings[live.Client]; p.Sent != 2 || p.Answered != 2 || p.LastRTT <= 0 {
				t.Errorf("pings: %+v", p)
			}
		})
	}
}

// TestProxyProtocolMismatch: a prefix the proxy was not told about makes
// the connection's first byte 0x04, which is not yamux's: decoded as
// smux, it is a BAD_VERSION at offset 0, and the proxy still forwards
// every byte.
func TestProxyProtocolMismatch(t *testing.T) {
	raw := make(chan *smuxtest.RecordingConn, 1)
	up := startUpstream(t, "", serveYamux(1, raw))
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	c.Write([]byte{0x04})
	yamuxClientWork(t, c, 2, 0, 1)
	<-raw
	c.Close()
	ss := endedSession(t, reg)
	if ss.Proto != live.Smux || len(ss.Framing) == 0 || ss.Framing[0].Offset != 0 || !ss.NotSmux() {
		t.Errorf("proto %v, framing %+v", ss.Proto, ss.Framing)
	}
}

// TestConnYamux taps a yamux client in process with tap.Wrap and checks
// its counts against the bytes both ends wrote.
func TestConnYamux(t *testing.T) {
	raw := make(chan *smuxtest.RecordingConn, 1)
	up := startUpstream(t, "", serveYamux(0, raw))
	reg := live.New(live.Config{})
	c, err := net.Dial("tcp", up.addr())
	if err != nil {
		t.Fatal(err)
	}
	rc := &smuxtest.RecordingConn{Conn: c}
	tc := Wrap(rc, live.Client, reg, "test")
	yamuxClientWork(t, tc, 3, 300_000, 1)
	srv := <-raw
	tc.Close()
	var ss *live.SessionSnap
	smuxtest.Eventually(t, "the server's last bytes to be read", func() bool {
		ss = reg.Snapshot().Sessions[0]
		return ss.WireBytes(live.ServerToClient) == uint64(len(srv.Bytes()))
	})
	checkYamuxWire(t, ss, [2][]byte{rc.Bytes(), srv.Bytes()}, [2]int64{})
}

func TestParseProtocol(t *testing.T) {
	for _, s := range []string{"auto", "smux", "yamux"} {
		p, err := ParseProtocol(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseProtocol(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseProtocol("http"); err == nil || err.Error() != `--protocol "http": want auto, smux or yamux` {
		t.Errorf("ParseProtocol(http): %v", err)
	}
}

// TestProxyYamuxClientSmuxServer: a yamux client dialling an smux server
// through the proxy. The client's first byte makes the connection yamux;
// smux refuses the yamux header (it stops reading) and its keepalive NOP is
// the BAD_VERSION muxtop names, guessed as an smux header: a PROTOCOL
// finding in yamux's words.
func TestProxyYamuxClientSmuxServer(t *testing.T) {
	cfg := smuxConfig(1)
	cfg.KeepAliveDisabled = false
	cfg.KeepAliveInterval = 20 * time.Millisecond
	cfg.KeepAliveTimeout = 10 * time.Second
	up := startUpstream(t, "", func(c net.Conn) {
		// The client speaks first, as the test asks: the server's session
		// (and its 20 ms keepalive) starts once the client's first bytes
		// came. Else, on a loaded machine, the server's first NOP could
		// pass the proxy before the client's SYN, and the session be
		// read as smux, the client's yamux its BAD_VERSION.
		br := bufio.NewReader(c)
		if _, err := br.Peek(1); err != nil {
			return
		}
		sess, err := smux.Server(struct {
			io.Reader
			io.WriteCloser
		}{br, c}, cfg)
		if err != nil {
			return
		}
		defer sess.Close()
		sess.AcceptStream() // fails: "invalid protocol"
		// smux reads no more, and leaves the session to keepalive; its
		// NOPs go on meanwhile. Closing it after a few is enough here.
		select {
		case <-sess.CloseChan():
		case <-time.After(300 * time.Millisecond):
		}
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.OpenStream(); err != nil {
		t.Fatal(err)
	}
	var ss *live.SessionSnap
	smuxtest.Eventually(t, "the smux server's NOP to break yamux's framing", func() bool {
		snap := reg.Snapshot()
		if len(snap.Sessions) == 0 {
			return false
		}
		ss = snap.Sessions[0]
		return len(ss.Framing) > 0
	})
	f := ss.Framing[0]
	if ss.Proto != live.Yamux || f.Dir != live.ServerToClient || f.YamuxCode != yamux.BadVersion || f.Offset != 0 {
		t.Fatalf("session %v, violation %+v; want yamux with a BAD_VERSION at offset 0 from the server", ss.Proto, f)
	}
	reg.Evaluate(time.Now(), live.FindingsConfig{})
	var found *live.Finding
	for _, g := range reg.Snapshot().Findings {
		if g.Code == live.CodeProtocol {
			found = g
		}
	}
	if found == nil || found.Evidence.Guess != wirekind.SmuxV1 || !strings.Contains(found.Text, "the server sent an smux v1 header, not yamux") {
		t.Fatalf("PROTOCOL finding: %+v", found)
	}
	// The client spoke yamux and was framed: the ends do differ.
	if !found.Evidence.PeerAnswered || !strings.HasPrefix(found.Advice, "fix the server's address or protocol") {
		t.Errorf("PROTOCOL advice with a yamux client: %q", found.Advice)
	}
}

// TestConnYamuxZeroAllocs checks that a tapped Read and Write of yamux
// frames allocate nothing in steady state, as for smux: RAND exchanges on
// ever new streams, past the point where closed streams are recycled.
func TestConnYamuxZeroAllocs(t *testing.T) {
	reg := live.New(live.Config{History: 1000, ClosedStreams: 100})
	mc := &memConn{}
	c := Wrap(mc, live.Client, reg, "allocs")
	var out, in []byte
	p := make([]byte, 64)
	sid := uint32(1)
	hdr := func(b []byte, t yamux.Type, f yamux.Flags, sid, n uint32) []byte {
		h := yamux.MakeHeader(t, f, sid, n)
		return append(b, h[:]...)
	}
	exchange := func() {
		sid += 2
		out = hdr(out[:0], yamux.WindowUpdate, yamux.SYN, sid, 0)
		out = append(hdr(out, yamux.Data, 0, sid, 4), "RAND"...)
		out = hdr(out, yamux.WindowUpdate, yamux.FIN, sid, 0)
		in = hdr(in[:0], yamux.Data, yamux.ACK, sid, 8)
		in = binary.BigEndian.AppendUint64(in, uint64(sid))
		in = hdr(in, yamux.WindowUpdate, yamux.FIN, sid, 0)
		if _, err := c.Write(out[:12]); err != nil { // SYN alone, then the rest in one write
			t.Fatal(err)
		}
		if _, err := c.Write(out[12:]); err != nil {
			t.Fatal(err)
		}
		mc.src = in
		if _, err := c.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		exchange()
	}
	if allocs := testing.AllocsPerRun(1000, exchange); allocs != 0 {
		t.Errorf("allocs per yamux RAND exchange = %v, want 0", allocs)
	}
	snap := reg.Snapshot()
	if got, want := snap.Totals.Type(yamux.Data), 2*uint64(1+500+1000); got != want || snap.Violations+snap.Anomalies != 0 {
		t.Errorf("DATA count = %d, want %d; violations %d, anomalies %d", got, want, snap.Violations, snap.Anomalies)
	}
}
