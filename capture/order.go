package capture

import (
	"context"
	"time"
)

// The reader's records come out in capture-time order, across
// connections: this file is the one place that decides that order.
//
// A connection is held, its bytes kept unrecorded, while the reader
// decides whether it is smux, yamux or neither (probing), and, joined
// mid-stream, which end is the client (orienting) and where its frames
// begin (aligning). Once decided, it records what it held with the
// times the bytes came: its session opens at its SYN. Meanwhile other
// connections went on: recorded at once, their later records would come
// before the held connection's earlier ones, and plain and JSON output
// would go back in time (a yamux client that sent a stream's first two
// frames and its third a second later was recorded a second late).
//
// So while a connection is held, what the other connections would record
// at or after its first held moment (its hold point, holdFrom) is queued
// instead, in the order it comes; once the connection is decided, what it
// held is merged into that queue by time, and the queue is released up to
// the earliest hold point of a connection still held. Evaluations and
// the Clock follow what is released, not the packets read.
//
// Bounds: a connection holds the others for at most holdWait of capture
// time from its hold point, longer than the detection waits that have a
// bound (probeWait, orientWait, alignWait, and the sweep's second), and
// the queue at most queueMaxBytes and queueMaxItems; past either, the
// earliest held connection stops holding the others (late). A live
// capture's output is so at most holdWait late.
// A late connection's records keep their capture times: what it held
// steps back, once, behind the records made meanwhile, as a connection
// held without the order would. Stamped later, its frames would lose the
// times the findings read: a ping, and the FIN that gave up on it 6 s
// later, at one time, and KEEPALIVE would not open. A connection whose
// own waits ran out by the packet that would make it late is settled
// before that packet (expireHeld), so that it is not: a capture's packets
// can be seconds apart, and the sweep comes after the packet. One late
// all the same, still undecided (made late by a packet before its waits
// began: a client whose first byte came more than holdWait after its
// SYN), is settled as its waits run out too, before the packet or quiet
// moment by which they did (expireLate): its records step back behind
// the evaluations made up to the packet before, not behind those of the
// silence after it. (A joined
// connection still probed has no such wait: it waits for a chain of
// frames, or a lone ping, lone.go.)
const (
	holdWait      = 3 * time.Second
	queueMaxBytes = 8 << 20
	queueMaxItems = 1 << 16
)

// queued is one record-making call held back by the order: do makes it
// at the time it is given, its own (at).
type queued struct {
	at time.Time
	n  int // bytes held
	do func(at time.Time)
}

// order is the Reader's order state.
type order struct {
	queue  []queued
	qhead  int
	qbytes int
	// holds are the held connections, in the order they began to hold:
	// the first one still holding gives the horizon.
	holds []*conn
	hhead int
	// lates are the connections made late while undecided (markLate),
	// until they are decided or end: expireLate settles them.
	lates []*conn
	// evalAt is the capture time evaluated up to (evaluateTo).
	evalAt time.Time
	// merging is, while a decided connection's held records are merged
	// into the queue, where the next one goes at the earliest; -1 when
	// not merging.
	merging int
	ctx     context.Context
}

// holding reports whether c holds the records of the other connections:
// it has begun (a SYN or a byte), is not decided yet and not late.
func (c *conn) holding() bool {
	if !c.seen || c.late || c.complete {
		return false
	}
	switch c.state {
	case probing, orienting, aligning:
		return true
	}
	return false
}

// heldPast reports whether c has held the others for longer than
// holdWait at capture time t: it is late.
func (c *conn) heldPast(t time.Time) bool { return t.Sub(c.holdFrom) > holdWait }

// undecided reports whether c is still held for its protocol, its roles
// or its frames' boundaries, and has not ended.
func (c *conn) undecided() bool {
	if c.complete {
		return false
	}
	switch c.state {
	case probing, orienting, aligning:
		return true
	}
	return false
}

// markLate makes c, which held the others for longer than the order's
// bounds allow, late; still undecided, it is noted for expireLate.
func (r *Reader) markLate(c *conn) {
	c.late = true
	if !c.inLates && c.undecided() {
		c.inLates = true
		r.lates = append(r.lates, c)
	}
}

// expireLate settles, at capture time t, before the packet or quiet
// moment at t is read and the evaluations up to t are made, the late
// connections still undecided whose own waits have run out by t, as the
// sweep, which comes after the packet and once a second, would: the
// evaluations up to t then see their sessions. A yamux client whose first
// ping came 4.8 s after its SYN, its server frozen, was late at that
// ping; decided only at its FIN 6 s later, its ping stepped back behind
// evaluations that had no session, and KEEPALIVE never opened. Once per
// evaluation step at most, where evaluations are made: the work of many
// late connections is not every packet's.
func (r *Reader) expireLate(t time.Time) {
	if len(r.lates) == 0 || r.cfg.Evaluate != nil && t.Before(r.nextEval) {
		return
	}
	n := 0
	for _, c := range r.lates {
		if c.undecided() {
			c.expire(t)
		}
		if c.undecided() {
			r.lates[n] = c
			n++
			continue
		}
		c.inLates = false
	}
	clear(r.lates[n:])
	r.lates = r.lates[:n]
}

// startHolding notes c, which was just read, as held if it is: from its
// SYN, or the first bytes it holds.
func (r *Reader) startHolding(c *conn) {
	if c.inHolds || !c.holding() {
		return
	}
	c.inHolds = true
	c.holdFrom = c.last
	if len(c.pending) > 0 && c.pending[0].at.Before(c.holdFrom) {
		c.holdFrom = c.pending[0].at
	}
	if !c.synAt.IsZero() && c.synAt.Before(c.holdFrom) {
		c.holdFrom = c.synAt
	}
	if r.hhead > 0 && r.hhead >= len(r.holds)/2 {
		n := copy(r.holds, r.holds[r.hhead:])
		clear(r.holds[n:])
		r.holds, r.hhead = r.holds[:n], 0
	}
	r.holds = append(r.holds, c)
}

// horizon returns the hold point of the first connection still held, and
// whether there is one: what is queued at or before it may be released.
// A connection held for longer than holdWait, in capture time, is late.
func (r *Reader) horizon() (time.Time, bool) {
	for r.hhead < len(r.holds) {
		c := r.holds[r.hhead]
		if c.holding() {
			if !c.heldPast(r.latest) {
				return c.holdFrom, true
			}
			r.markLate(c)
		}
		c.inHolds = false
		r.holds[r.hhead] = nil
		r.hhead++
	}
	r.holds, r.hhead = r.holds[:0], 0
	return time.Time{}, false
}

// now reports whether a record made at capture time at is made now,
// nothing being held, and then brings capture time up to it; if not, the
// caller queues it (hold).
func (r *Reader) now(at time.Time) bool {
	if r.qhead < len(r.queue) || r.merging >= 0 {
		return false
	}
	if _, held := r.horizon(); held {
		return false
	}
	r.advance(at)
	return true
}

// emit makes a record at capture time at with do, now or once the order
// releases it (do must then not use bytes it does not own).
func (r *Reader) emit(at time.Time, n int, do func(at time.Time)) {
	if r.now(at) {
		do(at)
		return
	}
	r.hold(at, n, do)
}

// hold queues a record at capture time at: after what is queued,
// or, while merging a decided connection's held records, before the
// first record queued after its time.
func (r *Reader) hold(at time.Time, n int, do func(at time.Time)) {
	q := queued{at: at, n: n, do: do}
	r.qbytes += n
	if r.merging < 0 {
		r.queue = append(r.queue, q)
		return
	}
	i := max(r.merging, r.qhead)
	for i < len(r.queue) && !r.queue[i].at.After(at) {
		i++
	}
	r.queue = append(r.queue, queued{})
	copy(r.queue[i+1:], r.queue[i:])
	r.queue[i] = q
	r.merging = i + 1
}

// merge begins (on) or ends merging the records of a connection just
// decided into the queue, by time.
func (r *Reader) merge(on bool) {
	if !on {
		r.merging = -1
		return
	}
	if _, held := r.horizon(); held || r.qhead < len(r.queue) {
		r.merging = r.qhead
	}
}

// release makes the queued records that no held connection may precede,
// in order, with the evaluations due before each; past the queue's
// bounds the earliest held connection is late. Capture time then stands
// at the horizon, or at the latest packet's if nothing is held.
func (r *Reader) release() {
	for {
		h, held := r.horizon()
		for r.qhead < len(r.queue) {
			q := &r.queue[r.qhead]
			if held && q.at.After(h) {
				break
			}
			r.pop()
		}
		if !held || (r.qbytes <= queueMaxBytes && len(r.queue)-r.qhead <= queueMaxItems) {
			if held {
				r.advance(minTime(h, r.latest))
			} else {
				r.advance(r.latest)
			}
			return
		}
		c := r.holds[r.hhead]
		r.markLate(c)
		c.inHolds = false
		r.holds[r.hhead] = nil
		r.hhead++
	}
}

// pop makes the first queued record.
func (r *Reader) pop() {
	q := r.queue[r.qhead]
	r.queue[r.qhead] = queued{}
	r.qhead++
	r.qbytes -= q.n
	if r.qhead == len(r.queue) {
		r.queue, r.qhead = r.queue[:0], 0
	} else if r.qhead >= 1024 && r.qhead >= len(r.queue)/2 {
		n := copy(r.queue, r.queue[r.qhead:])
		clear(r.queue[n:])
		r.queue, r.qhead = r.queue[:n], 0
	}
	r.advance(q.at)
	if r.cfg.Pace != nil {
		r.cfg.Pace(r.ctx) // a printer of every record keeps up with a release of many
	}
	q.do(q.at)
}

// releaseAll makes every queued record: nothing is held any more (Close).
func (r *Reader) releaseAll() {
	for _, c := range r.holds[r.hhead:] {
		c.late, c.inHolds = c.holding(), false
	}
	clear(r.holds)
	r.holds, r.hhead = r.holds[:0], 0
	r.release()
}

// advance brings capture time up to t: the evaluations due by then, and
// the Clock.
func (r *Reader) advance(t time.Time) {
	r.evaluateTo(t)
	if r.cfg.Clock != nil {
		r.cfg.Clock.Set(t)
	}
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
