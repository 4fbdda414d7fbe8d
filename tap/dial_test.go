package tap

import (
	"context"
	"net"
	"testing"

	"github.com/muxtop/muxtop/live"
)

func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reg := live.New(live.Config{})
	dial := Dialer(reg, "gateway")
	c, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions after a dial, want 1", len(snap.Sessions))
	}
	info := snap.Sessions[0].Info
	if info.Tap != live.Client || info.Label != "gateway" || info.Server != ln.Addr().String() || info.Client != c.LocalAddr().String() {
		t.Errorf("session %+v: want the client end tapped, labelled gateway, to %s", info, ln.Addr())
	}
	if _, err := dial(context.Background(), "tcp", "127.0.0.1:0"); err == nil {
		t.Error("a dial to port 0 succeeded")
	}
	if n := len(reg.Snapshot().Sessions); n != 1 {
		t.Errorf("a failed dial opened a session: %d sessions", n)
	}
}
