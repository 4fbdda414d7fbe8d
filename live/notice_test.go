package live_test

import (
	"log/slog"
	"testing"

	"github.com/muxtop/muxtop/live"
)

func TestNoticeHandler(t *testing.T) {
	reg := live.New(live.Config{})
	log := slog.New(live.NoticeHandler(reg)).With("slot", 3)
	log.Info("not a notice")
	log.Warn("demo: gateway cannot reach the service", "err", "connection refused")
	log.WithGroup("g").Error("broke", "n", 1)
	ns := reg.Snapshot().Notices
	want := []string{
		"demo: gateway cannot reach the service; slot=3; err=connection refused",
		"broke; slot=3; n=1",
	}
	if len(ns) != len(want) {
		t.Fatalf("notices %+v, want %q", ns, want)
	}
	for i, n := range ns {
		if n.Text != want[i] || n.At.IsZero() {
			t.Errorf("notice %d = %q at %v, want %q", i, n.Text, n.At, want[i])
		}
	}
}
