package tap

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// The notice that accepting resumed counts the failures of its own stall,
// not all so far; a stall under longStall makes no client late, one of
// longStall or more makes those accepted within lateWithin of its end
// late; and the notices of the failures come at most once per
// noticeEvery, the next one counting those between.
func TestAcceptStallCounts(t *testing.T) {
	p := &Proxy{}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if tell, _ := p.acceptFailed(syscall.EMFILE, at(0)); !tell {
		t.Fatal("the first failed accept is not told")
	}
	for i := range 3 { // one stall of 4 failures, 35 ms
		if tell, _ := p.acceptFailed(syscall.EMFILE, at(time.Duration(5*(i+1))*time.Millisecond)); tell {
			t.Errorf("failure %d of the stall told again", i+2)
		}
	}
	if took, failed, _ := p.acceptResumed(at(35 * time.Millisecond)); took != 35*time.Millisecond || failed != 4 {
		t.Errorf("first stall: took %s, %d failed; want 35ms, 4", took, failed)
	}
	if p.acceptedLate(at(36 * time.Millisecond)) {
		t.Error("a client accepted after a 35 ms stall counts as late")
	}
	// Short stalls of a chronic limit: 1 failure each, 100 ms apart.
	for i := range 5 {
		start := at(time.Duration(100*(i+1)) * time.Millisecond)
		if tell, _ := p.acceptFailed(syscall.EMFILE, start); tell {
			t.Errorf("stall %d, %s after the first notice, told", i+2, start.Sub(t0))
		}
		if _, failed, _ := p.acceptResumed(start.Add(5 * time.Millisecond)); failed != 1 {
			t.Errorf("stall %d: %d accepts failed in it, want 1", i+2, failed)
		}
	}
	// A long stall, a second after the first notice: told, with the
	// failures since.
	tell, since := p.acceptFailed(syscall.EMFILE, at(time.Second))
	// 9 failures in 6 stalls since the first notice, this one included.
	if want := "(9 accepts failed in 6 stalls since the last notice, 1s ago)"; !tell || !strings.Contains(since, want) {
		t.Errorf("a stall a second after the last notice: told %v, %q; want it told with %q", tell, since, want)
	}
	p.acceptFailed(syscall.EMFILE, at(2*time.Second))
	took, failed, _ := p.acceptResumed(at(3 * time.Second))
	if took != 2*time.Second || failed != 2 {
		t.Errorf("long stall: took %s, %d failed; want 2s, 2", took, failed)
	}
	if !p.acceptedLate(at(3*time.Second + lateWithin - time.Millisecond)) {
		t.Error("a client accepted just after a 2 s stall is not late")
	}
	if p.acceptedLate(at(3*time.Second + lateWithin)) {
		t.Error("a client accepted lateWithin after a 2 s stall's end is late")
	}
	if a := p.Upstream().Accept; a.Failed != 11 || a.Stalls != 7 {
		t.Errorf("the totals: %d failed in %d stalls, want 11 in 7", a.Failed, a.Stalls)
	}
}
