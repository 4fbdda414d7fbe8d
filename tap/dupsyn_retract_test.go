package tap

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxDuplicateSYNRetracted: a tapped yamux client opens stream 1
// (a window update with SYN), then writes a DATA|SYN for stream 1 again,
// with a payload, and that write fails, sending nothing. The duplicate
// SYN's payload is none of the stream's bytes (yamux ends the session on
// it, "duplicate stream initiated", and reads none of it), so taking the
// frame back must take none of it off the stream: before, its bytes and
// its Written went below zero, 2^64 and 2^32 less the payload.
func TestYamuxDuplicateSYNRetracted(t *testing.T) {
	syn := yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)
	dup := yamux.MakeHeader(yamux.Data, yamux.SYN, 1, 5)
	reg := live.New(live.Config{History: 64})
	fc := &failingConn{Conn: &memConn{}, limit: len(syn)}
	c := Wrap(fc, live.Client, reg, "test", WithProtocol(Yamux))
	if _, err := c.Write(syn[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(dup[:], "hello"...)); err == nil {
		t.Fatal("the duplicate SYN's write went out; want it failed")
	}
	ss := reg.Snapshot().Sessions[0]
	if len(ss.Streams) != 1 {
		t.Fatalf("%d streams, want stream 1", len(ss.Streams))
	}
	st := ss.Streams[0]
	c2s := live.ClientToServer
	if st.Frames[c2s] != 1 || st.Bytes[c2s] != 0 || st.Wire[c2s] != yamux.HeaderSize || st.Flow[c2s].Written != 0 {
		t.Errorf("stream 1 from the client: %d frames, %d bytes, %d wire bytes, written %d; want the SYN alone: 1, 0, %d, 0",
			st.Frames[c2s], st.Bytes[c2s], st.Wire[c2s], st.Flow[c2s].Written, yamux.HeaderSize)
	}
	if got := ss.WireBytes(c2s); got != yamux.HeaderSize {
		t.Errorf("the session's wire bytes from the client %d, want %d", got, yamux.HeaderSize)
	}
}
