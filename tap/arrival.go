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

// arrivals probes the socket a direction is read from, for what of its
// bytes had come by when (live.Session.SetArrivalProbe): a frame is
// stamped as the Read that took it returns, which for bytes that waited in
// the socket buffer, behind a reader that fell behind, is long after they
// came.
type arrivals struct {
	rc syscall.RawConn
	// fed is the offset of the direction (counted as its frames' offsets
	// are) its reads have taken, fed or held to feed (readEnded), not
	// counting a Read under way: every byte below it had come. Set by the
	// reader; loaded by the evaluations' probes.
	fed  atomic.Int64
	last int64 // the reader's: when (Unix ns) it last probed
}

// watchArrivals makes the feeder's direction, read from c by one reader
// (calls of readStarting and readEnded around each read), stamped as it
// is read (live.Session.SetArrivalProbe). Where c is a socket whose
// waiting bytes the system tells (TCP, unix), its reader probes the socket
// as its Reads begin, and each evaluation probes it, while the session
// wants it; where it is not (a TLS conn, a pipe), nothing tells when the
// bytes came, and the session takes the stamps for it.
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

// probe looks at the socket: every byte below what the reads had fed
// before it looked, and those waiting then, had come by the time it
// returns. (Bytes a Read under way took are in neither: less is claimed,
// never more.)
func (a *arrivals) probe() (time.Time, int64, bool) {
	fed := a.fed.Load()
	n, ok := waiting(a.rc)
	return time.Now(), fed + int64(n), ok
}

// readStarting tells the feeder that its reader is about to read: while
// the session wants probes (live.Session.ArrivalWanted), at most every
// arrivalEvery, it probes the socket first, when what it fed is exactly
// what its reads took.
func (f *Feeder) readStarting() {
	a := f.arrive
	if a == nil {
		return
	}
	fed := f.offset() - f.skipped
	a.fed.Store(fed)
	if !f.sess.ArrivalWanted(f.dir) {
		return
	}
	if time.Now().UnixNano()-a.last < int64(arrivalEvery) {
		return
	}
	if w, ok := waiting(a.rc); ok {
		now := time.Now() // after the socket was asked: what it held had come by then
		a.last = now.UnixNano()
		f.sess.Arrived(f.dir, now, fed+int64(w))
	}
}

// readEnded tells the feeder that the read readStarting announced
// returned, and that what it took was fed, but for held bytes the reader
// keeps to feed later (a tap.Conn's read-ahead): those had come too.
func (f *Feeder) readEnded(held int) {
	if a := f.arrive; a != nil {
		// Offsets count no prefix: of the held bytes, those of it still
		// to skip are none of the direction's.
		a.fed.Store(f.offset() - f.skipped + max(int64(held)-f.skip, 0))
	}
}
