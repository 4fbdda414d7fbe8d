package live_test

import (
	"sync"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// ready reports whether ch has a wake pending, and takes it.
func ready(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestWakeAtAQuarter checks that Wake fires when a quarter of the ring has
// been recorded past the reader's position, not before, and only once.
func TestWakeAtAQuarter(t *testing.T) {
	reg := live.New(live.Config{History: 16})
	sc := openSession(reg, 1) // seq 1
	ch := reg.Wake(2)         // the reader has read seq 1
	if ready(ch) {
		t.Fatal("woken with nothing to read")
	}
	sc.feed(syn(c2s, 3), psh(c2s, 3, "a"), psh(c2s, 3, "b")) // seqs 2..4
	if ready(ch) {
		t.Fatal("woken after 3 records of a ring of 16")
	}
	sc.feed(psh(c2s, 3, "c")) // seq 5: 4 records past the reader
	if !ready(ch) {
		t.Fatal("not woken after a quarter of the ring")
	}
	sc.feed(pshN(20)...)
	if ready(ch) {
		t.Fatal("woken twice for one arming")
	}
	// The reader is now 20 records behind: arming again wakes at once.
	if !ready(reg.Wake(6)) {
		t.Fatal("not woken when already a quarter behind")
	}
	// Caught up, then re-armed: the next quarter wakes it again.
	ch = reg.Wake(26)
	sc.feed(pshN(3)...)
	if ready(ch) {
		t.Fatal("woken early after re-arming")
	}
	sc.feed(pshN(1)...)
	if !ready(ch) {
		t.Fatal("not woken after re-arming")
	}
}

func TestWakeTinyAndNoHistory(t *testing.T) {
	reg := live.New(live.Config{History: 2}) // a quarter rounds up to one record
	ch := reg.Wake(1)
	openSession(reg, 1)
	if !ready(ch) {
		t.Error("ring of 2: not woken by one record")
	}
	reg = live.New(live.Config{History: -1})
	ch = reg.Wake(0)
	openSession(reg, 1).feed(pshN(10)...)
	if ready(ch) {
		t.Error("woken without history")
	}
}

// TestWakeNotLost races a reader that arms Wake against feeders that
// never stop for it: whenever the feeders have passed the armed seq, a
// wake must be pending, however the arming and the claim interleaved.
func TestWakeNotLost(t *testing.T) {
	const (
		ring    = 64
		feeders = 4
		frames  = 20_000 // per feeder
	)
	reg := live.New(live.Config{History: ring})
	var wg sync.WaitGroup
	for range feeders {
		sc := openSession(reg, 1)
		wg.Go(func() {
			for range frames / 100 {
				sc.feed(pshN(100)...)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var next uint64 = 1
	var recs []live.Record
	wakes := 0
	for {
		ch := reg.Wake(next)
		at := next - 1 + ring/4
		select {
		case <-ch:
			wakes++
			recs, next = reg.Frames(live.Query{From: next}, recs[:0])
		case <-done:
			if last := reg.Snapshot().History.Next - 1; last >= at && !ready(ch) {
				t.Fatalf("feeders reached seq %d past the armed %d, and no wake is pending", last, at)
			}
			if wakes == 0 {
				t.Fatal("never woken")
			}
			return
		}
	}
}
