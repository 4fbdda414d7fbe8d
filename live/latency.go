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
	n   uint64
	sum time.Duration // of every time added, for an exported histogram's sum
	b   [latencyBuckets]uint32
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
	h.sum += max(d, 0)
	h.b[latencyBucket(d)]++
}

// quantile returns the time below which a fraction q of the replies came.
func (h *latencyHist) quantile(q float64) time.Duration { return quantile(&h.b, h.n, q) }

func (h *latencyHist) latency() Latency {
	return Latency{N: h.n, P50: h.quantile(0.50), P99: h.quantile(0.99)}
}

// quantile returns the time below which a fraction q of the n times that
// buckets b count came.
func quantile[C uint32 | uint64](b *[latencyBuckets]C, n uint64, q float64) time.Duration {
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range b {
		seen += uint64(c)
		if seen >= rank {
			return latencyMid(i)
		}
	}
	return latencyMid(latencyBuckets - 1)
}

// latencyTotal adds up latencyHists in the same quarter-octave buckets,
// counted in 64 bits: the first-reply times of every session of a run,
// forgotten ones included, so that its percentiles are as exact as a
// session's (within 12.5%), not read off LatencyHistogram's octaves. It
// costs a kilobyte, once.
type latencyTotal struct {
	n uint64
	b [latencyBuckets]uint64
}

// add adds h's counts to t.
func (t *latencyTotal) add(h *latencyHist) {
	if h.n == 0 {
		return
	}
	t.n += h.n
	for i, c := range h.b {
		t.b[i] += uint64(c)
	}
}

func (t *latencyTotal) latency() Latency {
	return Latency{N: t.n, P50: quantile(&t.b, t.n, 0.50), P99: quantile(&t.b, t.n, 0.99)}
}

// NumLatencyBounds is how many bounds LatencyHistogram counts below.
const NumLatencyBounds = 24

// LatencyBounds returns the upper bounds of LatencyHistogram's buckets:
// octaves of 1.024 µs from 4.096 µs (2^2 units) to 34.4 s (2^25 units).
// They are edges of the quarter-octave buckets live keeps, so the counts
// below them are exact, not interpolated.
func LatencyBounds() [NumLatencyBounds]time.Duration {
	var b [NumLatencyBounds]time.Duration
	for i := range b {
		b[i] = time.Duration(1024) << (i + 2)
	}
	return b
}

// LatencyHistogram is first-reply latency as cumulative counts, the shape
// a Prometheus histogram exports.
type LatencyHistogram struct {
	// Count counts the streams that got a reply; Sum adds up their times.
	Count uint64
	Sum   time.Duration
	// Below[i] counts the replies that came in less than LatencyBounds()[i].
	Below [NumLatencyBounds]uint64
}

// add adds h's counts. Bound k (2^(k+2) units) is the lower edge of
// quarter-octave bucket 4(k+1), so Below[k] is the sum of the buckets
// before it.
func (l *LatencyHistogram) add(h *latencyHist) {
	if h.n == 0 {
		return
	}
	l.Count += h.n
	l.Sum += h.sum
	var seen uint64
	next := 0
	for k := range l.Below {
		for edge := 4 * (k + 1); next < edge; next++ {
			seen += uint64(h.b[next])
		}
		l.Below[k] += seen
	}
}
