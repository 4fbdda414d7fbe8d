package tap_test

import (
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestTransportUnnamedEnds: a server taps the unix listener it serves
// (tap.WrapListener over a *net.UnixListener); its client's socket has no
// name, which Go gives as "@". A session over a net.Pipe has ends whose
// address is the word "pipe". Neither is an address: the session records
// none for such an end, and the words name it by its role alone ("the
// client closed …", never "the client @ closed …" nor "the client pipe
// closed …"); a named end, the unix listener's path, keeps its address.
func TestTransportUnnamedEnds(t *testing.T) {
	t.Run("unix listener", func(t *testing.T) {
		t.Parallel()
		reg := live.New(live.Config{})
		cli, srv, path := smuxtest.UnixServed(t, func(ln net.Listener) net.Listener { return tap.WrapListener(ln, reg, "svc") })
		echoOnce(t, cli)
		s := theSession(t, reg)
		if s.Info.Client != "" || s.Info.Server != path {
			t.Errorf("client %q, server %q; want no client address (its socket has no name) and server %q", s.Info.Client, s.Info.Server, path)
		}
		smuxtest.Eventually(t, "the echoed stream closed", func() bool { return theSession(t, reg).Open == 0 })
		cli.Close()
		smuxtest.Eventually(t, "the client's close", func() bool { return len(halfCloseDetails(reg)) > 0 })
		want := "the client closed its side of the connection; the server's side is still open"
		if got := halfCloseDetails(reg); len(got) != 1 || got[0] != want {
			t.Errorf("half-close %q, want %q", got, want)
		}
		srv.Close()
		if s := ended(t, reg); strings.Contains(s.Err, "@") || !strings.Contains(s.Err, "the client ") {
			t.Errorf("ended %v %q: want the client named by its role alone", s.Reason, s.Err)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		t.Parallel()
		tc, _, sc, reg := tappedClient(t, transport(t, "pipe"), smuxtest.Config(2))
		if s := theSession(t, reg); s.Info.Client != "" || s.Info.Server != "" {
			t.Errorf("client %q, server %q; want none: a net.Pipe's ends have no address", s.Info.Client, s.Info.Server)
		}
		sc.Close()
		smuxtest.Eventually(t, "the server's close read", func() bool { return len(halfCloseDetails(reg)) > 0 })
		for _, d := range halfCloseDetails(reg) {
			if !strings.HasPrefix(d, "the server closed the connection") {
				t.Errorf("half-close %q, want \"the server closed the connection…\"", d)
			}
		}
		tc.Close()
		if s := ended(t, reg); strings.Contains(s.Err, "pipe ") {
			t.Errorf("ended %v %q: want the server named by its role alone", s.Reason, s.Err)
		}
	})
}
