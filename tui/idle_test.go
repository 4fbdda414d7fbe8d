package tui

import (
	"strings"
	"testing"
	"time"
)

// TestNoInputSaid: while what is watched gives nothing (a read - whose
// pipe stalled: Options.Idle, a clock the test sets, not a time), the
// header says for how long, the view's state says [no input], not [live],
// and the rates are said to be the last packet's; as input resumes, the
// header is as before.
func TestNoInputSaid(t *testing.T) {
	c := fixture()
	var idle time.Duration
	m := resize(newModel(c.reg, Options{NoColor: true, Idle: func() time.Duration { return idle }}, c.snapshot, time.UTC, 0), 160, 45)
	m = tickAt(m, c, 100*time.Millisecond)
	flowing := func(m Model) {
		t.Helper()
		header := strings.Join(strings.Split(screenOf(m), "\n")[:3], "\n")
		if !strings.Contains(header, "[live]") || strings.Contains(header, "no input") || strings.Contains(header, "at the last packet") {
			t.Fatalf("with input coming, the header:\n%s", header)
		}
	}
	flowing(m)

	idle = 3 * time.Second
	m = tickAt(m, c, 0)
	if header := strings.Join(strings.Split(screenOf(m), "\n")[:3], "\n"); !strings.Contains(header, "no input for 3s ") {
		t.Errorf("with no input for 3 s, the header:\n%s", header)
	}

	idle = 14 * time.Second
	m = tickAt(m, c, 0)
	header := strings.Join(strings.Split(screenOf(m), "\n")[:3], "\n")
	for _, want := range []string{"no input for 14s", "frames/s at the last packet", "[no input]"} {
		if !strings.Contains(header, want) {
			t.Errorf("with no input for 14 s, the header lacks %q:\n%s", want, header)
		}
	}
	if strings.Contains(header, "[live]") {
		t.Errorf("with no input for 14 s, the header says [live]:\n%s", header)
	}
	if !m.sessions.stale {
		t.Error("the sessions pane's rates are not marked as the last packet's")
	}

	idle = 0
	m = tickAt(m, c, 0)
	flowing(m)
	if m.sessions.stale {
		t.Error("input resumed, and the sessions pane's rates are still marked stale")
	}
}
