package tap

import (
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// serveEager answers every stream as soon as it is accepted, before
// reading anything: the answer can reach the tapped client while its own
// SYN's Write has not yet returned.
func serveEager(srv *smux.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			st.Write([]byte("hello"))
			st.Close()
		}()
	}
}

// TestWriteRecordedBeforeAnswer: a frame the tapped end writes is recorded
// before any answer to it. Before the fix, a server that answers on accept
// had its PSH and FIN recorded before the client's SYN: flagged
// UNKNOWN_STREAM, the stream never closed and counted as a leak.
func TestWriteRecordedBeforeAnswer(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			reg := live.New(live.Config{History: 1 << 16})
			cli, srv := smuxtest.Pair(t, smuxtest.Config(version),
				func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "test") }, nil)
			go serveEager(srv)
			const n = 2000
			var wg sync.WaitGroup
			sem := make(chan struct{}, 32)
			for range n {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					st, err := cli.OpenStream()
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, st)
					st.Close()
				}()
			}
			wg.Wait()
			smuxtest.Eventually(t, "every stream closed both ways", func() bool {
				ss := reg.Snapshot().Sessions[0]
				return ss.Counts.Frames[live.ClientToServer][decoder.FIN] == n && ss.Counts.Frames[live.ServerToClient][decoder.FIN] == n
			})
			snap := reg.SnapshotWith(live.SnapshotOptions{LeakAfter: time.Nanosecond})
			ss := snap.Sessions[0]
			if ss.AnomalyCount != 0 || ss.Open != 0 || ss.Aged != 0 {
				t.Errorf("anomalies %d (first %+v), open %d, older than 1ns %d: want none", ss.AnomalyCount, ss.Anomalies[:min(1, len(ss.Anomalies))], ss.Open, ss.Aged)
			}
			// Every stream's first record is the client's SYN.
			seen := map[uint32]bool{}
			recs, _ := reg.Frames(live.Query{Scan: 1 << 20}, nil)
			for _, r := range recs {
				if r.Kind != live.FrameRecord || r.Header.StreamID() == 0 {
					continue
				}
				sid := r.Header.StreamID()
				if !seen[sid] && (r.Dir != live.ClientToServer || r.Header.Cmd() != decoder.SYN) {
					t.Fatalf("stream %d: first record is %v %v, want the client's SYN", sid, r.Dir, r.Header.Cmd())
				}
				seen[sid] = true
			}
			if len(seen) != n {
				t.Errorf("%d streams in history, want %d", len(seen), n)
			}
		})
	}
}

// TestHealthyBulkV2: in a healthy v2 transfer, the writer touches its
// window all the time. No snapshot may show it STALLED, nor an in-flight
// count below zero (a UPD recorded before the data it acknowledges made it
// negative). In flight may pass the window: the writer starts with smux's
// initial 256 KiB, and the reader's first UPD may announce less.
func TestHealthyBulkV2(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(2)
	cfg.MaxStreamBuffer = 65536
	cli, srv := smuxtest.Pair(t, cfg, func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "test") }, nil)
	const total = 64 << 20
	done := make(chan error, 1)
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			done <- err
			return
		}
		_, err = io.CopyN(io.Discard, st, total)
		done <- err
	}()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	go func() { st.Write(make([]byte, total)) }()
	snaps, seen := 0, 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if seen == 0 {
				t.Fatalf("no snapshot of %d saw the stream carry data: the test checked nothing", snaps)
			}
			return
		default:
		}
		snap := reg.Snapshot()
		snaps++
		if snap.Stalls != 0 {
			t.Fatalf("snapshot %d: %d stalls in a healthy transfer", snaps, snap.Stalls)
		}
		if s := snap.Sessions[0].Stream(st.ID()); s != nil {
			if s.Bytes[live.ClientToServer] > 0 {
				seen++
			}
			for d, fl := range s.Flow {
				if in := fl.InFlight(); in < 0 {
					t.Fatalf("snapshot %d: %v in flight %d of window %d", snaps, live.Dir(d), in, fl.Window())
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// failingConn sends only the first limit bytes written to it, then fails
// every write, as a connection does when its peer resets it.
type failingConn struct {
	net.Conn
	mu     sync.Mutex
	limit  int
	sent   []byte // what went out
	failed bool
	unsent int64 // of the first failed write: the bytes it did not send
}

var errFailed = errors.New("write: connection reset by peer")

func (c *failingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(p), c.limit-len(c.sent))
	c.sent = append(c.sent, p[:n]...)
	if n < len(p) {
		if !c.failed {
			c.failed, c.unsent = true, int64(len(p)-n)
		}
		return n, errFailed
	}
	return n, nil
}

// TestShortWrite: bytes a failed write never sent are not counted as sent.
// The counts equal a fresh decoding of the bytes that did go out, and a
// frame the failure cut in two is named TRUNCATED.
func TestShortWrite(t *testing.T) {
	frames := [][]byte{
		wireFrame(decoder.MakeHeader(1, decoder.SYN, 0, 3), ""),
		wireFrame(decoder.MakeHeader(1, decoder.PSH, 4, 3), "RAND"),
		wireFrame(decoder.MakeHeader(1, decoder.PSH, 10, 3), "0123456789"),
		wireFrame(decoder.MakeHeader(1, decoder.FIN, 0, 3), ""),
	}
	var wire []byte
	for _, f := range frames {
		wire = append(wire, f...)
	}
	for limit := 0; limit <= len(wire); limit++ {
		for _, oneWrite := range []bool{true, false} {
			reg := live.New(live.Config{})
			fc := &failingConn{Conn: &memConn{}, limit: limit}
			c := Wrap(fc, live.Client, reg, "test")
			if oneWrite {
				c.Write(wire)
			} else {
				for _, f := range frames {
					if _, err := c.Write(f); err != nil {
						break
					}
				}
			}
			ss := reg.Snapshot().Sessions[0]
			// An independent count of what went out.
			want := live.Counts{}
			d := decoder.New(0)
			for p := fc.sent; len(p) > 0; {
				n, f, _ := d.Next(p)
				p = p[n:]
				if f != nil {
					want.Frames[0][f.Header.Cmd()]++
					want.Bytes[0][f.Header.Cmd()] += decoder.HeaderSize + uint64(f.Header.Length())
				}
			}
			cut := d.Pending()
			if ss.Counts != want || ss.WireBytes(0) != uint64(len(fc.sent)) {
				t.Errorf("limit %d, one write %v: counts %v, wire bytes %d; want %v, %d", limit, oneWrite, ss.Counts, ss.WireBytes(0), want, len(fc.sent))
			}
			if limit < len(wire) && (!ss.Ended || ss.Unsent[0] == 0) {
				t.Errorf("limit %d, one write %v: ended %v, unsent %d: want the session ended with bytes unsent", limit, oneWrite, ss.Ended, ss.Unsent[0])
			}
			truncated := len(ss.Framing) == 1 && ss.Framing[0].Code == decoder.Truncated
			if (cut > 0) != truncated {
				t.Errorf("limit %d, one write %v: %d bytes of a frame went out, framing %+v", limit, oneWrite, cut, ss.Framing)
			}
			if got, want := ss.Accounted(), ss.Counted(); got != want {
				t.Errorf("limit %d: accounted %+v, counted %+v", limit, got, want)
			}
			checkUnsentNotice(t, reg, ss, fc.unsent, int64(len(fc.sent)))
		}
	}
}

// checkUnsentNotice checks that the session ss counts as unsent the bytes
// a failed write did not send, unsent by the connection's own count, and
// that history says which: one notice of the session, after every frame
// recorded from the offset where sending stopped on, naming that offset
// and the bytes; none when everything went out.
func checkUnsentNotice(t *testing.T, reg *live.Registry, ss *live.SessionSnap, unsent, sentTo int64) {
	t.Helper()
	if ss.Unsent[0] != unsent {
		t.Errorf("sent to %d: %d bytes counted unsent, the connection refused %d", sentTo, ss.Unsent[0], unsent)
	}
	recs, _ := reg.Frames(live.Query{}, nil)
	var notices []live.Record
	for _, r := range recs {
		switch {
		case r.Kind == live.NoticeRecord:
			notices = append(notices, r)
		case r.Kind == live.FrameRecord && r.Offset >= sentTo && len(notices) > 0:
			t.Errorf("sent to %d: frame at offset %d recorded after the notice %q", sentTo, r.Offset, notices[0].Detail)
		}
	}
	if unsent == 0 {
		if len(notices) != 0 {
			t.Errorf("nothing unsent, yet notices %+v", notices)
		}
		return
	}
	if len(notices) != 1 {
		t.Fatalf("sent to %d, %d unsent: notices %+v, want one", sentTo, unsent, notices)
	}
	n := notices[0]
	if want := live.UnsentText(live.ClientToServer, sentTo, unsent); n.Session != 1 || n.Dir != live.ClientToServer || n.Offset != sentTo || n.Detail != want {
		t.Errorf("notice %+v, want session 1, → offset %d: %q", n, sentTo, want)
	}
}

// wireFrame returns a frame's bytes: h, then payload.
func wireFrame(h decoder.Header, payload string) []byte { return append(h[:], payload...) }

// TestVersionMismatch: a v1 client against a v2 server. Both ends refuse
// the other's frames ("invalid protocol"); muxtop names it, at the first
// foreign frame when the tap knows its end's version, else as soon as it
// has seen both directions, and frames nothing more either way.
func TestVersionMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"told the local version", []Option{Version(1)}},
		{"finding it out", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cliCfg, srvCfg := smuxtest.Config(1), smuxtest.Config(2)
			cliCfg.KeepAliveInterval = 20 * time.Millisecond // the server's NOP reveals its version
			srvCfg.KeepAliveInterval = 20 * time.Millisecond
			cc, sc := smuxtest.Conns(t)
			cli, err := smux.Client(Wrap(cc, live.Client, reg, "test", tc.opts...), cliCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			srv, err := smux.Server(sc, srvCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.Write([]byte("RAND"))
			smuxtest.Eventually(t, "VERSION_MISMATCH both ways", func() bool {
				return len(reg.Snapshot().Sessions[0].Framing) == 2
			})
			ss := reg.Snapshot().Sessions[0]
			for _, f := range ss.Framing {
				if f.Code != decoder.VersionMismatch {
					t.Errorf("%v: %v, want VERSION_MISMATCH", f.Dir, f.Code)
				}
				speaks := map[live.Dir]uint8{live.ClientToServer: 1, live.ServerToClient: 2}
				if f.Header.Version() != speaks[f.Dir] || f.Want != speaks[f.Dir.Reverse()] {
					t.Errorf("%v: a v%d frame to an end that speaks v%d, want v%d to v%d",
						f.Dir, f.Header.Version(), f.Want, speaks[f.Dir], speaks[f.Dir.Reverse()])
				}
			}
			if ss.Versions != [2]uint8{1, 2} {
				t.Errorf("versions %v, want [1 2]", ss.Versions)
			}
			// smux's server never accepted the stream: muxtop must not show
			// the server's side of it as healthy, and frames nothing more.
			before := ss.Counts
			time.Sleep(100 * time.Millisecond) // more keepalives
			if after := reg.Snapshot().Sessions[0].Counts; after != before {
				t.Errorf("frames counted after the mismatch: %v, then %v", before, after)
			}
			if ss.WireBytes(live.ServerToClient) == 0 {
				t.Errorf("the server's bytes are not counted as wire bytes")
			}
		})
	}
}

// eofConn serves src to Read, then io.EOF.
type eofConn struct{ memConn }

func (c *eofConn) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	return c.memConn.Read(p)
}

func (c *eofConn) Close() error { return nil }

// TestTruncatedByEOF: a frame that the end of the connection cuts short is
// named TRUNCATED with its offset (and header, when complete), and its
// bytes still count as wire bytes; smux's read returns "unexpected EOF".
func TestTruncatedByEOF(t *testing.T) {
	syn := wireFrame(decoder.MakeHeader(2, decoder.SYN, 0, 2), "")
	psh := wireFrame(decoder.MakeHeader(2, decoder.PSH, 8, 2), "12345678")
	for cut := 1; cut < len(psh); cut++ {
		reg := live.New(live.Config{})
		c := Wrap(&eofConn{memConn{src: append(slices.Clone(syn), psh[:cut]...)}}, live.Client, reg, "test")
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		// The server's EOF closed its side; this end's is open until it
		// closes the conn, as smux does once its reader fails.
		if ss := reg.Snapshot().Sessions[0]; ss.Ended || ss.DirEnded[live.ServerToClient].IsZero() {
			t.Fatalf("cut %d: ended %v (%v), server's side ended at %v: want live, the server's side closed", cut, ss.Ended, ss.Reason, ss.DirEnded[live.ServerToClient])
		}
		c.Close()
		ss := reg.Snapshot().Sessions[0]
		if !ss.Ended || ss.Reason != live.LocalClose || !strings.HasPrefix(ss.Err, "the server 127.0.0.1:2 had closed its side of the connection ") || len(ss.Framing) != 1 {
			t.Fatalf("cut %d: ended %v %v %q, framing %+v: want closed locally after the server's EOF, and one violation", cut, ss.Ended, ss.Reason, ss.Err, ss.Framing)
		}
		f := ss.Framing[0]
		var wantHdr decoder.Header
		copy(wantHdr[:], psh[:min(cut, decoder.HeaderSize)])
		if f.Code != decoder.Truncated || f.Offset != int64(len(syn)) || f.Header != wantHdr || f.Dir != live.ServerToClient {
			t.Errorf("cut %d: %+v, want TRUNCATED at %d with header %v", cut, f, len(syn), wantHdr)
		}
		if got := ss.WireBytes(live.ServerToClient); got != uint64(len(syn)+cut) {
			t.Errorf("cut %d: wire bytes %d, want %d", cut, got, len(syn)+cut)
		}
	}
}

// TestStallEndsWithTheWriter: STALLED means a writer is held back. Once the
// blocked writer has sent its FIN (Close or CloseWrite), smux fails any
// further write: the stream is no longer stalled, though its bytes still
// sit at the window. A write that fills the window exactly and returns is
// at the window, not stalled.
func TestStallEndsWithTheWriter(t *testing.T) {
	const window, stallAfter = 65536, 50 * time.Millisecond
	opts := live.SnapshotOptions{StallAfter: stallAfter}
	setup := func(t *testing.T) (*live.Registry, *smux.Stream, *smux.Stream) {
		reg := live.New(live.Config{})
		cfg := smuxtest.Config(2)
		cfg.MaxStreamBuffer = window
		cli, srv := smuxtest.Pair(t, cfg, func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "test") }, nil)
		cst, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		cst.Write([]byte("x"))
		sst, err := srv.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(sst, make([]byte, 1)) // the first read sends UPD(1, window)
		smuxtest.Eventually(t, "the first UPD", func() bool {
			st := reg.Snapshot().Sessions[0].Stream(cst.ID())
			return st != nil && st.Flow[live.ClientToServer].HasUPD
		})
		return reg, cst, sst
	}
	stream := func(reg *live.Registry, sid uint32) (*live.Snapshot, *live.StreamSnap) {
		snap := reg.SnapshotWith(opts)
		return snap, snap.Sessions[0].Stream(sid)
	}
	for _, end := range []string{"Close", "CloseWrite"} {
		t.Run(end, func(t *testing.T) {
			reg, cst, _ := setup(t)
			wrote := make(chan error, 1)
			go func() { _, err := cst.Write(make([]byte, 1<<20)); wrote <- err }()
			smuxtest.Eventually(t, "the stall", func() bool {
				snap, _ := stream(reg, cst.ID())
				return snap.Stalls == 1
			})
			if end == "Close" {
				cst.Close()
			} else {
				cst.CloseWrite()
			}
			if err := <-wrote; err == nil {
				t.Fatal("the blocked write succeeded")
			}
			smuxtest.Eventually(t, "the writer's FIN", func() bool {
				_, st := stream(reg, cst.ID())
				return st.State == live.HalfClosedByClient
			})
			time.Sleep(2 * stallAfter)
			snap, st := stream(reg, cst.ID())
			if _, stalled := st.Stalled(snap.At, stallAfter); stalled || snap.Stalls != 0 {
				t.Errorf("after %s: stalled %v, %d stalls; want none", end, stalled, snap.Stalls)
			}
			if !st.Flow[live.ClientToServer].AtWindow() {
				t.Errorf("after %s: the bytes no longer sit at the window: %+v", end, st.Flow)
			}
		})
	}
	t.Run("a write that fills the window", func(t *testing.T) {
		reg, cst, sst := setup(t)
		if _, err := cst.Write(make([]byte, window)); err != nil { // 1 + window written, 1 consumed: in flight = window
			t.Fatal(err)
		}
		snap, st := stream(reg, cst.ID())
		if _, stalled := st.Stalled(snap.At, stallAfter); stalled || !st.Flow[live.ClientToServer].AtWindow() {
			t.Errorf("right after the write: stalled %v, flow %+v; want at the window, not stalled", stalled, st.Flow)
		}
		io.ReadFull(sst, make([]byte, window))
		smuxtest.Eventually(t, "the reader's UPD", func() bool {
			_, st := stream(reg, cst.ID())
			return !st.Flow[live.ClientToServer].AtWindow()
		})
	})
}

// closedConn serves src to Read, then fails as a conn this end closed.
type closedConn struct{ memConn }

func (c *closedConn) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, net.ErrClosed
	}
	return c.memConn.Read(p)
}

// TestLocalCloseMidFrame: when the tapped end closes its conn between
// smux's read of a header and of its payload, the peer cut nothing short:
// no TRUNCATED, and the bytes read still count.
func TestLocalCloseMidFrame(t *testing.T) {
	hdr := decoder.MakeHeader(1, decoder.PSH, 8, 3)
	reg := live.New(live.Config{})
	c := Wrap(&closedConn{memConn{src: hdr[:]}}, live.Client, reg, "test")
	buf := make([]byte, 8)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	ss := reg.Snapshot().Sessions[0]
	if len(ss.Framing) != 0 || ss.WireBytes(live.ServerToClient) != decoder.HeaderSize || ss.Reason != live.LocalClose {
		t.Errorf("framing %+v, wire bytes %d, reason %v: want no violation, 8 bytes, local close", ss.Framing, ss.WireBytes(live.ServerToClient), ss.Reason)
	}
}

// halfCloseConn is a memConn that can be closed, both ways or for writing.
type halfCloseConn struct{ memConn }

func (c *halfCloseConn) Close() error      { return nil }
func (c *halfCloseConn) CloseWrite() error { return nil }

// TestTruncatedByOwnClose: a tapped end that writes part of a frame and
// then closes its conn, or half-closes it, has cut that frame short: the
// peer's read of it fails. It is TRUNCATED, and its bytes count as wire
// bytes. (smux writes each frame whole; another writer over a tapped conn
// may not.) Found by internal/smuxdiff with a raw peer tapped.
func TestTruncatedByOwnClose(t *testing.T) {
	syn := wireFrame(decoder.MakeHeader(2, decoder.SYN, 0, 3), "")
	psh := wireFrame(decoder.MakeHeader(2, decoder.PSH, 8, 3), "12345678")
	for _, how := range []string{"Close", "CloseWrite"} {
		for cut := 0; cut < len(psh); cut++ {
			reg := live.New(live.Config{})
			c := Wrap(&halfCloseConn{}, live.Client, reg, "test")
			if _, err := c.Write(append(slices.Clone(syn), psh[:cut]...)); err != nil {
				t.Fatal(err)
			}
			if how == "Close" {
				c.Close()
			} else if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			ss := reg.Snapshot().Sessions[0]
			if got := ss.WireBytes(live.ClientToServer); got != uint64(len(syn)+cut) {
				t.Errorf("%s after %d bytes of a frame: wire bytes %d, want %d", how, cut, got, len(syn)+cut)
			}
			if cut == 0 {
				if len(ss.Framing) != 0 {
					t.Errorf("%s after whole frames: %+v", how, ss.Framing)
				}
				continue
			}
			var hdr decoder.Header
			copy(hdr[:], psh[:min(cut, decoder.HeaderSize)])
			if len(ss.Framing) != 1 || ss.Framing[0].Code != decoder.Truncated || ss.Framing[0].Offset != int64(len(syn)) || ss.Framing[0].Header != hdr {
				t.Errorf("%s after %d bytes of a frame: %+v, want TRUNCATED at %d with header %v", how, cut, ss.Framing, len(syn), hdr)
			}
			if a, c := ss.Accounted(), ss.Counted(); a != c {
				t.Errorf("accounted %+v, counted %+v", a, c)
			}
		}
	}
}
