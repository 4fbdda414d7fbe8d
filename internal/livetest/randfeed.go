// Package livetest feeds synthetic smux and yamux traffic straight into a
// live.Session, for tests and benchmarks that measure what the capture
// state does with frames, without sockets or decoders in the way.
package livetest

import (
	"encoding/binary"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// RandFeed records the frames of the demo's RAND exchange into a session,
// one at a time: SYN → PSH "RAND" → PSH 8 bytes ← FIN ← FIN →, each cycle
// on a new stream (client ids 3, 5, 7…), with offsets as Decoder.Next
// yields them. It allocates nothing per frame.
type RandFeed struct {
	s      *live.Session
	at     time.Time
	frames [5]decoder.Frame
	dirs   [5]live.Dir
	off    [2]int64
	sid    uint32
	i      int
}

// NewRandFeed returns a RandFeed of smux version ver into s, stamping
// every frame at.
func NewRandFeed(s *live.Session, ver uint8, at time.Time) *RandFeed {
	r := &RandFeed{s: s, at: at, sid: 1}
	c2s, s2c := live.ClientToServer, live.ServerToClient
	for i, w := range []struct {
		dir     live.Dir
		cmd     decoder.Cmd
		payload string
	}{{c2s, decoder.SYN, ""}, {c2s, decoder.PSH, "RAND"}, {s2c, decoder.PSH, "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"}, {s2c, decoder.FIN, ""}, {c2s, decoder.FIN, ""}} {
		r.frames[i] = decoder.Frame{Header: decoder.MakeHeader(ver, w.cmd, uint16(len(w.payload)), 0), Payload: []byte(w.payload)}
		r.dirs[i] = w.dir
	}
	return r
}

// Next records the next frame of the cycle.
func (r *RandFeed) Next() {
	if r.i == 0 {
		r.sid += 2
		for i := range r.frames {
			binary.LittleEndian.PutUint32(r.frames[i].Header[4:], r.sid)
		}
	}
	f, d := &r.frames[r.i], r.dirs[r.i]
	f.Offset = r.off[d]
	r.off[d] += f.Size()
	r.s.Record(d, r.at, f)
	if r.i++; r.i == len(r.frames) {
		r.i = 0
	}
}

// Cycle records a whole RAND exchange.
func (r *RandFeed) Cycle() {
	for range r.frames {
		r.Next()
	}
}

// Open records the SYN and the request of a new stream and leaves it in
// flight, unanswered: the next frame begins another exchange.
func (r *RandFeed) Open() {
	r.i = 0
	r.Next()
	r.Next()
	r.i = 0
}
