package pcapout_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// lockedBuffer is a bytes.Buffer a test reads while a Writer writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// windows returns the TCP windows the packets from port advertise in
// the capture b, in order, as far as its blocks have come.
func windows(b []byte, port uint16) []uint16 {
	ws, _ := windowsAt(b, port)
	return ws
}

// windowsAt is windows, with each packet's time.
func windowsAt(b []byte, port uint16) ([]uint16, []time.Time) {
	ng, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nil, nil
	}
	var ws []uint16
	var ats []time.Time
	for {
		data, ci, err := ng.ReadPacketData()
		if err != nil { // io.EOF at the end
			return ws, ats
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && uint16(tcp.SrcPort) == port {
			ws = append(ws, tcp.Window)
			ats = append(ats, ci.Timestamp)
		}
	}
}

// TestHeldWriteFailedNotReopened: a write held long enough to be written
// as its receiver's zero window that then fails (the conn closed under
// it, as when attach shuts down) is not the window opening: the receiver
// never took the bytes. Before, the writer wrote a `win 65535` ACK of the
// server's at the failure, and read of attach's file resolved
// SESSION_BLOCKED "the receiver's TCP window opened" where attach said it
// still held when it stopped.
func TestHeldWriteFailedNotReopened(t *testing.T) {
	var buf lockedBuffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now()).(tap.HeldRecorder)
	c.Write(live.ClientToServer, time.Time{}, []byte("ping"))
	c.WriteStarted(live.ClientToServer)
	smuxtest.Eventually(t, "the server's zero window in the file", func() bool {
		ws := windows(buf.bytes(), 9000)
		return len(ws) > 0 && ws[len(ws)-1] == 0
	})
	c.WriteDone(live.ClientToServer, true)
	// Two samples after the failure: the writer has seen the write return.
	n := pcapout.HeldSamples(w)
	smuxtest.Eventually(t, "two samples of the failed write", func() bool { return pcapout.HeldSamples(w) >= n+2 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ws := windows(buf.bytes(), 9000)
	zero := false
	for _, v := range ws {
		if v == 0 {
			zero = true
		} else if zero {
			t.Fatalf("the server's windows: %v; want it closed from its zero window on, the held write having failed", ws)
		}
	}
	if !zero {
		t.Fatalf("the server's windows: %v; want a zero window", ws)
	}

	// A write that returned is the window opening.
	buf = lockedBuffer{}
	if w, err = pcapout.New(&buf, 0); err != nil {
		t.Fatal(err)
	}
	c = w.Conn("127.0.0.1:40000", "127.0.0.1:9000", time.Now()).(tap.HeldRecorder)
	c.Write(live.ClientToServer, time.Time{}, []byte("ping"))
	c.WriteStarted(live.ClientToServer)
	smuxtest.Eventually(t, "the server's zero window in the file", func() bool {
		ws := windows(buf.bytes(), 9000)
		return len(ws) > 0 && ws[len(ws)-1] == 0
	})
	c.WriteDone(live.ClientToServer, false)
	smuxtest.Eventually(t, "the server's window open again", func() bool {
		ws := windows(buf.bytes(), 9000)
		return len(ws) > 0 && ws[len(ws)-1] == 65535
	})
	w.Close()
}
