package tap

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// serveRAND answers every stream's "RAND" with 8 bytes and closes it.
func serveRAND(srv *smux.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var cmd [4]byte
			if _, err := io.ReadFull(st, cmd[:]); err != nil {
				return
			}
			var out [8]byte
			binary.BigEndian.PutUint64(out[:], 42)
			st.Write(out[:])
		}()
	}
}

// randRequest opens a stream, writes "RAND", reads 8 bytes and closes it.
func randRequest(cli *smux.Session) error {
	st, err := cli.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write([]byte("RAND")); err != nil {
		return err
	}
	var out [8]byte
	_, err = io.ReadFull(st, out[:])
	return err
}

func TestConnRecordsRAND(t *testing.T) {
	for _, version := range []int{1, 2} {
		reg := live.New(live.Config{})
		cli, srv := smuxtest.Pair(t, smuxtest.Config(version), func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "test") }, nil)
		go serveRAND(srv)
		const n = 20
		for range n {
			if err := randRequest(cli); err != nil {
				t.Fatal(err)
			}
		}
		// The last FIN from the server may still be in flight.
		deadline := time.Now().Add(5 * time.Second)
		snap := reg.Snapshot()
		for snap.Totals.Frames[live.ServerToClient][decoder.FIN] != n {
			if time.Now().After(deadline) {
				t.Fatalf("v%d: %d FINs from the server after 5 s, want %d", version, snap.Totals.Frames[live.ServerToClient][decoder.FIN], n)
			}
			time.Sleep(5 * time.Millisecond)
			snap = reg.Snapshot()
		}
		c := snap.Totals
		for _, tc := range []struct {
			name string
			got  uint64
			want uint64
		}{
			{"SYN →", c.Frames[live.ClientToServer][decoder.SYN], n},
			{"FIN →", c.Frames[live.ClientToServer][decoder.FIN], n},
			{"FIN ←", c.Frames[live.ServerToClient][decoder.FIN], n},
			{"PSH →", c.Frames[live.ClientToServer][decoder.PSH], n},
			{"PSH ←", c.Frames[live.ServerToClient][decoder.PSH], n},
		} {
			if tc.got != tc.want {
				t.Errorf("v%d %s = %d, want %d", version, tc.name, tc.got, tc.want)
			}
		}
		if len(snap.Sessions) != 1 {
			t.Fatalf("v%d sessions = %d, want 1", version, len(snap.Sessions))
		}
		ss := snap.Sessions[0]
		if ss.Version != uint8(version) || ss.Open != 0 || ss.Total != n {
			t.Errorf("v%d session: version %d open %d total %d, want %d 0 %d", version, ss.Version, ss.Open, ss.Total, version, n)
		}
		if ss.Streams[0].ID != 3 || ss.Streams[0].Opener != live.Client {
			t.Errorf("v%d first stream = %d by %v, want 3 by client", version, ss.Streams[0].ID, ss.Streams[0].Opener)
		}
		if snap.Violations != 0 || snap.Anomalies != 0 {
			t.Errorf("v%d violations %d anomalies %d, want none", version, snap.Violations, snap.Anomalies)
		}
	}
}

// smux sends a second FIN when Close follows CloseWrite (as its own
// half-close cleanup allows): correct programs must not show anomalies,
// and the FIN is still counted.
func TestRepeatedFINIsNotAnomalous(t *testing.T) {
	reg := live.New(live.Config{})
	c := Wrap(&memConn{}, live.Client, reg, "fin")
	var wire []byte
	for _, h := range []decoder.Header{
		decoder.MakeHeader(1, decoder.SYN, 0, 3),
		decoder.MakeHeader(1, decoder.FIN, 0, 3), // CloseWrite
		decoder.MakeHeader(1, decoder.FIN, 0, 3), // Close
	} {
		wire = append(wire, h[:]...)
	}
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	ss := reg.Snapshot().Sessions[0]
	st := ss.Stream(3)
	if ss.AnomalyCount != 0 || st == nil || st.Frames[live.ClientToServer] != 3 ||
		ss.Counts.Frames[live.ClientToServer][decoder.FIN] != 2 || st.State != live.HalfClosedByClient {
		t.Errorf("anomalies %d, stream %+v, FIN → %d: want 0 anomalies, 3 frames on a stream half-closed by the client, 2 FINs",
			ss.AnomalyCount, st, ss.Counts.Frames[live.ClientToServer][decoder.FIN])
	}
}

// memConn is a net.Conn over in-memory bytes: Write discards, Read serves src.
type memConn struct {
	net.Conn // nil: only Read, Write and the addresses are used
	src      []byte
}

func (c *memConn) Read(p []byte) (int, error) {
	n := copy(p, c.src)
	c.src = c.src[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *memConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *memConn) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *memConn) SetReadDeadline(time.Time) error {
	return nil
}

// TestConnZeroAllocs checks that a tapped Read and Write allocate nothing
// in steady state: RAND exchanges on ever new streams, past the point where
// closed streams are recycled.
func TestConnZeroAllocs(t *testing.T) {
	reg := live.New(live.Config{History: 1000, ClosedStreams: 100})
	mc := &memConn{}
	c := Wrap(mc, live.Client, reg, "allocs")
	var out, in [40]byte // SYN, PSH RAND, FIN → ; PSH 8, FIN ←
	p := make([]byte, 64)
	sid := uint32(1)
	exchange := func() {
		sid += 2
		h := decoder.MakeHeader(1, decoder.SYN, 0, sid)
		copy(out[0:], h[:])
		h = decoder.MakeHeader(1, decoder.PSH, 4, sid)
		copy(out[8:], h[:])
		copy(out[16:], "RAND")
		h = decoder.MakeHeader(1, decoder.FIN, 0, sid)
		copy(out[20:], h[:])
		h = decoder.MakeHeader(1, decoder.PSH, 8, sid)
		copy(in[0:], h[:])
		binary.BigEndian.PutUint64(in[8:], uint64(sid))
		h = decoder.MakeHeader(1, decoder.FIN, 0, sid)
		copy(in[16:], h[:])
		if _, err := c.Write(out[:8]); err != nil { // SYN alone, then the rest in one write
			t.Fatal(err)
		}
		if _, err := c.Write(out[8:28]); err != nil {
			t.Fatal(err)
		}
		mc.src = in[:24]
		if _, err := c.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 { // warm up past ClosedStreams
		exchange()
	}
	if allocs := testing.AllocsPerRun(1000, exchange); allocs != 0 {
		t.Errorf("allocs per RAND exchange = %v, want 0", allocs)
	}
	snap := reg.Snapshot()
	if got, want := snap.Totals.Cmd(decoder.SYN), uint64(1+500+1000); got != want {
		t.Errorf("SYN count = %d, want %d", got, want)
	}
}

// A tapped listener taps every conn it accepts as the server end: the
// client's frames are →, and the peer is the client.
func TestListenerTapsServerSide(t *testing.T) {
	reg := live.New(live.Config{})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := WrapListener(raw, reg, "server")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		srv, err := smux.Server(c, smux.DefaultConfig())
		if err != nil {
			return
		}
		defer srv.Close()
		serveRAND(srv)
	}()
	conn, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := smux.Client(conn, smux.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := randRequest(cli); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	<-done
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("sessions = %d, want 1", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	if ss.Info.Tap != live.Server || ss.Peer() != conn.LocalAddr().String() || ss.Info.Label != "server" {
		t.Errorf("session info %+v, peer %s; want tapped as server, peer %s", ss.Info, ss.Peer(), conn.LocalAddr())
	}
	if got := ss.Counts.Frames[live.ClientToServer][decoder.SYN]; got != 1 {
		t.Errorf("SYN → = %d, want 1", got)
	}
	if !ss.Ended {
		t.Error("the session did not end when the client closed")
	}
}

// TestWrapRefusesBadSide: a Side that is neither Client nor Server panics
// in Wrap, where the caller made the mistake, rather than in the session's
// reads later with a session lock held, which hung every snapshot after.
func TestWrapRefusesBadSide(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "want live.Client or live.Server") {
			t.Errorf("recovered %v, want Wrap's panic naming the sides", r)
		}
	}()
	Wrap(a, live.Side(9), live.New(live.Config{}), "x")
}
