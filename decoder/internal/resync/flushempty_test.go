package resync_test

import (
	"math/rand/v2"
	"testing"
)

// TestFlushNothingHeldThenBytes: a Flush while a hunt holds nothing (at
// once after Resync, or flushed twice) decides nothing; the bytes given
// after it are hunted in, and Next keeps its contract on them: it
// consumes a byte or yields a frame.
func TestFlushNothingHeldThenBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	in, _ := stream(t, rng, 8, false)
	for _, w := range []int{window, longWindow} {
		d := newToy(w)
		d.rs.Resync(d.framer())
		d.rs.Flush()
		if d.rs.Buffered() != 0 {
			t.Fatalf("window %d: Buffered %d after Flush with nothing held", w, d.rs.Buffered())
		}
		n, f, err := d.Next(in)
		if n == 0 && f == nil && err == nil {
			t.Fatalf("window %d: Next(%d bytes) after Flush with nothing held consumed nothing and yielded nothing", w, len(in))
		}
	}
}
