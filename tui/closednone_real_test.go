package tui

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestHelpClosedStreamsNone: with --closed-streams 0 (StreamBudget
// Exactly(0)) a real smux session's closed stream is folded at once: the
// streams pane lists the open one and, under the heading, the summary line
// of the closed one. The help's folded note says that, not that sessions
// keep "0 together, each at most 1 000: a live one an equal share, at
// least 20".
func TestHelpClosedStreamsNone(t *testing.T) {
	reg := live.New(live.Config{StreamBudget: live.Exactly(0)})
	cc, sc := smuxtest.Conns(t)
	cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "t"), smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	smuxtest.EchoSmux(srv)
	for i := range 2 {
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
		if i == 0 {
			st.Close()
		}
	}
	smuxtest.Eventually(t, "the first stream closed", func() bool {
		s := reg.Snapshot().Sessions[0]
		return s.Total == 2 && s.Open == 1
	})
	m := press(resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 160, 45), "enter")
	streams := strings.Join(paneBox(screenOf(m), "Streams of session 1"), "\n")
	if !regexp.MustCompile(`folded 1 `).MatchString(streams) || regexp.MustCompile(`\s3 c `).MatchString(streams) || !regexp.MustCompile(`\s5 c  open`).MatchString(streams) {
		t.Fatalf("the streams pane does not show open stream 5 and the closed stream 3 folded:\n%s", streams)
	}
	help := strings.Join(strings.Fields(strings.ReplaceAll(strings.Join(paneBox(screenOf(press(m, "?")), "Help"), " "), "┃", " ")), " ")
	want := "folded: no closed stream is kept in detail (--closed-streams 0): each is folded into the summary line under the streams heading as it closes, where it still counts"
	if !strings.Contains(help, want) || strings.Contains(help, "0 together") || strings.Contains(help, "an equal share") {
		t.Errorf("the help's folded note does not say %q:\n%s", want, help)
	}
}
