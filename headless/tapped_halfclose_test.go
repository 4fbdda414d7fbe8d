package headless

import (
	"bytes"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestTappedServerClientLeft: a real smux server, tapped, whose client
// exits (closes its session and conn) while the server's application
// keeps its session, as smux servers do: the server's conn is in
// CLOSE-WAIT and its session live. The plain output says so as it does
// for attach: a session-half-closed line naming the client, and a summary
// that counts the session live and half-closed. Before, the tap ended the
// session at the client's EOF.
func TestTappedServerClientLeft(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	tc := tap.Wrap(sc, live.Server, reg, "srv")
	srv, err := smux.Server(tc, smuxtest.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := smux.Client(cc, smuxtest.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hi"))
	if _, err := srv.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	if _, err := srv.AcceptStream(); err == nil { // smux's reader read the EOF
		t.Fatal("AcceptStream after the client left returned no error")
	}
	smuxtest.Eventually(t, "the client's EOF at the tap", func() bool {
		return !reg.Snapshot().Sessions[0].DirEnded[live.ClientToServer].IsZero()
	})
	var out bytes.Buffer
	if _, err := NewPrinter(reg, &out, Plain).Finish(Options{Format: Plain}); err != nil {
		t.Fatal(err)
	}
	half := "→ session half-closed: the client " + cc.LocalAddr().String() + " closed its side of the connection (FIN); the server's side is still open"
	if !strings.Contains(out.String(), half) || !strings.Contains(out.String(), "(1 live, 1 of them half-closed") {
		t.Errorf("output wants %q and the summary's 1 live, 1 of them half-closed:\n%s", half, out.String())
	}
}
