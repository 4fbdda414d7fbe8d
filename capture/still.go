package capture

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrStill is what a Source whose capture time stands still while no
// packet comes (a pipe from a live tcpdump: read -) returns when no packet
// has come for a while, with, in the CaptureInfo's Timestamp, the
// capture's time the wall clock says it has reached: the latest packet's
// plus the wall time since it came. Unlike ErrIdle's, the capture's clock
// does not go on to it (the pipe may have stalled, its next packets
// older), but a connection held undecided (order.go) stops holding the
// others holdWait after its hold point by it, as by a packet's time: the
// output of a quiet pipe is at most holdWait late, as sniff's is.
var ErrStill = errors.New("capture: no packet from the pipe for a while")

// still is a quiet moment of a Source whose capture time stands still
// (ErrStill), at the capture time now by the wall clock: the connections
// that have held the others for longer than holdWait by it are late, and
// what they held back is released. The clock stays at the latest packet's.
func (r *Reader) still(now time.Time) {
	for _, c := range r.holds[r.hhead:] {
		if c.holding() && c.heldPast(now) {
			c.late = true
		}
	}
	r.release()
}

// Still returns src, a live capture whose packets come down a pipe, as a
// Source that returns ErrStill after every period of wall time with no
// packet, once a packet has come: the read of src goes on meanwhile, and
// its packet is returned by a later call.
func Still(src Source, period time.Duration) Source {
	return &stillSource{src: src, period: period, got: make(chan readResult, 1)}
}

// Live is Still for a pipe whose packets come as they are captured (read
// URL of a pcapout.Live; read - of tcpdump -U -w -), whose capture time
// goes on while none comes, as sniff's does: while live says so of the
// latest packet (its capture time and the wall time it came), a period
// with no packet is a quiet moment (ErrIdle) at the capture time the wall
// clock says it has reached, less behind: the latest packet's time plus
// the wall time since it came, measured on the reader's clock alone, so
// that a writer's clock set apart from it does not matter. behind leaves
// room for a packet still on its way (a writer that flushes every 50 ms,
// ssh); one that comes later all the same, older than a quiet moment
// already passed, is read at that moment's time (Reader.Packet). Until
// the moment is past the latest packet, and while live says no (the
// pipe replays a capture of before), it returns ErrStill as Still does.
func Live(src Source, period, behind time.Duration, live func(at, came time.Time) bool) *LiveSource {
	return &LiveSource{stillSource{src: src, period: period, got: make(chan readResult, 1), behind: behind, live: live}}
}

// LiveSource is the Source Live returns.
type LiveSource struct{ stillSource }

// Moving reports whether the capture's time goes on while no packet
// comes: live said so of the latest packet. It is safe for concurrent use.
func (s *LiveSource) Moving() bool { return s.movingNow.Load() }

type readResult struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error
}

type stillSource struct {
	src     Source
	period  time.Duration
	got     chan readResult // the read under way's result
	reading bool            // a read of src is under way
	latest  time.Time       // the latest packet's capture time
	came    time.Time       // the wall time it came
	timer   *time.Timer
	// live, if not nil, says whether a packet of capture time at that came
	// at wall time came was captured as it came (Live); behind is how far
	// a quiet moment stays behind the wall clock's reckoning.
	live      func(at, came time.Time) bool
	behind    time.Duration
	moving    bool        // live said so of the latest packet
	movingNow atomic.Bool // moving, for Moving
	quiet     time.Time   // the latest quiet moment returned (ErrIdle)
}

func (s *stillSource) LinkType() layers.LinkType { return s.src.LinkType() }

// ReadPacketData returns src's next packet, or ErrStill (or, Live,
// ErrIdle). A read of src begins only once the caller is done with the
// packet before (its data valid until the next call), and only one at a
// time.
func (s *stillSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if !s.reading {
		s.reading = true
		go func() {
			data, ci, err := s.src.ReadPacketData()
			s.got <- readResult{data, ci, err}
		}()
	}
	var res readResult
	if s.latest.IsZero() {
		res = <-s.got
	} else {
		if s.timer == nil {
			s.timer = time.NewTimer(s.period)
		} else {
			s.timer.Reset(s.period)
		}
		select {
		case res = <-s.got:
			s.timer.Stop()
		case <-s.timer.C:
			now := s.latest.Add(time.Since(s.came))
			if at := now.Add(-s.behind); s.moving && at.After(s.latest) && at.After(s.quiet) {
				s.quiet = at
				return nil, gopacket.CaptureInfo{Timestamp: at}, ErrIdle
			}
			return nil, gopacket.CaptureInfo{Timestamp: now}, ErrStill
		}
	}
	s.reading = false
	if res.err == nil {
		if res.ci.Timestamp.After(s.latest) {
			s.latest = res.ci.Timestamp
		}
		s.came = time.Now()
		if s.live != nil {
			s.moving = s.live(res.ci.Timestamp, s.came)
			s.movingNow.Store(s.moving)
		}
	}
	return res.data, res.ci, res.err
}
