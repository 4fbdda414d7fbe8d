package tap

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestUnsentPrefixNotWireBytes: a client tapped with --skip 1 (Consul's
// RPC type byte before yamux) whose first Write, the prefix and a yamux
// header in one, fails before any byte went out. README: over a tap the
// wire bytes are every byte the connection carried, a failed write's
// unsent bytes taken back out (unsent, not in bytes). The byte of the
// prefix that never went out must not count in both.
func TestUnsentPrefixNotWireBytes(t *testing.T) {
	for _, limit := range []int{0, 1} {
		reg := live.New(live.Config{})
		fc := &failingConn{Conn: &memConn{}, limit: limit}
		c := Wrap(fc, live.Client, reg, "test", WithProtocol(Yamux), Skip(1))
		p := append([]byte{0x04}, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0) // RPC type; yamux WINDOW_UPDATE SYN of stream 1
		c.Write(p)
		snap := reg.Snapshot()
		if len(snap.Sessions) != 1 {
			t.Fatalf("%d sessions", len(snap.Sessions))
		}
		ss := snap.Sessions[0]
		d := live.ClientToServer
		if got := int64(ss.WireBytes(d)); got != int64(len(fc.sent)) || got+ss.Unsent[d] != int64(len(p)) {
			t.Errorf("limit %d: %d bytes went out; wire bytes %d (unparsed %d, prefix %d), unsent %d: want %d and %d",
				limit, len(fc.sent), got, ss.Unparsed[d], ss.Prefix[d], ss.Unsent[d], len(fc.sent), len(p)-len(fc.sent))
		}
	}
}
