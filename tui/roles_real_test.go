package tui

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestMuxRolesReversedTitleReal: real smux v2 and yamux sessions, the
// dialer's end tapped. Where the dialer runs the mux's server role (a
// reverse tunnel's agent) and the acceptor opens a stream, the streams
// pane's title says "mux roles reversed"; where the dialer is the mux
// client, it does not. The by column says who opened the stream in TCP
// roles either way.
func TestMuxRolesReversedTitleReal(t *testing.T) {
	for name, mux := range map[string]smuxtest.Mux{"smux v2": {Smux: smuxtest.Config(2)}, "yamux": {}} {
		for _, reversed := range []bool{false, true} {
			t.Run(name+map[bool]string{false: " dialer client", true: " reversed"}[reversed], func(t *testing.T) {
				reg := live.New(live.Config{})
				cc, sc := smuxtest.Conns(t)
				dialerEnd, acceptorEnd := mux.Client, mux.Server
				if reversed {
					dialerEnd, acceptorEnd = mux.Server, mux.Client
				}
				dialer, err := dialerEnd(tap.Wrap(cc, live.Client, reg, "agent"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dialer.Close() })
				acceptor, err := acceptorEnd(sc)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { acceptor.Close() })
				opener, other := dialer, acceptor
				if reversed {
					opener, other = acceptor, dialer
				}
				go func() {
					if st, err := other.AcceptStream(); err == nil {
						io.Copy(st, st)
					}
				}()
				st, err := opener.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
					t.Fatal(err)
				}
				smuxtest.Eventually(t, "the answer recorded", func() bool {
					ss := reg.Snapshot().Sessions
					return len(ss) == 1 && ss[0].Counts.FramesDir(live.ServerToClient) > 0 && ss[0].Counts.FramesDir(live.ClientToServer) > 0
				})
				m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 160, 45)
				screen := screenOf(m)
				box := paneBox(screen, "Streams of session")
				if len(box) == 0 {
					t.Fatalf("no streams pane:\n%s", screen)
				}
				if got := strings.Contains(box[0], "mux roles reversed"); got != reversed {
					t.Errorf("title %q says mux roles reversed: %v, want %v", strings.TrimSpace(box[0]), got, reversed)
				}
				by := "c"
				if reversed {
					by = "s"
				}
				row := regexp.MustCompile(`^\s*▶?\s*[0-9]+ ([cs]) `)
				var got []string
				for _, l := range box {
					if m := row.FindStringSubmatch(strings.Trim(l, "│┃ ")); m != nil {
						got = append(got, m[1])
					}
				}
				if len(got) != 1 || got[0] != by {
					t.Errorf("the streams' by column %q, want [%s]:\n%s", got, by, strings.Join(box, "\n"))
				}
			})
		}
	}
}
