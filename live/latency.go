package live

import (
	"math/bits"
	"time"
)

// Latency sums up first-reply times: for each stream, the time from its
// SYN to the first data from the side that did not open it
// (StreamSnap.FirstReply). Percentiles come from a histogram of quarter
// octaves, so they are within 12.5% of the true value.
type Latency struct {
	// N counts the streams that got a reply.
	N uint64
	// P50 and P99 are the median and the 99th percentile; zero when N is 0.
	P50, P99 time.Duration
}

// latencyBuckets is the size of a latencyHist: quarter octaves of 1024 ns
// units up to 2^31 units, about 36 minutes; longer times count in the last.
const latencyBuckets = 124

// latencyHist counts first-reply times. Adding one is a few instructions
// and allocates nothing: it runs on the data path, once per stream.
type latencyHist struct {
	n uint64
	b [latencyBuckets]uint32
}

// latencyBucket returns the bucket of d: four per octave of 1.024 µs units.
func latencyBucket(d time.Duration) int {
	v := uint64(max(d, 0)) >> 10
	if v < 4 {
		return int(v)
	}
	e := bits.Len64(v) // at least 3
	i := (e-2)*4 + int(v>>(e-3)&3)
	return min(i, latencyBuckets-1)
}

// latencyMid returns the middle of bucket i.
func latencyMid(i int) time.Duration {
	if i < 4 {
		return time.Duration(i)<<10 + 512
	}
	e, m := i/4+2, uint64(i%4)
	lo := (4 + m) << (e - 3)
	width := uint64(1) << (e - 3)
	return time.Duration((lo + width/2) << 10)
}

func (h *latencyHist) add(d time.Duration) {
	h.n++
	h.b[latencyBucket(d)]++
}

// merge adds o's counts to h.
func (h *latencyHist) merge(o *latencyHist) {
	if o.n == 0 {
		return
	}
	h.n += o.n
	for i, c := range o.b {
		h.b[i] += c
	}
}

// quantile returns the time below which a fraction q of the replies came.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.b {
		seen += uint64(c)
		if seen >= rank {
			return latencyMid(i)
		}
	}
	return latencyMid(latencyBuckets - 1)
}

func (h *latencyHist) latency() Latency {
	return Latency{N: h.n, P50: h.quantile(0.50), P99: h.quantile(0.99)}
}
