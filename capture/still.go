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
			r.markLate(c)
		}
	}
	r.release()
}

// Still returns src, a live capture whose packets come down a pipe, as a
// Source that returns ErrStill after every period of wall time with no
// packet, once a packet has come: the read of src goes on meanwhile, and
// its packet is returned by a later call. Its capture time goes on
// without packets only by the producer's word: a heartbeat src carries
// (a pcapng Interface Statistics Block, which pcapout.Live sends while it
// has no packet to send) is returned as a quiet moment at its time
// (ErrIdle) as it comes, while the read of the next packet waits. A pipe
// with none (tcpdump -U -w -, a capture replayed) stands still at its
// latest packet: a stalled pipe, ssh or network cannot be told from a
// quiet program by the reader, and a clock that went on by the wall
// clock would age what the stall held back.
func Still(src Source, period time.Duration) *StillSource {
	s := &StillSource{src: src, period: period, got: make(chan readResult, 1)}
	if h, ok := src.(heartbeats); ok { // a File, an ngSource
		s.beat, s.take = h.beats()
	}
	return s
}

type readResult struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error
}

// StillSource is the Source Still returns: its ReadPacketData is for one
// reader; Beating may be called from any goroutine.
type StillSource struct {
	src     Source
	period  time.Duration
	got     chan readResult // the read under way's result
	reading bool            // a read of src is under way
	latest  time.Time       // the latest packet's capture time
	came    time.Time       // the wall time it came
	timer   *time.Timer
	// beat, if not nil, is signalled at each of src's heartbeats, and
	// take returns the latest not given yet; beating says one came.
	beat    <-chan struct{}
	take    func() (time.Time, bool)
	beating atomic.Bool
}

// LinkType is the link type of the Source Still wraps.
func (s *StillSource) LinkType() layers.LinkType { return s.src.LinkType() }

// Beating reports whether a heartbeat has come: the capture's clock goes
// on by them while no packet comes, and stands still only while they do
// not come either. It is safe for concurrent use.
func (s *StillSource) Beating() bool { return s.beating.Load() }

// ReadPacketData returns src's next packet, or ErrStill, or ErrIdle at a
// heartbeat's time. A read of src begins only once the caller is done
// with the packet before (its data valid until the next call), and only
// one at a time.
func (s *StillSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
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
	wait:
		for {
			select {
			case res = <-s.got:
				s.timer.Stop()
				break wait
			case <-s.beat:
				if at, ok := s.take(); ok {
					s.timer.Stop()
					s.beating.Store(true)
					return nil, gopacket.CaptureInfo{Timestamp: at}, ErrIdle
				}
			case <-s.timer.C:
				return nil, gopacket.CaptureInfo{Timestamp: s.latest.Add(time.Since(s.came))}, ErrStill
			}
		}
	}
	s.reading = false
	switch {
	case res.err == nil:
		if res.ci.Timestamp.After(s.latest) {
			s.latest = res.ci.Timestamp
		}
		s.came = time.Now()
	case errors.Is(res.err, ErrIdle):
		s.beating.Store(true) // a heartbeat src returned itself, before a packet
	}
	return res.data, res.ci, res.err
}
