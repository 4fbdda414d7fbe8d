package live_test

import (
	"fmt"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// BenchmarkResynced is one capture loss (Session.Resynced) in a session
// holding n live streams, each of which it sets aside: the aside list
// was kept in SYN order by inserting each, walking from the tail, in the
// stream table's order (slots by the id's low bits, then a map), which
// cost O(n²) under the session's lock (the reviewer measured 3.8 s at
// 40 000 streams). The setup, opening the streams, is outside the timer.
func BenchmarkResynced(b *testing.B) {
	for _, n := range []int{10000, 40000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				reg := live.New(live.Config{})
				sc := openSession(reg, 1)
				for i := range n {
					sid := uint32(2*i + 3)
					sc.feedAt(sec(float64(i)/1000), syn(c2s, sid), psh(c2s, sid, "GET /"))
				}
				b.StartTimer()
				sc.s.Resynced(s2c, sec(100), 1000, 0, 24, "capture lost 24 bytes")
			}
		})
	}
}
