package smuxdiff

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// stallSlack is how late muxtop may still show what it saw a moment ago:
// the snapshots are taken a few milliseconds apart.
const stallSlack = 50 * time.Millisecond

// stallStream is one v2 stream whose reader stops, so that its writer
// blocks at the window, and which then ends one way.
type stallStream struct {
	writer   int    // side
	end      string // "resume": the reader reads again; "Close" or "CloseWrite": the writer ends; "session": the writer's session closes
	preRead  int    // bytes the reader reads before it stops (0: it never read, the window is smux's initial one)
	wst, rst *smux.Stream
	id       uint32
	size     int // of the Write that blocks

	inWrite   atomic.Bool
	writeErr  chan error
	blockedAt time.Time // when the oracle first saw the writer held back at the window
	ending    time.Time // when the test began to end the stall
	endedAt   time.Time // when the end was on the wire (FIN) or the Write returned
}

func (s *stallStream) String() string {
	return fmt.Sprintf("stream %d (%v writes, reader read %d first, ends by %s)", s.id, live.Side(s.writer), s.preRead, s.end)
}

// TestStall holds v2 writers back with readers that stop reading, and
// checks STALLED against smux: true once a writer has been blocked in a
// Write at the window for StallAfter, and only while a Write is in
// progress; false after the reader resumes, after the writer's Close or
// CloseWrite, whose bytes still sit at the window, and after the writer's
// whole session has closed (through the proxy, the session lives on while
// the reader's end does). The windows, counts and streams are checked
// against the oracle at the end.
func TestStall(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		t.Run(place.String(), func(t *testing.T) {
			runSeeds(t, 1, func(t *testing.T, rnd *rand.Rand) { stallRun(t, rnd, place, false) })
		})
		t.Run(place.String()+"/writer-session-closes", func(t *testing.T) {
			runSeeds(t, 1, func(t *testing.T, rnd *rand.Rand) { stallRun(t, rnd, place, true) })
		})
	}
}

func stallRun(t *testing.T, rnd *rand.Rand, place placement, sessionEnd bool) {
	e := newEnv(t, place, envConfig{ver: [2]byte{2, 2}, tapVersion: rnd.IntN(2) == 0, healthy: true, stalls: true})
	cfg := smuxConfig(2, 0)
	sess := e.startSmux([2]*smux.Config{cfg, cfg})
	ends := []string{"resume", "Close", "CloseWrite"}
	if soak() > 0 {
		for range 3 {
			ends = append(ends, ends[rnd.IntN(3)])
		}
	}
	writer := rnd.IntN(2) // of every stream, when its session closes
	if sessionEnd {
		ends = []string{"session", "session"}
	}
	streams := make([]*stallStream, len(ends))
	for i, end := range ends {
		s := &stallStream{writer: rnd.IntN(2), end: end, writeErr: make(chan error, 1)}
		if sessionEnd {
			s.writer = writer
		}
		if rnd.IntN(2) == 0 {
			s.preRead = 1 + rnd.IntN(3000)
		}
		opener := rnd.IntN(2)
		st, err := sess[opener].OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		as, err := sess[1-opener].AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		s.id = st.ID()
		ends := [2]*smux.Stream{}
		ends[opener], ends[1-opener] = st, as
		s.wst, s.rst = ends[s.writer], ends[1-s.writer]
		if s.preRead > 0 {
			// The reader's first read sends UPD(consumed, 65536): from then
			// on the window is the reader's MaxStreamBuffer.
			if _, err := e.write(s.wst, s.writer, make([]byte, s.preRead)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(s.rst, make([]byte, s.preRead)); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the reader's UPD at the writer", func() bool {
				m := e.endModel(s.writer).streams[s.id]
				return m != nil && m.upd[1-s.writer]
			})
			s.size = 65536 + 1 + rnd.IntN(40000)
		} else {
			s.size = 262144 + 1 + rnd.IntN(40000)
		}
		streams[i] = s
	}
	t.Logf("%s: %v", place, streams)
	for _, s := range streams {
		go func() { // ends when the reader resumes or the writer closes the stream
			s.inWrite.Store(true)
			_, err := e.write(s.wst, s.writer, make([]byte, s.size))
			s.inWrite.Store(false)
			s.writeErr <- err
		}()
	}

	// blocked reports whether s's writer is held back: in its Write, with
	// everything it wrote read by the reader and the reader's UPDs read by
	// the writer, at the window; ends are the two ends' pictures, as far as
	// muxtop has seen them.
	blocked := func(s *stallStream, ends [2]*model) bool {
		if !s.inWrite.Load() {
			return false
		}
		w, r := ends[s.writer].streams[s.id], ends[1-s.writer].streams[s.id]
		if w == nil || r == nil {
			return false
		}
		d := s.writer
		delivered := w.written[d] == r.written[d] && w.upd[1-d] == r.upd[1-d] && w.consumed[1-d] == r.consumed[1-d]
		return delivered && w.inFlight(d) >= 0 && int64(int32(w.win(d)))-w.inFlight(d) <= 0
	}
	// poll takes a snapshot and checks each stream's STALLED against smux's
	// writer; e.snapshot checks that a stalled one has a Write in progress.
	poll := func() {
		snap := e.snapshot()
		ss := e.session(snap)
		ends := [2]*model{e.endModel(0), e.endModel(1)}
		now := time.Now() // after what the ends show: muxtop saw it before
		stalls := 0
		for _, s := range streams {
			if s.blockedAt.IsZero() && blocked(s, ends) {
				s.blockedAt = now
			}
			st := ss.Stream(s.id)
			if st == nil {
				t.Fatalf("%v: not tracked", s)
			}
			d, stalled := st.Stalled(snap.At, snap.StallAfter)
			if stalled {
				stalls++
				if d != live.Dir(s.writer) {
					t.Errorf("%v: STALLED %v, the writer sends %v", s, d, live.Dir(s.writer))
				}
			}
			switch {
			case stalled && s.blockedAt.IsZero():
				t.Errorf("%v: STALLED before the writer was held back at the window: %+v", s, st.Flow)
			case !stalled && !s.blockedAt.IsZero() && s.ending.IsZero() && snap.At.Sub(s.blockedAt) > stallAfter+stallSlack:
				t.Errorf("%v: not STALLED %v after the writer blocked at the window: %+v", s, snap.At.Sub(s.blockedAt), st.Flow)
			case stalled && !s.endedAt.IsZero() && snap.At.Sub(s.endedAt) > stallSlack:
				t.Errorf("%v: still STALLED %v after the stall ended: %+v", s, snap.At.Sub(s.endedAt), st.Flow)
			}
		}
		if ss.Stalls != stalls || snap.Stalls != stalls {
			t.Errorf("Stalls %d (snapshot %d), but %d streams STALLED", ss.Stalls, snap.Stalls, stalls)
		}
	}
	pollUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			poll()
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Every writer blocks, and is STALLED for a while.
	pollUntil("every writer held back for twice StallAfter", func() bool {
		for _, s := range streams {
			if s.blockedAt.IsZero() || time.Since(s.blockedAt) < 2*stallAfter+stallSlack {
				return false
			}
		}
		return true
	})
	snap := e.snapshot()
	for _, s := range streams {
		st := e.session(snap).Stream(s.id)
		fl := st.Flow[s.writer]
		if !fl.AtWindow() || fl.InFlight() < int64(fl.Window()) {
			t.Errorf("%v: held back, muxtop says in flight %d of window %d", s, fl.InFlight(), fl.Window())
		}
	}

	// End each stall its way.
	if sessionEnd {
		for _, s := range streams {
			s.ending = time.Now()
			e.tracker(s.id, s.writer).closing.Store(true) // the Writes return before the end is on the wire
		}
		e.closeSession(writer, sess[writer])
	}
	for _, s := range streams {
		s.ending = time.Now()
		switch s.end {
		case "resume":
			go func() { // ends with the writer's FIN, below, or the session
				io.Copy(io.Discard, s.rst)
			}()
		case "Close":
			e.closeStream(s.wst, s.writer, false)
		case "CloseWrite":
			e.closeStream(s.wst, s.writer, true)
		}
	}
	done := func(s *stallStream) bool {
		if !s.endedAt.IsZero() {
			return true
		}
		select {
		case err := <-s.writeErr:
			if (err == nil) != (s.end == "resume") {
				t.Errorf("%v: the blocked Write returned %v", s, err)
			}
			s.writeErr <- err // keep it for the next look
		default:
			return false
		}
		switch s.end {
		case "Close", "CloseWrite":
			m := e.endModel(1 - s.writer).streams[s.id]
			if m == nil || m.fin[s.writer] == 0 {
				return false // the FIN is not at the reader yet
			}
		case "session":
			if e.top[1-s.writer].ReadErr() == nil {
				return false // the end of the writer's side is not at the reader yet
			}
		}
		s.endedAt = time.Now()
		return true
	}
	pollUntil("every stall to end", func() bool {
		all := true
		for _, s := range streams {
			all = done(s) && all
		}
		return all
	})
	// Let StallAfter pass again: a stale FullSince would show now.
	until := time.Now().Add(2*stallAfter + stallSlack)
	pollUntil("twice StallAfter", func() bool { return time.Now().After(until) })
	for _, s := range streams {
		if s.end == "resume" {
			s.wst.CloseWrite() // the reader's io.Copy ends
		}
	}

	ready := func(ss *live.SessionSnap, o *model, v view) bool { return v.delivered() }
	if sessionEnd {
		ready = nil // the writer's end read no more
	}
	ss, o := e.settle("after the stalls", ready)
	errs(t, "counts", countDiffs(ss, o))
	errs(t, "streams", streamDiffs(ss, o, live.DefaultClosedStreams))
	errs(t, "windows", flowDiffs(ss, o, 2))
	for _, s := range streams {
		st := ss.Stream(s.id)
		if _, stalled := st.Stalled(time.Now(), stallAfter); stalled {
			t.Errorf("%v: STALLED at the end", s)
		}
		if st == nil {
			t.Errorf("%v: not tracked at the end", s)
			continue
		}
		if s.end != "resume" && !st.Flow[s.writer].AtWindow() {
			t.Errorf("%v: the writer's bytes no longer sit at the window after %s: %+v", s, s.end, st.Flow[s.writer])
		}
	}
	sess[0].Close()
	sess[1].Close()
}
