package tui

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestHeaderHalfClosedReal: the header's "(N half-closed)" beside the
// suspected leaks, from a real smux v2 session, tapped, whose server
// answers 4 requests after a first one served and closed: the client
// closes its side of each stream after the answer and the server never
// does (half-closed, a certain leak), or neither side does (idle with no
// FIN). The first says "(all half-closed)", the second nothing of the
// kind, and a mix "(2 half-closed)" of 4.
func TestHeaderHalfClosedReal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		closes int // how many of the 4 leaked streams the client closes
		want   string
	}{{"all half-closed", 4, "4 leak? (all half-closed)"}, {"none", 0, "4 leak? ·"}, {"mixed", 2, "4 leak? (2 half-closed)"}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cfg := smuxtest.Config(2)
			cfg.KeepAliveDisabled = true
			cli, srv := smuxtest.Pair(t, cfg, nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "svc") })
			go func() { // ends when the session closes
				for first := true; ; first = false {
					st, err := srv.AcceptStream()
					if err != nil {
						return
					}
					var req [4]byte
					io.ReadFull(st, req[:])
					st.Write([]byte("answer"))
					if first {
						st.Close() // a stream served and closed: those after are no setup streams
					}
				}
			}()
			call := func() net.Conn {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("RAND"))
				if _, err := io.ReadFull(st, make([]byte, 6)); err != nil {
					t.Fatal(err)
				}
				return st
			}
			first := call()
			smuxtest.Eventually(t, "the first stream's FIN", func() bool { return reg.Snapshot().Sessions[0].Counts.Frames[live.ServerToClient][1] > 0 })
			first.Close()
			for i := range 4 {
				st := call()
				if i < tc.closes {
					st.(interface{ CloseWrite() error }).CloseWrite()
				}
			}
			smuxtest.Eventually(t, "the client's FINs recorded", func() bool {
				return reg.Snapshot().Sessions[0].Counts.Frames[live.ClientToServer][1] >= uint64(1+tc.closes)
			})
			fcfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: time.Hour, Churn: -1}
			reg.Evaluate(time.Now().Add(2*time.Second), fcfg)
			m := resize(newModel(reg, Options{NoColor: true, LeakAfter: fcfg.LeakAfter}, reg.SnapshotWith, time.UTC, 0), 80, 24)
			m = send(m, tickMsg{})
			head := strings.SplitN(screenOf(m), "\n", 2)[0]
			if !strings.Contains(head, tc.want) || tc.closes == 0 && strings.Contains(head, "half-closed") {
				t.Errorf("header %q, want %q", head, tc.want)
			}
		})
	}
}
