package main

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachSaysUpstreamDownAtStart: attach's start says, in one line on
// stderr, an upstream whose name does not resolve, and a loopback
// upstream nothing listens on (found without connecting to it), and
// still runs, to exit 0: a name can come to resolve and a server can
// start. An upstream that listens gets no such line.
func TestAttachSaysUpstreamDownAtStart(t *testing.T) {
	dead := freePort(t)
	cases := []struct {
		name, upstream, want string
	}{
		{"unresolved", "nosuchhost.invalid:9000", "muxtop: attach: upstream nosuchhost.invalid:9000 does not resolve ("},
		{"refused", dead, "muxtop: attach: nothing listens on upstream " + dead + " now: every client will be refused until its server starts\n"},
		{"up", echoServer(t, 1), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := runAttach(t, c.upstream, "--output", "plain")
			a.stop(t) // exit 0, or it fails the test; stderr is complete
			errs := a.stderr.String()
			if c.want == "" {
				if strings.Count(errs, "\n") != 1 {
					t.Errorf("stderr with the upstream listening has more than where attach listens:\n%s", errs)
				}
			} else if !strings.Contains(errs, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, errs)
			}
		})
	}
}

// TestUpstreamWarning: what attach's start says of an upstream, by its
// lookup and whether something listens where it is on this machine.
func TestUpstreamWarning(t *testing.T) {
	lo := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9000"), netip.MustParseAddrPort("[::1]:9000")}
	remote := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:9000")}
	none := func(netip.AddrPort) (bool, bool) { return false, true }
	unknown := func(netip.AddrPort) (bool, bool) { return false, false }
	some := func(ap netip.AddrPort) (bool, bool) { return ap.Addr().Is6(), true }
	timeout := &net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}
	cases := []struct {
		ups       []netip.AddrPort
		rerr      error
		listening func(netip.AddrPort) (bool, bool)
		want      string
	}{
		{nil, &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, none, "attach: upstream db:9000 does not resolve (no such host): every client will be closed until it does"},
		{nil, timeout, none, "attach: upstream db:9000 does not resolve (no answer within 2s): every client will be closed until it does"},
		{nil, errors.New("odd"), none, "attach: upstream db:9000 does not resolve (odd): every client will be closed until it does"},
		{lo, nil, none, "attach: nothing listens on upstream db:9000 now: every client will be refused until its server starts"},
		{lo, nil, some, ""},
		{lo, nil, unknown, ""},
		{remote, nil, none, ""},
		{nil, nil, none, ""},
	}
	for i, c := range cases {
		if got := upstreamWarning("db:9000", c.ups, c.rerr, c.listening); got != c.want {
			t.Errorf("%d: %q, want %q", i, got, c.want)
		}
	}
}

// TestListeningTCP: a real listener on loopback, and on every address,
// is found in the kernel's tables; a port just closed is not.
func TestListeningTCP(t *testing.T) {
	if _, known := listeningTCP(netip.MustParseAddrPort("127.0.0.1:1")); !known {
		t.Skip("no /proc/net/tcp here")
	}
	for _, addr := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ln.Addr().(*net.TCPAddr).AddrPort().Port())
		if up, _ := listeningTCP(ap); !up {
			t.Errorf("a listener on %s: not found at %s", ln.Addr(), ap)
		}
		ln.Close()
		smuxtest.Eventually(t, "the closed listener gone", func() bool { up, _ := listeningTCP(ap); return !up })
	}
}

// TestAttachUpstreamOnIPv6LoopbackOnly: a server on [::1]:P alone, attach
// given 127.0.0.1:P: its start says that [::1]:P listens, found as the
// kernel's tables say (no dial). Before it said only
//
//	muxtop: attach: nothing listens on upstream 127.0.0.1:P now: every client will be refused until its server starts
func TestAttachUpstreamOnIPv6LoopbackOnly(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if up, known := listeningTCP(netip.MustParseAddrPort(ln.Addr().String())); !up || !known {
		t.Skip("the kernel's tables do not show [::1] listeners here")
	}
	if c, err := net.Dial("tcp4", "127.0.0.1:"+port); err == nil {
		c.Close()
		t.Skipf("127.0.0.1:%s answers too here", port)
	}
	upstream := "127.0.0.1:" + port
	a := runAttach(t, upstream, "--output", "plain")
	a.stop(t)
	want := "muxtop: attach: nothing listens on upstream " + upstream + " now, but [::1]:" + port + " does: give attach that address as its upstream (every client to " + upstream + " will be refused)\n"
	if errs := a.stderr.String(); !strings.Contains(errs, want) {
		t.Errorf("stderr does not say %q:\n%s", want, errs)
	}
}
