package headless

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestSummarizeEndedCounted: the streams that ended with their session
// are counted from each session's counter, not from the streams its
// picture lists, which hold only those kept in detail (none where the
// snapshot omits them): the summary says the same of either picture.
func TestSummarizeEndedCounted(t *testing.T) {
	reg := live.New(live.Config{})
	for range 2 {
		s := feed(t, reg, []byte("ok")) // its stream half-closed by the client
		s.End(t0.Add(time.Second), live.EOF, nil)
	}
	full := Summarize(reg.Snapshot(), 0)
	bare := Summarize(reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return false }}), 0)
	for _, s := range []Summary{full, bare} {
		if s.StreamsEnded != 2 || s.StreamsClosed != 0 {
			t.Errorf("%d streams ended with their session, %d closed; want 2 and 0", s.StreamsEnded, s.StreamsClosed)
		}
	}
}
