package live_test

import (
	"net"
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
				sc.Check(t, m, livecaptest.Settle(t, reg, 0))
			})
		}
	}
}
