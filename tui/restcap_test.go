package tui

import (
	"testing"
	"time"
)

// TestRestAfterPauseCapped: a read during which the process was stopped
// (SIGSTOP, a VM or laptop paused) took 30 s by the wall clock; the rest
// after it (readShare) is capped, so the screen reads again within
// maxRest, not five minutes later.
// Before: "after a read that took 30s by the wall clock, the next read at 5m0s; want within 2s".
func TestRestAfterPauseCapped(t *testing.T) {
	c := fixture()
	m := newModel(c.reg, Options{NoColor: true}, c.snapshot, time.UTC, tickEvery)
	var clock time.Time
	m.src.clock = func() time.Time { clock = clock.Add(30 * time.Second); return clock }
	m = resize(m, 160, 45)
	update := func(msg any) {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	t0 := c.now
	update(tickMsg(t0))
	update(read(m.src, m.request())) // took 30 s by the wall clock
	m.src.clock = nil
	var next time.Duration
	for at := tickEvery; at < 20*time.Minute; at += tickEvery {
		update(tickMsg(t0.Add(at)))
		if m.reading {
			next = at
			break
		}
	}
	if next == 0 || next > maxRest+tickEvery {
		t.Errorf("after a read that took 30s by the wall clock, the next read at %v; want within %v", next, maxRest)
	}
}
