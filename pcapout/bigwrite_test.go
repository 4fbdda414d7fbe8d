package pcapout_test

import (
	"io"
	"log"
	"net"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestBigWriteNoZeroWindow: a tapped hashicorp/yamux client with 16 MiB
// stream windows sends 32 MiB over an 8 MiB/s path to a server that reads
// all along, recorded to a file. yamux writes a DATA frame's payload, up
// to a whole window, in one Write, which the path takes 2 s to move; the
// tap writes it a chunk (128 KiB, 16 ms of the path) at a time, each a
// write to the recorder, and none is held: the file never shows the
// server's window closed for a second. Before, each big write was one
// held write, written as the server's zero window for as long as the
// path took to move it ("the server's windows: [… 0 …]"), which `read`
// of the file named SESSION_BLOCKED. (A chunk a loaded machine under
// -race holds HeldAfter, 100 ms, is written as a short zero window, as
// it should be: ci86 saw one.)
func TestBigWriteNoZeroWindow(t *testing.T) {
	const size = 32 << 20
	var buf lockedBuffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	c, s := smuxtest.Conns(t)
	cfg := func() *hyamux.Config {
		cfg := hyamux.DefaultConfig()
		cfg.MaxStreamWindowSize = 16 << 20
		cfg.EnableKeepAlive = false
		cfg.LogOutput, cfg.Logger = nil, log.New(io.Discard, "", 0)
		// A 16 MiB frame takes 2 s of the paced path; a loaded machine
		// under -race took more than yamux's 10 s ConnectionWriteTimeout,
		// which failed the write ("the server read 16777216 bytes, want
		// 33554432"): not this test's matter.
		cfg.ConnectionWriteTimeout = 2 * time.Minute
		return cfg
	}
	cli, err := hyamux.Client(tap.Wrap(smuxtest.PacedConn{Conn: c, Rate: 8 << 20}, live.Client, reg, "paced", tap.WithProtocol(tap.Yamux), tap.Record(w)), cfg())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hyamux.Server(s, cfg())
	if err != nil {
		t.Fatal(err)
	}
	got := smuxtest.YamuxTransfer(t, cli, srv, size)
	select {
	case n := <-got:
		if n != size {
			t.Fatalf("the server read %d bytes, want %d", n, size)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the transfer has not ended after 2 minutes")
	}
	cli.Close()
	srv.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	port := uint16(s.LocalAddr().(*net.TCPAddr).Port)
	ws, ats := windowsAt(buf.bytes(), port)
	if len(ws) == 0 {
		t.Fatal("no packet of the server's in the file")
	}
	var closed time.Time
	for i, v := range ws {
		switch {
		case v == 0 && closed.IsZero():
			closed = ats[i]
		case v != 0 && !closed.IsZero():
			if held := ats[i].Sub(closed); held >= time.Second {
				t.Fatalf("the server's window closed for %v; want never a second: it read all along (its windows: %v)", held, ws)
			}
			closed = time.Time{}
		}
	}
	if !closed.IsZero() {
		t.Fatalf("the server's window closed at the end; want open: it read all along (its windows: %v)", ws)
	}
}
