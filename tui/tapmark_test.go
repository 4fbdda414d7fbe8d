package tui

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestCapturedSessionsUnmarked: read and sniff tap no end: their sessions
// show client → server with no end marked *, and the pane's title has no
// "* = tapped end". Before, a capture's server was marked as the tapped
// end. A tapped session still shows its mark and the legend.
func TestCapturedSessionsUnmarked(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "capture", "testdata", "base-v1.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := pcap.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	if err := pcap.NewReader(pcap.Config{Registry: reg}).Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	snapshot := func(o live.SnapshotOptions) *live.Snapshot { return reg.SnapshotWith(o) }
	// 130 columns: room for both ends whole beside the sessions pane's
	// other columns (at 120 the server's host gives way, as ends does).
	m := resize(newModel(reg, Options{Title: "read base-v1.pcapng", NoColor: true}, snapshot, time.UTC, 0), 130, 30)
	screen := screenOf(m)
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		t.Fatalf("%d sessions read, want 1", len(ss))
	}
	server := ss[0].Info.Server
	if strings.Contains(screen, "tapped end") || strings.Contains(screen, server+"*") || strings.Contains(screen, "*→") ||
		!strings.Contains(screen, " → "+server) {
		t.Errorf("a captured session is marked as tapped, or not shown:\n%s", screen)
	}

	screen = screenOf(fixture().model(t, 130, 30))
	if !strings.Contains(screen, "* = tapped end") || !regexp.MustCompile(`127\.0\.0\.1:9000\*`).MatchString(screen) {
		t.Errorf("tapped sessions lost their mark:\n%s", screen)
	}
}
