package tap_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestTransportTLSNeverMade: a server taps the TLS listener it serves,
// and a plain TCP client (a health check that never speaks TLS) connects
// and closes. There was no TLS connection: the half-close says the client
// closed its side of the connection (FIN) before any TLS handshake, not
// "its side of the TLS connection"; the smux server, keepalive off, holds
// the session, and CLOSE_WAIT says its socket is in TCP CLOSE-WAIT, with
// no hedge about a TLS close_notify sent alone (none was).
func TestTransportTLSNeverMade(t *testing.T) {
	_, scfg := smuxtest.TLSConfigs(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	tl := tap.WrapListener(tls.NewListener(ln, scfg), reg, "tls")
	defer tl.Close()
	served := make(chan *smux.Session, 1)
	go func() {
		defer close(served)
		c, err := tl.Accept()
		if err != nil {
			return
		}
		cfg := smuxtest.Config(2)
		cfg.KeepAliveDisabled = true
		srv, err := smux.Server(c, cfg)
		if err != nil {
			c.Close()
			return
		}
		served <- srv
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := "client " + c.LocalAddr().String()
	c.Close()
	srv := <-served
	if srv == nil {
		t.Fatal("the server did not start")
	}
	defer srv.Close()
	if _, err := srv.AcceptStream(); err == nil {
		t.Fatal("AcceptStream after the client left returned no error")
	}
	smuxtest.Eventually(t, "the client's close", func() bool { return len(halfCloseDetails(reg)) > 0 })
	want := "the " + client + " closed its side of the connection (FIN) before any TLS handshake: no TLS connection was made; the server's side is still open"
	if got := halfCloseDetails(reg); len(got) != 1 || got[0] != want {
		t.Errorf("half-close %q, want %q", got, want)
	}
	// The half-close is in: evaluated an hour on, the session is held
	// past any CloseWaitAfter, with no wait on the clock.
	reg.Evaluate(time.Now().Add(time.Hour), live.FindingsConfig{CloseWaitAfter: time.Minute, Churn: -1})
	var found *live.Finding
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeCloseWait {
			found = f
		}
	}
	if found == nil {
		t.Fatal("no CLOSE_WAIT finding an hour after the half-close")
	}
	if !strings.Contains(found.Text, "still holds session 1, its socket in TCP CLOSE-WAIT (") || strings.Contains(found.Text, "TLS") {
		t.Errorf("text %q, want \"… still holds session 1, its socket in TCP CLOSE-WAIT (…\" and no TLS", found.Text)
	}
	if strings.Contains(found.Advice, "TLS") || !strings.Contains(found.Advice, "`ss -tan state close-wait` on its host lists the sockets held so") {
		t.Errorf("advice %q, want ss's close-wait list with no TLS hedge", found.Advice)
	}
}

// helloThenShut is a client's TCP conn that shuts its write side right
// after its first write, the TLS ClientHello: a client gone mid-handshake.
type helloThenShut struct{ *net.TCPConn }

func (c helloThenShut) Write(p []byte) (int, error) {
	n, err := c.TCPConn.Write(p)
	c.CloseWrite()
	return n, err
}

// TestTransportTLSHandshakeCut: a TLS handshake begun and never completed
// is not "before any TLS handshake". The tapped server reads the client's
// ClientHello, answers, and reads its FIN; the tapped client sends its
// ClientHello and reads the server's FIN unanswered. Each half-close says
// the peer closed during the handshake, after the ClientHello.
func TestTransportTLSHandshakeCut(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		ccfg, scfg := smuxtest.TLSConfigs(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		reg := live.New(live.Config{})
		tl := tap.WrapListener(tls.NewListener(ln, scfg), reg, "tls")
		defer tl.Close()
		served := make(chan *smux.Session, 1)
		go func() {
			defer close(served)
			c, err := tl.Accept()
			if err != nil {
				return
			}
			cfg := smuxtest.Config(2)
			cfg.KeepAliveDisabled = true
			srv, err := smux.Server(c, cfg)
			if err != nil {
				c.Close()
				return
			}
			served <- srv
		}()
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		client := "client " + raw.LocalAddr().String()
		shook := make(chan error, 1)
		go func() { shook <- tls.Client(helloThenShut{raw.(*net.TCPConn)}, ccfg).Handshake() }()
		srv := <-served
		if srv == nil {
			t.Fatal("the server did not start")
		}
		defer srv.Close()
		if _, err := srv.AcceptStream(); err == nil {
			t.Fatal("AcceptStream after the client left returned no error")
		}
		if err := <-shook; err == nil {
			t.Fatal("the client's handshake completed with its write side shut")
		}
		want := "the " + client + " closed its side of the connection (FIN) during the TLS handshake, after its ClientHello and before the handshake completed: no TLS connection was made; the server's side is still open"
		if got := halfCloseDetails(reg); len(got) != 1 || got[0] != want {
			t.Errorf("half-close %q, want %q", got, want)
		}
	})
	t.Run("client", func(t *testing.T) {
		ccfg, _ := smuxtest.TLSConfigs(t)
		cc, sc := smuxtest.Conns(t)
		server := "server " + sc.LocalAddr().String()
		sc.(*net.TCPConn).CloseWrite() // the server answers nothing
		reg := live.New(live.Config{})
		cfg := smuxtest.Config(2)
		cfg.KeepAliveDisabled = true
		cli, err := smux.Client(tap.Wrap(tls.Client(cc, ccfg), live.Client, reg, "tls"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.AcceptStream(); err == nil {
			t.Fatal("AcceptStream after the server left returned no error")
		}
		want := "the " + server + " closed its side of the connection (FIN) during the TLS handshake, after the client's ClientHello and before the handshake completed: no TLS connection was made; the client's side is still open"
		if got := halfCloseDetails(reg); len(got) != 1 || got[0] != want {
			t.Errorf("half-close %q, want %q", got, want)
		}
	})
}
