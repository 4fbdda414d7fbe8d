package tap_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// A tapped end whose peer resets the connection names the peer, as
// attach's proxy and a capture do: "reset by the server …", and, where
// the peer had closed its side (FIN) before its reset, ", which had
// closed its side of the connection … before". The tapped end here is
// the client; the peer a raw socket that resets with SO_LINGER 0.
func TestTappedConnResetNamesThePeer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		finTook bool // the peer closes its side first, then resets
	}{{"reset alone", false}, {"reset after the peer's FIN", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			finSent, reset := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(reset)
				c, err := ln.Accept()
				if err != nil {
					close(finSent)
					return
				}
				c.Read(make([]byte, 8))
				if tc.finTook {
					c.(*net.TCPConn).CloseWrite()
					close(finSent)
					// Read until the tapped end has read the EOF and
					// written again: then the reset meets a live write.
					c.Read(make([]byte, 8))
				} else {
					close(finSent)
				}
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			reg := live.New(live.Config{})
			c := tap.Wrap(raw, live.Client, reg, "")
			defer c.Close()
			nop := []byte{1, 3, 0, 0, 0, 0, 0, 0} // smux v1 NOP
			if _, err := c.Write(nop); err != nil {
				t.Fatal(err)
			}
			<-finSent
			if tc.finTook {
				if _, err := c.Read(make([]byte, 8)); err != io.EOF {
					t.Fatalf("read after the peer's FIN: %v, want EOF", err)
				}
				c.Write(nop) // wakes the peer, which resets
				<-reset
				deadline := time.Now().Add(10 * time.Second)
				for err == nil && time.Now().Before(deadline) {
					_, err = c.Write(nop)
					time.Sleep(time.Millisecond)
				}
			} else {
				<-reset
				_, err = c.Read(make([]byte, 8))
			}
			if err == nil {
				t.Fatal("no error from the peer's reset")
			}
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 || !snap.Sessions[0].Ended || snap.Sessions[0].Reason != live.Reset {
				t.Fatalf("sessions %+v, want one ended reset (the error: %v)", snap.Sessions, err)
			}
			want := "reset by the server " + ln.Addr().String()
			got := snap.Sessions[0].Err
			if tc.finTook {
				want += ", which had closed its side of the connection "
				if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " before") {
					t.Errorf("detail %q, want %q… before", got, want)
				}
			} else if got != want {
				t.Errorf("detail %q, want %q", got, want)
			}
		})
	}
}
