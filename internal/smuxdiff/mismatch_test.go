package smuxdiff

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// TestVersionMismatch runs a v1 end against a v2 end, both ways round, in
// every placement, the in-process tap told its end's version or not. smux
// is the ground truth: each end reads the other's first header, refuses it
// and reads no more; AcceptStream and stream reads fail with "invalid
// protocol" at both ends. muxtop must name VERSION_MISMATCH, with both
// versions, at the first foreign frame when the tap knows its end's
// version, else at the first frame of the direction that spoke second, and
// at the next frame of the other direction where one comes (keepalives:
// always through the proxy and in what a tapped end writes; never in what
// it reads once its smux has refused a frame). It must count exactly the
// frames before (a prefix of the oracle's) and the rest as unparsed wire
// bytes, however many keepalives follow.
func TestVersionMismatch(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		t.Run(place.String(), func(t *testing.T) {
			for _, vers := range [][2]byte{{1, 2}, {2, 1}} {
				told := []bool{false}
				if place != viaProxy {
					told = append(told, true)
				}
				for _, tapVersion := range told {
					name := fmt.Sprintf("client-v%d-server-v%d", vers[0], vers[1])
					if tapVersion {
						name += "/told"
					}
					t.Run(name, func(t *testing.T) { mismatchRun(t, place, vers, tapVersion) })
				}
			}
		})
	}
}

// mismatchAt returns the VERSION_MISMATCH muxtop names in direction d, or nil.
func mismatchAt(ss *live.SessionSnap, d int) *live.FramingInfo {
	for i := range ss.Framing {
		if f := &ss.Framing[i]; f.Dir == live.Dir(d) {
			return f
		}
	}
	return nil
}

func mismatchRun(t *testing.T, place placement, vers [2]byte, tapVersion bool) {
	e := newEnv(t, place, envConfig{ver: vers, tapVersion: tapVersion})
	e.walkSender = true
	// muxtop counts direction d's frames up to its violation, which must
	// lie on a frame boundary; all of them while d has none.
	e.counted = func(ss *live.SessionSnap, d int, w Walk) (int, string) {
		f := mismatchAt(ss, d)
		if f == nil {
			return len(w.Frames), ""
		}
		for k, fr := range w.Frames {
			if int64(fr.Off) == f.Offset {
				return k, ""
			}
		}
		return len(w.Frames), fmt.Sprintf("%v: %v at offset %d, not at a frame of the %d on the wire", live.Dir(d), f.Code, f.Offset, len(w.Frames))
	}
	var cfg [2]*smux.Config
	for s := range 2 {
		cfg[s] = smuxConfig(vers[s], 5*time.Millisecond) // keepalives: both ends speak, again and again
	}
	sess := e.startSmux(cfg)
	stop := e.monitor()

	// Both ends open a stream and write on it at once.
	var streams [2]*smux.Stream
	for s := range 2 {
		st, err := sess[s].OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.write(st, s, []byte("hello")); err != nil {
			t.Fatalf("the %v's first Write: %v", live.Side(s), err)
		}
		streams[s] = st
	}
	// smux: each end refuses the other's frames.
	for s := range 2 {
		sess[s].SetDeadline(time.Now().Add(10 * time.Second))
		if st, err := sess[s].AcceptStream(); !errors.Is(err, smux.ErrInvalidProtocol) {
			t.Errorf("the %v's AcceptStream: %v %v, want smux.ErrInvalidProtocol", live.Side(s), st, err)
		}
		streams[s].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := streams[s].Read(make([]byte, 1)); !errors.Is(err, smux.ErrInvalidProtocol) {
			t.Errorf("the %v's stream Read: %v, want smux.ErrInvalidProtocol", live.Side(s), err)
		}
	}

	// The direction a tapped end writes, and the proxy's both, carry
	// keepalives after the mismatch, each refused; a tapped end reads
	// nothing after the first foreign frame, which smux refuses.
	mustName := [2]bool{true, true}
	if place != viaProxy {
		mustName[1-int(place)] = tapVersion
	}
	ready := func(ss *live.SessionSnap, o *model, v view) bool {
		second := false // the direction that spoke second is named at its first frame
		for d := range 2 {
			f := mismatchAt(ss, d)
			if mustName[d] && f == nil {
				return false
			}
			second = second || f != nil && f.Offset == 0
		}
		return second
	}
	e.settle("VERSION_MISMATCH", ready)
	time.Sleep(20 * time.Millisecond) // more keepalives, which muxtop must not count
	ss, o := e.settle("more keepalives", ready)
	stop()
	errs(t, "counts", countDiffs(ss, o))
	errs(t, "unparsed", unparsedDiffs(ss, o))
	errs(t, "versions", versionDiffs(ss, o))
	errs(t, "streams", streamDiffs(ss, o, live.DefaultClosedStreams))
	if ss.Versions != [2]uint8{vers[0], vers[1]} {
		t.Errorf("versions %v, want %v", ss.Versions, vers)
	}
	var k [2]int
	for d := range 2 {
		k[d] = int(o.counts.FramesDir(live.Dir(d)))
		f := mismatchAt(ss, d)
		if f == nil {
			if mustName[d] {
				t.Errorf("%v: no violation; framing %+v", live.Dir(d), ss.Framing)
			}
			continue
		}
		if f.Code != decoder.VersionMismatch || f.Header.Version() != vers[d] || f.Want != vers[1-d] {
			t.Errorf("%v: %v of a v%d frame to a v%d end, want VERSION_MISMATCH of v%d to v%d",
				live.Dir(d), f.Code, f.Header.Version(), f.Want, vers[d], vers[1-d])
		}
	}
	if tapVersion {
		in := 1 - int(place) // the direction the tapped end reads
		if f := mismatchAt(ss, in); f == nil || f.Offset != 0 {
			t.Errorf("told its end's version, muxtop names the mismatch %v at %+v, want offset 0: the first foreign frame", live.Dir(in), f)
		}
	} else if k[0] != 0 && k[1] != 0 {
		t.Errorf("frames counted → %d, ← %d: the direction that spoke second must have none", k[0], k[1])
	}
	// smux: each end reads the other's first header, refuses it and reads
	// no more.
	for s := range 2 {
		got := e.top[s].ReadBytes() // above the tap, which reads ahead
		w := WalkBytes(got, vers[s])
		if w.Stop != Invalid || w.Why != "version" || w.At != 0 || len(got) != HeaderLen {
			t.Errorf("the %v (v%d) read %d bytes (%+v); smux reads the first foreign header, 8 bytes, and stops", live.Side(s), vers[s], len(got), w)
		}
	}
	if ss.AnomalyCount != 0 {
		t.Errorf("anomalies: %v", ss.Anomalies)
	}
}
