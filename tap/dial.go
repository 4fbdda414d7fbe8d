package tap

import (
	"context"
	"net"

	"github.com/muxtop/muxtop/live"
)

// Dialer returns a dial function, such as demo.Config.Dial takes, that
// dials like a net.Dialer and taps every conn it opens as the client end
// of a session labelled label: WrapListener's counterpart on the side that
// dials. Each conn is wrapped with opts. It panics at once if reg is
// nil, rather than at the first conn dialed.
func Dialer(reg *live.Registry, label string, opts ...Option) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if reg == nil {
		panic("tap.Dialer: nil *live.Registry: want one from live.New to record into")
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c, live.Client, reg, label, opts...), nil
	}
}
