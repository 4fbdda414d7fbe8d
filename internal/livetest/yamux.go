package livetest

import (
	"encoding/binary"
	"time"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
)

// YamuxRandFeed records the frames of RAND exchanges into a yamux session as
// hashicorp/yamux sends them: the opener's WINDOW_UPDATE SYN and 4-byte
// DATA, the server's WINDOW_UPDATE ACK, 8-byte DATA and FIN, the client's
// FIN; and a Ping and its ACK every cycle's start, so that the session
// keeps its yamux state (pings, round trips) as a live one does.
type YamuxRandFeed struct {
	s      *live.Session
	frames [6]yamux.Frame
	dirs   [6]live.Dir
	sid    uint32
	i      int
	off    [2]int64
	at     time.Time
}

// NewYamuxRandFeed returns a YamuxRandFeed into s, stamping every frame at.
func NewYamuxRandFeed(s *live.Session, at time.Time) *YamuxRandFeed {
	r := &YamuxRandFeed{s: s, sid: 1, at: at}
	c2s, s2c := live.ClientToServer, live.ServerToClient
	for i, w := range []struct {
		dir   live.Dir
		typ   yamux.Type
		flags yamux.Flags
		n     uint32
	}{{c2s, yamux.WindowUpdate, yamux.SYN, 0}, {c2s, yamux.Data, 0, 4}, {s2c, yamux.WindowUpdate, yamux.ACK, 0},
		{s2c, yamux.Data, 0, 8}, {s2c, yamux.WindowUpdate, yamux.FIN, 0}, {c2s, yamux.WindowUpdate, yamux.FIN, 0}} {
		r.frames[i] = yamux.Frame{Header: yamux.MakeHeader(w.typ, w.flags, 0, w.n), Payload: make([]byte, w.n)}
		r.dirs[i] = w.dir
	}
	return r
}

// Next records the next frame of the cycle, a new stream's first after a
// Ping and its ACK.
func (r *YamuxRandFeed) Next() {
	if r.i == 0 {
		r.sid += 2
		for i := range r.frames {
			binary.BigEndian.PutUint32(r.frames[i].Header[4:], r.sid)
		}
		ping := yamux.Frame{Header: yamux.MakeHeader(yamux.Ping, yamux.SYN, 0, r.sid)}
		r.record(live.ClientToServer, &ping)
		ping.Header = yamux.MakeHeader(yamux.Ping, yamux.ACK, 0, r.sid)
		r.record(live.ServerToClient, &ping)
	}
	r.record(r.dirs[r.i], &r.frames[r.i])
	if r.i++; r.i == len(r.frames) {
		r.i = 0
	}
}

func (r *YamuxRandFeed) record(d live.Dir, f *yamux.Frame) {
	f.Offset = r.off[d]
	r.off[d] += f.Size()
	r.s.RecordYamux(d, r.at, f)
}

// Cycle records a whole RAND exchange.
func (r *YamuxRandFeed) Cycle() {
	for range r.frames {
		r.Next()
	}
}

// Open records the WINDOW_UPDATE SYN and the request of a new stream and
// leaves it in flight, unanswered: the next frame begins another exchange.
func (r *YamuxRandFeed) Open() {
	r.i = 0
	r.Next()
	r.Next()
	r.i = 0
}
