package live

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	prev := -1
	for d := time.Duration(0); d < time.Hour; d = d*9/8 + time.Microsecond {
		i := latencyBucket(d)
		if i < prev {
			t.Fatalf("bucket of %v is %d, below %d for a shorter time", d, i, prev)
		}
		prev = i
		if d >= 8*time.Microsecond && d < 30*time.Minute {
			mid := latencyMid(i)
			if err := float64(mid-d) / float64(d); err > 0.125 || err < -0.125 {
				t.Errorf("%v lands in bucket %d whose middle %v is %.0f%% off", d, i, mid, 100*err)
			}
		}
	}
	if latencyBucket(-time.Second) != 0 || latencyBucket(100*time.Hour) != latencyBuckets-1 {
		t.Error("out-of-range times are not clamped to the first and last buckets")
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var h latencyHist
	if h.latency() != (Latency{}) {
		t.Fatalf("empty histogram: %+v", h.latency())
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	l := h.latency()
	near := func(got, want time.Duration) bool { return got > want*87/100 && got < want*113/100 }
	if l.N != 1000 || !near(l.P50, 500*time.Millisecond) || !near(l.P99, 990*time.Millisecond) {
		t.Errorf("latency of 1..1000 ms = %+v, want n 1000, p50 ≈ 500ms, p99 ≈ 990ms", l)
	}
	var m latencyTotal
	m.add(&h)
	m.add(&h)
	if m.latency() != (Latency{N: 2000, P50: l.P50, P99: l.P99}) {
		t.Errorf("added up twice: %+v, want n 2000 and the same p50 and p99 as %+v", m.latency(), l)
	}
	if n := testing.AllocsPerRun(100, func() { h.add(time.Millisecond) }); n != 0 {
		t.Errorf("add allocates %v times", n)
	}
}

// TestLatencyHistogramExact: the exported cumulative counts are exact at
// every bound, against a direct count of the times added, including times
// a nanosecond either side of each bound.
func TestLatencyHistogramExact(t *testing.T) {
	var h latencyHist
	var times []time.Duration
	for _, b := range LatencyBounds() {
		times = append(times, b-1, b, b+1, b/3, b*5/4)
	}
	times = append(times, 0, time.Nanosecond, time.Hour, 100*time.Hour)
	var sum time.Duration
	for _, d := range times {
		h.add(d)
		sum += d
	}
	var l LatencyHistogram
	l.add(&h)
	if l.Count != uint64(len(times)) || l.Sum != sum {
		t.Errorf("count %d sum %v, want %d and %v", l.Count, l.Sum, len(times), sum)
	}
	for k, b := range LatencyBounds() {
		var want uint64
		for _, d := range times {
			if d < b {
				want++
			}
		}
		if l.Below[k] != want {
			t.Errorf("below %v: %d, want %d", b, l.Below[k], want)
		}
	}
}
