package live

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// TestPendingLateBounded: where nothing evaluates (a program that embeds
// the tap and reads no findings), a v2 session's late data waiting for a
// UPD is bounded by maxPendingLate, and all of it still counts: a server
// that answers every stream after its client's Close held one entry per
// stream, for as long as the session lived, before the bound.
func TestPendingLateBounded(t *testing.T) {
	reg := New(Config{History: -1})
	s := reg.Open(SessionInfo{Client: "c", Server: "s"}, time.Unix(0, 0))
	at := time.Unix(1, 0)
	var off [2]int64
	rec := func(dir Dir, cmd decoder.Cmd, sid uint32, payload string) {
		h := decoder.MakeHeader(2, cmd, uint16(len(payload)), sid)
		f := decoder.Frame{Header: h, Payload: []byte(payload), Offset: off[dir]}
		off[dir] += int64(len(h) + len(payload))
		s.Record(dir, at, &f)
	}
	const streams = 1000
	for i := range uint32(streams) {
		sid := 3 + 2*i
		rec(ClientToServer, decoder.SYN, sid, "")
		rec(ClientToServer, decoder.FIN, sid, "") // Close
		rec(ServerToClient, decoder.PSH, sid, "answer")
	}
	s.mu.Lock()
	n, late := len(s.w.pendingLate), s.w.late[ServerToClient]
	s.countPendingLate(at.Add(time.Second).UnixNano(), false)
	total := s.w.late[ServerToClient]
	s.mu.Unlock()
	if n > maxPendingLate {
		t.Errorf("%d streams' late data pending, want at most %d", n, maxPendingLate)
	}
	if late != streams-uint64(n) || total != streams {
		t.Errorf("late frames counted %d at once and %d in all, want %d and %d", late, total, streams-n, streams)
	}
}
