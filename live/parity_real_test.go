package live_test

import (
	"net"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestParityRolesReal runs real smux v1, v2 and hashicorp/yamux sessions
// whose ends run the mux roles either way round, tapped at the end that
// dialed (tap.Wrap, as the client: the TCP roles). A reverse agent's
// session, the dialer running Server and the acceptor Client, opens the
// client's ids from the acceptor: no WRONG_PARITY, where every stream was
// one when the dialer was taken for the mux client. Two Clients connected
// to each other both open odd ids: the second to open is named for each
// SYN after its first (which reuses the first one's id: REUSED_ID),
// whichever side opened first.
func TestParityRolesReal(t *testing.T) {
	for _, m := range livecaptest.Muxes() {
		for _, sc := range livecaptest.ParityScenarios() {
			t.Run(m.Name+"/"+sc.Name, func(t *testing.T) {
				reg := live.New(live.Config{})
				dialer, acceptor := livecaptest.Roles(t, m, func(c net.Conn) net.Conn {
					return tap.Wrap(c, live.Client, reg, m.Name)
				}, sc.DialerClient, sc.AcceptorClient)
				sc.Run(t, dialer, acceptor)
				snap := livecaptest.Settle(t, reg, 0)
				if len(snap.Sessions) != 1 {
					t.Fatalf("%d sessions, want 1", len(snap.Sessions))
				}
				ss := snap.Sessions[0]
				got, want := livecaptest.Anomalies(ss), sc.Want(m)
				if !slices.Equal(got, want) || ss.AnomalyCount != uint64(len(want)) {
					t.Errorf("anomalies %q (%d), want %q", got, ss.AnomalyCount, want)
				}
				if len(ss.Framing) != 0 {
					t.Errorf("violations: %+v", ss.Framing)
				}
			})
		}
	}
}
