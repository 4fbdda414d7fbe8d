package tui

import (
	"testing"
	"time"
)

// TestSlowReadsRest: a ticking model whose read took 1 s (by the clock
// that times its reads; a read of thousands of sessions on a loaded
// machine) reads again no sooner than readShare seconds after, and a tick
// during a read asks for no other after it: the reads take at most
// 1/readShare of the time, however dear they grow. Before, every tick
// read, and one during a read queued the next, so that reads slower than
// a tick ran back to back.
func TestSlowReadsRest(t *testing.T) {
	c := fixture()
	m := newModel(c.reg, Options{NoColor: true}, c.snapshot, time.UTC, tickEvery)
	var clock time.Time
	const took = 150 * time.Millisecond // a rest under maxRest
	m.src.clock = func() time.Time { clock = clock.Add(took); return clock }
	m = resize(m, 160, 45)
	update := func(msg any) {
		t.Helper()
		next, _ := m.Update(msg)
		m = next.(Model)
	}

	t0 := c.now
	update(tickMsg(t0))
	if !m.reading {
		t.Fatal("the first tick started no read")
	}
	req := m.request()
	update(tickMsg(t0.Add(tickEvery))) // during the read
	if m.again {
		t.Error("a tick during a read asked for another after it")
	}
	update(read(m.src, req)) // took 150 ms
	if m.reading {
		t.Fatal("a read started as the slow one ended")
	}
	for at := 2 * tickEvery; at < readShare*took; at += tickEvery {
		update(tickMsg(t0.Add(at)))
		if m.reading {
			t.Fatalf("a tick %v after a read of %v began read again, want none before %v", at, took, readShare*took)
		}
	}
	update(tickMsg(t0.Add(readShare*took + tickEvery)))
	if !m.reading {
		t.Errorf("no read %v after a read of %v", readShare*took+tickEvery, took)
	}
}
