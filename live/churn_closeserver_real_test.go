package live_test

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

// TestChurnServerClosesReal: a server that accepts each connection and
// closes it at once (at its connection limit, a load balancer with no
// backend), and real smux clients that redial it, tapped at the client's
// end and at the server's. CHURN blamed the clients — "a client redialing
// in a loop, or clients that dial a session per request — keep one
// session (or a pool)…" — though each session was closed (or reset) by
// the server before it sent anything: its text now names the server and
// what to check of it.
func TestChurnServerClosesReal(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			var accept func() (net.Conn, error) = ln.Accept
			if side == "server" {
				accept = tap.WrapListener(ln, reg, "test").Accept
			}
			go func() {
				for {
					c, err := accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			for range 25 {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				if side == "client" {
					c = tap.Wrap(c, live.Client, reg, "test")
				}
				s, err := smux.Client(c, smuxtest.Config(2))
				if err != nil {
					t.Fatal(err)
				}
				if st, err := s.OpenStream(); err == nil {
					st.Write([]byte("ping"))
					st.SetReadDeadline(time.Now().Add(10 * time.Second))
					io.ReadFull(st, make([]byte, 4)) // fails: the server closed
				}
				s.Close()
			}
			smuxtest.Eventually(t, "the 25 sessions' ends", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 25 && snap.LiveSessions == 0
			})
			reg.Evaluate(time.Now(), live.FindingsConfig{Churn: 20})
			var churn *live.Finding
			for _, f := range reg.Snapshot().Findings {
				if f.Code == live.CodeChurn {
					churn = f
				}
			}
			if churn == nil {
				t.Fatal("no CHURN of 25 sessions the server closed at once")
			}
			// Each, or most: a client whose write the server's reset failed
			// before its read saw the close ended its side first, as far as
			// its tap knows.
			want := "the server " + ln.Addr().String() + " closed "
			if !strings.Contains(churn.Text, want) || !strings.Contains(churn.Text, "of its start, before answering, and the clients dialed again") {
				t.Errorf("CHURN's text %q\nlacks %q…", churn.Text, want)
			}
			if !strings.Contains(churn.Advice, "connection limit or health") {
				t.Errorf("CHURN's advice %q\nlacks what to check of the server", churn.Advice)
			}
		})
	}
}
