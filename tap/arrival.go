package tap

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// arrivalEvery is how often at most a direction's reader probes its
// socket as a Read begins (Feeder.readStarting): a probe is one system
// call, and what it tells is only needed to the millisecond.
const arrivalEvery = time.Millisecond

// arrivals probes the socket a direction is read from, for when its bytes
// came (live.Session.SetArrivalProbe): a frame is stamped as the Read that
// took it returns, which for bytes that waited in the socket buffer,
// behind a reader that fell behind, is long after they came.
type arrivals struct {
	rc syscall.RawConn
	// bound is an offset of the direction (counted as its frames' offsets
	// are) that the bytes its reads have taken do not pass: what was fed,
	// and while a Read is under way, what it may take. Set by the reader;
	// loaded by the evaluations' probes.
	bound atomic.Int64
	last  int64 // the reader's: when (Unix ns) it last probed
}

// watchArrivals makes the feeder's direction, read from c by one reader
// (calls of readStarting and readEnded around each read), stamped as it
// is read (live.Session.SetArrivalProbe). Where c is a socket whose
// waiting bytes the system tells (TCP, unix), its reader probes the socket
// as its Reads begin, and each evaluation probes it; where it is not (a
// TLS conn, a pipe), nothing tells when the bytes came.
func (f *Feeder) watchArrivals(c net.Conn) {
	var a *arrivals
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			if _, ok := waiting(rc); ok {
				a = &arrivals{rc: rc}
			}
		}
	}
	f.arrive = a
	if a == nil {
		f.sess.SetArrivalProbe(f.dir, nil)
		return
	}
	f.sess.SetArrivalProbe(f.dir, a.probe)
}

// probe looks at the socket now: the bytes of the direction that had come
// by then are those its reads had taken, which bound passes by none, and
// those waiting. The time is read before the socket, bound after it.
func (a *arrivals) probe() (time.Time, int64, bool) {
	now := time.Now()
	n, ok := waiting(a.rc)
	if !ok {
		return now, 0, false
	}
	return now, a.bound.Load() + int64(n), true
}

// readStarting tells the feeder that its reader is about to read up to n
// bytes: at most every arrivalEvery, it probes the socket first, when
// what it fed is exactly what its reads took.
func (f *Feeder) readStarting(n int) {
	a := f.arrive
	if a == nil {
		return
	}
	fed := f.offset() - f.skipped
	if !f.sess.ArrivalArmed(f.dir) {
		// No FIN lately that a probe would help judge: no clock read,
		// no system call (the bound stays exact for when one is).
		a.bound.Store(fed + int64(n))
		return
	}
	if now := time.Now(); now.UnixNano()-a.last >= int64(arrivalEvery) {
		if w, ok := waiting(a.rc); ok {
			a.last = now.UnixNano()
			f.sess.Arrived(f.dir, now, fed+int64(w))
		}
	}
	a.bound.Store(fed + int64(n))
}

// readEnded tells the feeder that the read readStarting announced
// returned, and what it took was fed.
func (f *Feeder) readEnded() {
	if a := f.arrive; a != nil {
		a.bound.Store(f.offset() - f.skipped)
	}
}
