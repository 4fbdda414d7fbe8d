package pcapout

import "io"

// LiveConns returns how many connections l holds as open, for viewers to
// join.
func LiveConns(l *Live) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// LiveQueued returns the payload bytes queued now in each viewer's
// writer.
func LiveQueued(l *Live) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var q []int64
	for _, v := range l.viewers {
		q = append(q, v.w.queued.Load())
	}
	return q
}

// HeldSamples returns how many times w's writer sampled the writes in
// progress (heldWrites).
func HeldSamples(w *Writer) uint64 { return w.samples.Load() }

// NewQueued is New with a queue of queued payload bytes (New's holds
// 64 MiB), for tests that fill it.
func NewQueued(out io.Writer, queued int64) (*Writer, error) {
	return newWriter(out, 0, bufSize, FlushEvery, queued)
}

// NewSized is newWriter with a limit, a buffer of size bytes and a
// queue of queued payload bytes.
func NewSized(out io.Writer, limit int64, size int, queued int64) (*Writer, error) {
	return newWriter(out, limit, size, FlushEvery, queued)
}
