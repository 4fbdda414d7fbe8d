package tui

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestUnnamedClientShown: a real smux session served on a tapped unix
// listener, whose client's socket has no name (Go gives "@"): the
// sessions pane and the frames pane's session-opened line show it as
// "client", never "@", beside the listener's path (the pane's column cuts
// a path too long for it from the left, as it cuts any address).
func TestUnnamedClientShown(t *testing.T) {
	reg := live.New(live.Config{})
	cli, _, path := smuxtest.UnixServed(t, func(ln net.Listener) net.Listener { return tap.WrapListener(ln, reg, "svc") })
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 200, 45)
	// The pane's column cuts a long path from the left: the ends whole.
	if got, want := ends(reg.Snapshot().Sessions[0].Info, 200), "client → "+path+"*"; got != want {
		t.Errorf("the session's ends show %q, want %q", got, want)
	}
	if row := cursorRow(paneBox(screenOf(m), "Sessions")); strings.Contains(row, "@") {
		t.Errorf("the session's row shows @: %q", row)
	}
	m = press(m, "tab", "tab", "g")
	screen := screenOf(m)
	if want := "● session 1 opened client → " + path; !strings.Contains(screen, want) || strings.Contains(screen, "@") {
		t.Errorf("the frames pane does not say %q, or says @:\n%s", want, screen)
	}
}

// TestPipeCloseShown: a real smux session over a net.Pipe, its client
// tapped, whose server closes the pipe, which has no half-close: the
// frames pane's record of it says the session was closed at one end,
// never half-closed.
func TestPipeCloseShown(t *testing.T) {
	cc, sc := smuxtest.PipeConns(t)
	reg := live.New(live.Config{})
	cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "t"), smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := smux.Server(sc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	// Its record comes after the direction's end, which the snapshot shows first.
	smuxtest.Eventually(t, "the record of the server's close", func() bool {
		recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.SessionHalfClosed }}, nil)
		return len(recs) == 1
	})
	m := press(resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 200, 45), "tab", "tab", "G")
	screen := screenOf(m)
	if want := "← ● session 1 closed at one end: the server closed the connection (a net.Pipe has no half-close)"; !strings.Contains(screen, want) || strings.Contains(screen, "half-closed:") {
		t.Errorf("the frames pane does not say %q, or says half-closed:\n%s", want, screen)
	}
}
