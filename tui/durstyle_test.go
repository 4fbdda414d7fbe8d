package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestOneDurationStyle: a stream the server never closed, opened 287 s
// ago. The LEAK finding's text says "oldest 287 s (stream 3, idle 287
// s)", as plain and JSON say it; beside it the findings list's "for"
// column said "4m47s", and so did the streams pane's age of stream 3, on
// the same screen: the same age in two styles, one to be worked out from
// the other at 2 a.m. Now the screen's durations count seconds as the
// texts do ("287s"), and no duration on it is in minutes.
func TestOneDurationStyle(t *testing.T) {
	c := newCapture(live.Config{})
	s := c.open("127.0.0.1:51234", "127.0.0.1:9000", base.Add(-300*time.Second))
	at := base.Add(-287 * time.Second)
	c.frame(s, live.ClientToServer, at, 1, decoder.SYN, 3, "", 0)
	c.frame(s, live.ClientToServer, at, 1, decoder.PSH, 3, "RAND", 0)
	c.frame(s, live.ServerToClient, at, 1, decoder.PSH, 3, "12345678", 0) // answered, never closed
	c.frame(s, live.ClientToServer, at, 1, decoder.FIN, 3, "", 0)
	c.reg.Evaluate(base, live.FindingsConfig{LeakAfter: 10 * time.Second})
	m := press(c.model(t, 160, 45), "enter", "!")
	screen := screenOf(m)
	if !strings.Contains(screen, "oldest 287 s (stream 3, idle 287 s)") {
		t.Fatalf("no LEAK of stream 3 aged 287 s on the screen:\n%s", screen)
	}
	if row := regexp.MustCompile(`LEAK +1 +3 ← +(\S+) open`).FindStringSubmatch(screen); row == nil || row[1] != "287s" {
		t.Errorf("the LEAK's text says oldest 287 s; its row's \"for\" column says %q, want \"287s\":\n%s", row, screen)
	}
	if ms := regexp.MustCompile(`\b\d+m\d\ds\b`).FindAllString(screen, -1); ms != nil {
		t.Errorf("the texts count seconds (oldest 287 s); the screen has durations in minutes too, %q:\n%s", ms, screen)
	}
}

// TestDurAsFindingTexts: up to 9999 s the screen's durations are the
// findings' texts' (live.FormatAge), without the space, and never wider
// than five cells, the idle and reply columns' width.
func TestDurAsFindingTexts(t *testing.T) {
	for _, d := range []time.Duration{0, 850 * time.Microsecond, time.Millisecond, 12 * time.Millisecond, 400 * time.Millisecond,
		999*time.Millisecond + 999*time.Microsecond, time.Second, 2100 * time.Millisecond, 9960 * time.Millisecond, 10 * time.Second,
		59 * time.Second, time.Minute, 287 * time.Second, time.Hour, 9999*time.Second + 999*time.Millisecond} {
		if got, want := dur(d), strings.ReplaceAll(live.FormatAge(d), " ", ""); got != want {
			t.Errorf("dur(%v) = %q; the findings' texts say %q", d, got, live.FormatAge(d))
		}
	}
	for _, d := range []time.Duration{10000 * time.Second, 25 * time.Hour, 9 * 24 * time.Hour} {
		if got := dur(d); width(got) > 5 {
			t.Errorf("dur(%v) = %q, wider than five cells", d, got)
		}
	}
}
