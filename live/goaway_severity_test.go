package live_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// TestGoAwaySeverity: a real yamux server's GoAway (normal), as in a
// rolling deploy, refuses new streams while an open one goes on: the
// GO_AWAY finding is a warning. A GoAway with an error code ends the
// session at the yamux client that reads it: critical. The error code's
// frame is crafted on the server's tapped conn: a real yamux sends one
// only as it closes the connection, racing the close.
func TestGoAwaySeverity(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		reg := live.New(live.Config{})
		cli, srv, _, _ := yamuxPair(t, reg, nil)
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		acc, err := srv.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(acc, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		if err := srv.GoAway(); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Ping(); err != nil { // the client has read the GoAway once it answers
			t.Fatal(err)
		}
		// What a normal GoAway does: no new stream; the open one goes on.
		if _, err := cli.OpenStream(); err == nil {
			t.Fatal("the client opened a stream after the server's GoAway")
		}
		if _, err := acc.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
			t.Fatalf("the open stream stopped with the GoAway: %v", err)
		}
		settle()
		f := openFindings(reg, time.Now().Add(time.Second), live.FindingsConfig{})[live.CodeGoAway]
		if f == nil || f.Evidence.GoAwayCode != yamux.GoAwayNormal {
			t.Fatalf("no GO_AWAY (normal): %+v", f)
		}
		if f.Severity != live.Warning {
			t.Errorf("GO_AWAY (normal) is %v, want warning: %s", f.Severity, f.Text)
		}
	})
	for _, code := range []uint32{yamux.GoAwayProtocolError, yamux.GoAwayInternalError, 7} {
		t.Run(yamux.GoAwayName(code), func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, _, _, s2c := yamuxPair(t, reg, nil)
			// The frame the server would send, on the server's tapped
			// conn: the real client reads it.
			h := yamux.MakeHeader(yamux.GoAway, 0, 0, code)
			if _, err := s2c.Write(h[:]); err != nil {
				t.Fatal(err)
			}
			// hashicorp's client ends the session on any code but
			// normal (session.go, handleGoAway).
			select {
			case <-cli.CloseChan():
			case <-time.After(10 * time.Second):
				t.Fatal("the yamux client goes on after a GoAway with an error code")
			}
			settle()
			f := openFindings(reg, time.Now().Add(time.Second), live.FindingsConfig{})[live.CodeGoAway]
			if f == nil || f.Evidence.GoAwayCode != code {
				t.Fatalf("no GO_AWAY (%s): %+v", yamux.GoAwayName(code), f)
			}
			if f.Severity != live.Critical {
				t.Errorf("GO_AWAY (%s) is %v, want critical: %s", yamux.GoAwayName(code), f.Severity, f.Text)
			}
		})
	}
}
