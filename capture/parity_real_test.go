package capture_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestParityRolesReal reads back the capture of real smux v1, v2 and
// hashicorp/yamux sessions whose ends run the mux roles either way round
// (livecaptest.ParityScenarios), written by a tap at the end that dialed:
// with its TCP handshake, so the dialer is the client. A reverse agent's
// session, the dialer running Server, shows no WRONG_PARITY, where every
// stream was one (a capture joined mid-way, its handshake unseen, oriented
// its roles by the ids and showed none); two Clients connected to each
// other are named at the second one's SYNs, whichever opened first.
func TestParityRolesReal(t *testing.T) {
	for _, m := range livecaptest.Muxes() {
		for _, sc := range livecaptest.ParityScenarios() {
			t.Run(m.Name+"/"+sc.Name, func(t *testing.T) {
				var b bytes.Buffer
				w, err := pcapout.New(&b, 0)
				if err != nil {
					t.Fatal(err)
				}
				tapped := live.New(live.Config{})
				dialer, acceptor := livecaptest.Roles(t, m, func(c net.Conn) net.Conn {
					return tap.Wrap(c, live.Client, tapped, m.Name, tap.Record(w))
				}, sc.DialerClient, sc.AcceptorClient)
				sc.Run(t, dialer, acceptor)
				livecaptest.Settle(t, tapped, 0)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if ps := pcaptest.Read(t, bytes.NewReader(b.Bytes())); len(ps) == 0 || !ps[0].TCP.SYN || ps[0].TCP.ACK {
					t.Fatalf("the capture (%d packets) does not begin with the dialer's TCP SYN", len(ps))
				}
				reg, _ := pcaptest.ReadAll(t, bytes.NewReader(b.Bytes()), capture.Config{})
				sc.Check(t, m, reg.Snapshot())
			})
		}
	}
}
