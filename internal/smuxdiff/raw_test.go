package smuxdiff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// rawEnv is an env whose one end is a real smux session and whose other
// end is a plain conn that writes hand-made smux bytes: a raw peer.
type rawEnv struct {
	*env
	rnd  *rand.Rand
	raw  int // the raw end's side
	m    int // the smux end's side
	ver  byte
	sess *smux.Session

	mu   sync.Mutex
	got  []byte // what the raw end has read, once each Read has returned
	sent int    // frames the raw end has written
}

func newRawEnv(t *testing.T, rnd *rand.Rand, place placement, raw int, ver byte) *rawEnv {
	return newRawEnvTold(t, rnd, place, raw, ver, rnd.IntN(2) == 0)
}

// newRawEnvTold is newRawEnv, the in-process tap told its end's version
// or not.
func newRawEnvTold(t *testing.T, rnd *rand.Rand, place placement, raw int, ver byte, told bool) *rawEnv {
	e := newEnv(t, place, envConfig{ver: [2]byte{ver, ver}, tapVersion: told})
	r := &rawEnv{env: e, rnd: rnd, raw: raw, m: 1 - raw, ver: ver}
	cfg := smuxtest.Config(int(ver))
	cfg.KeepAliveDisabled = true
	var err error
	if r.m == 0 {
		r.sess, err = smux.Client(e.conn[0], cfg)
	} else {
		r.sess, err = smux.Server(e.conn[1], cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sess.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends when the conn closes
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := e.conn[raw].Read(buf)
			r.mu.Lock()
			r.got = append(r.got, buf[:n]...)
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { e.conn[raw].Close(); wg.Wait() })
	return r
}

// id returns the raw end's i-th stream id as smux would open it: a client
// opens odd ids from 3, a server even ids from 2.
func (r *rawEnv) id(i int) uint32 {
	if r.raw == 0 {
		return uint32(3 + 2*i)
	}
	return uint32(2 + 2*i)
}

// send writes frames from the raw end, in random pieces, and returns the
// index of the first one among all the frames it sent.
func (r *rawEnv) send(frames ...[]byte) int {
	r.t.Helper()
	b := bytes.Join(frames, nil)
	for len(b) > 0 {
		n := 1 + r.rnd.IntN(len(b))
		if r.rnd.IntN(2) == 0 {
			n = len(b)
		}
		if _, err := r.conn[r.raw].Write(b[:n]); err != nil {
			r.t.Fatalf("the raw end's write: %v", err)
		}
		b = b[n:]
	}
	first := r.sent
	r.sent += len(frames)
	return first
}

// frame builds a frame of the session's version.
func (r *rawEnv) frame(cmd byte, sid uint32, payload string) []byte {
	return Encode(r.ver, cmd, sid, []byte(payload))
}

// waitFor waits until the raw end has read a frame from the smux end that
// match accepts.
func (r *rawEnv) waitFor(what string, match func(Frame) bool) {
	r.t.Helper()
	smuxtest.Eventually(r.t, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return slices.ContainsFunc(WalkBytes(r.got, r.ver).Frames, match)
	})
}

// accept accepts the next stream at the smux end, which must be id.
func (r *rawEnv) accept(id uint32) *smux.Stream {
	r.t.Helper()
	r.sess.SetDeadline(time.Now().Add(10 * time.Second))
	st, err := r.sess.AcceptStream()
	if err != nil {
		r.t.Fatalf("AcceptStream (want stream %d): %v", id, err)
	}
	if st.ID() != id {
		r.t.Fatalf("smux accepted stream %d, want %d", st.ID(), id)
	}
	return st
}

// readAll reads st to its end at the smux end, within 10 s.
func readAll(st *smux.Stream) ([]byte, error) {
	st.SetReadDeadline(time.Now().Add(10 * time.Second))
	return io.ReadAll(st)
}

// rawDir is the direction the raw end sends in.
func (r *rawEnv) rawDir() live.Dir { return live.Dir(r.raw) }

// expected is an anomaly muxtop must name: at the raw end's frame index.
type expected struct {
	a     live.Anomaly
	frame int
}

// check settles the session and compares it with the oracle: counts and
// wire bytes, and exactly the anomalies expected at the offsets of their
// frames; streams too, unless the scenario reuses an id.
func (r *rawEnv) check(want []expected, streams bool) *live.SessionSnap {
	r.t.Helper()
	ss, o := r.settle("the raw peer's frames", func(ss *live.SessionSnap, o *model, v view) bool { return v.delivered() })
	errs(r.t, "counts", countDiffs(ss, o))
	errs(r.t, "unparsed", unparsedDiffs(ss, o))
	if streams {
		errs(r.t, "streams", streamDiffs(ss, o, live.DefaultClosedStreams))
	}
	frames := o.walks[r.raw].Frames
	var wantInfo []string
	for _, x := range want {
		if x.frame >= len(frames) {
			r.t.Fatalf("expected %v at frame %d, the raw end sent %d", x.a, x.frame, len(frames))
		}
		wantInfo = append(wantInfo, fmt.Sprintf("%v %v @%d", x.a, r.rawDir(), frames[x.frame].Off))
	}
	var gotInfo []string
	for _, a := range ss.Anomalies {
		gotInfo = append(gotInfo, fmt.Sprintf("%v %v @%d", a.Anomaly, a.Dir, a.Offset))
	}
	if !slices.Equal(gotInfo, wantInfo) || ss.AnomalyCount != uint64(len(want)) {
		r.t.Errorf("anomalies: muxtop %v (%d), want %v", gotInfo, ss.AnomalyCount, wantInfo)
	}
	if len(ss.Framing) != 0 {
		r.t.Errorf("violations: %+v", ss.Framing)
	}
	return ss
}

// rawScenario is a script for the raw end, with what smux must do about it
// and which anomalies muxtop must name.
type rawScenario struct {
	name   string
	v2only bool
	run    func(r *rawEnv)
}

var rawScenarios = []rawScenario{
	{"DUPLICATE_SYN", false, func(r *rawEnv) {
		a, b := r.id(0), r.id(1)
		r.send(r.frame(SYN, a, ""))
		st := r.accept(a)
		dup := r.send(r.frame(SYN, a, ""), r.frame(PSH, a, "x"))
		r.send(r.frame(SYN, b, ""))
		r.accept(b) // not a second stream a: smux ignored the SYN
		if got := make([]byte, 1); !readFull(st, got) || string(got) != "x" {
			r.t.Errorf("stream %d read %q, want the PSH after the duplicate SYN", a, got)
		}
		r.check([]expected{{live.DuplicateSYN, dup}}, true)
	}},
	{"WRONG_PARITY", false, func(r *rawEnv) {
		// Ids the raw end's side never opens: 0 and 1, and the other side's parity.
		wrong := []uint32{0, 1, 2, 4, 6}
		if r.raw == 1 {
			wrong = []uint32{0, 1, 3, 5, 7}
		}
		w := wrong[r.rnd.IntN(len(wrong))]
		if w >= 2 {
			// The session's first SYN settles which side opens odd ids
			// (a TCP dialer may run smux's Server): the raw end opens its
			// own first, then changes parity. Ids 0 and 1 are no side's,
			// even as the first SYN.
			own := r.id(0)
			r.send(r.frame(SYN, own, ""))
			r.accept(own)
		}
		first := r.send(r.frame(SYN, w, ""), r.frame(PSH, w, "data"), r.frame(FIN, w, ""))
		st := r.accept(w) // smux accepts it
		if got, err := readAll(st); err != nil || string(got) != "data" {
			r.t.Errorf("stream %d read %q %v, want data", w, got, err)
		}
		r.check([]expected{{live.WrongParity, first}}, true)
	}},
	{"UNKNOWN_STREAM", false, func(r *rawEnv) {
		a, u := r.id(0), r.id(10)
		frames := [][]byte{r.frame(PSH, u, "lost"), r.frame(FIN, u+2, "")}
		if r.ver == 2 {
			frames = append(frames, EncodeUPD(u+4, 1, 65536))
		}
		first := r.send(frames...)
		r.send(r.frame(SYN, a, ""), r.frame(PSH, a, "ok"), r.frame(FIN, a, ""))
		st := r.accept(a) // the first stream smux accepts: the others were discarded
		if got, err := readAll(st); err != nil || string(got) != "ok" {
			r.t.Errorf("stream %d read %q %v, want ok", a, got, err)
		}
		var want []expected
		for i := range frames {
			want = append(want, expected{live.UnknownStream, first + i})
		}
		r.check(want, true)
	}},
	{"CLOSED_STREAM", false, func(r *rawEnv) {
		a, b := r.id(0), r.id(1)
		r.send(r.frame(SYN, a, ""), r.frame(FIN, a, ""))
		st := r.accept(a)
		if got, err := readAll(st); err != nil || len(got) != 0 {
			r.t.Errorf("stream %d read %q %v, want EOF", a, got, err)
		}
		st.Close() // both FINs: smux removes the stream
		r.waitFor("the smux end's FIN", func(f Frame) bool { return f.Cmd == FIN && f.Sid == a })
		late := r.send(r.frame(PSH, a, "late"))
		r.send(r.frame(SYN, b, ""))
		r.accept(b) // smux has handled the late PSH: discarded, no stream
		if n, err := st.Read(make([]byte, 8)); n != 0 || err == nil {
			r.t.Errorf("stream %d delivered %d bytes after both FINs (%v)", a, n, err)
		}
		r.check([]expected{{live.ClosedStream, late}}, true)
	}},
	{"EMPTY_PSH", false, func(r *rawEnv) {
		a := r.id(0)
		first := r.send(r.frame(SYN, a, ""), r.frame(PSH, a, ""), r.frame(PSH, a, "abc"), r.frame(FIN, a, ""))
		st := r.accept(a)
		if got, err := readAll(st); err != nil || string(got) != "abc" {
			r.t.Errorf("stream %d read %q %v, want abc", a, got, err)
		}
		r.check([]expected{{live.EmptyPSH, first + 1}}, true)
	}},
	{"PSH_AFTER_FIN", false, func(r *rawEnv) {
		a, b := r.id(0), r.id(1)
		first := r.send(r.frame(SYN, a, ""), r.frame(PSH, a, "ab"), r.frame(FIN, a, ""), r.frame(PSH, a, "cd"))
		r.send(r.frame(SYN, b, ""))
		st := r.accept(a)
		r.accept(b) // smux has handled every frame before
		if got, err := readAll(st); err != nil || string(got) != "abcd" {
			r.t.Errorf("stream %d read %q %v, want abcd: smux still delivers a PSH after its sender's FIN", a, got, err)
		}
		r.check([]expected{{live.PSHAfterFIN, first + 3}}, true)
	}},
	{"REUSED_ID", false, func(r *rawEnv) {
		a := r.id(0)
		r.send(r.frame(SYN, a, ""), r.frame(FIN, a, ""))
		st := r.accept(a)
		if got, err := readAll(st); err != nil || len(got) != 0 {
			r.t.Errorf("stream %d read %q %v, want EOF", a, got, err)
		}
		st.Close()
		r.waitFor("the smux end's FIN", func(f Frame) bool { return f.Cmd == FIN && f.Sid == a })
		again := r.send(r.frame(SYN, a, ""), r.frame(PSH, a, "new"), r.frame(FIN, a, ""))
		st2 := r.accept(a) // a new stream with the old id
		if got, err := readAll(st2); err != nil || string(got) != "new" {
			r.t.Errorf("the reused stream %d read %q %v, want new", a, got, err)
		}
		ss := r.check([]expected{{live.ReusedID, again}}, false)
		// One stream tracked, half-closed by the raw end; the first folded.
		want := live.HalfClosedByClient
		if r.raw == 1 {
			want = live.HalfClosedByServer
		}
		st3 := ss.Stream(a)
		var folded live.ClosedSummary
		folded.Streams = 1
		folded.Frames[r.raw], folded.Frames[r.m] = 2, 1 // SYN FIN, FIN
		folded.Wire[r.raw], folded.Wire[r.m] = 16, 8    // their headers
		var frames [2]uint64
		frames[r.raw] = 3 // SYN PSH FIN
		if r.ver == 2 {
			frames[r.m] = 1 // the smux end's UPD after its first read
		}
		if st3 == nil || st3.State != want || st3.Frames != frames || st3.Bytes[r.raw] != 3 || ss.Total != 2 || ss.Closed != folded || ss.Open != 1 {
			r.t.Errorf("reused id: stream %+v, total %d, open %d, folded %+v; want %v with frames %v, 2 streams, 1 open, folded %+v",
				st3, ss.Total, ss.Open, ss.Closed, want, frames, folded)
		}
	}},
	{"CONSUMED_MORE_THAN_SENT", true, func(r *rawEnv) {
		a, b := r.id(0), r.id(1)
		r.send(r.frame(SYN, a, ""))
		st := r.accept(a)
		if _, err := r.write(st, r.m, []byte("hello")); err != nil {
			r.t.Fatal(err)
		}
		r.waitFor("the smux end's PSH", func(f Frame) bool { return f.Cmd == PSH && f.Sid == a })
		extra := uint32(1 + r.rnd.IntN(1<<30))
		upd := r.send(EncodeUPD(a, 5+extra, 65536))
		r.send(r.frame(SYN, b, ""))
		r.accept(b) // smux has applied the UPD
		if _, err := r.write(st, r.m, []byte("more")); !errors.Is(err, smux.ErrConsumed) || err.Error() != "peer consumed more than sent" {
			r.t.Errorf("the smux end's Write after the UPD: %v, want %q", err, smux.ErrConsumed)
		}
		ss := r.check([]expected{{live.ConsumedMoreThanSent, upd}}, true)
		fl := ss.Stream(a).Flow[r.m]
		if fl.InFlight() != -int64(extra) || fl.AtWindow() || ss.Stalls != 0 {
			r.t.Errorf("in flight %d (at the window %v, stalls %d), want %d: 5 written, %d consumed", fl.InFlight(), fl.AtWindow(), ss.Stalls, -int64(extra), 5+extra)
		}
	}},
}

// readFull reads len(b) bytes from st within 10 s.
func readFull(st *smux.Stream, b []byte) bool {
	st.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadFull(st, b)
	return err == nil
}

// TestRawPeer writes hand-made smux frames from a plain conn to a real
// smux end, the raw end the client or the server, in every placement (the
// tap at the raw end or at the smux end, or the proxy between), v1 and v2.
// Each anomaly of the README is checked against what smux does with the
// frame (ignores it, discards it, delivers it, opens a stream, fails the
// writer) and muxtop must name exactly the expected anomalies, at their
// offsets, with counts and streams equal to the oracle's.
func TestRawPeer(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, sc := range rawScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, place := range placements {
				for raw := range 2 {
					t.Run(fmt.Sprintf("%s/raw-%v", place, live.Side(raw)), func(t *testing.T) {
						runSeeds(t, 1, func(t *testing.T, rnd *rand.Rand) {
							ver := byte(1 + rnd.IntN(2))
							if sc.v2only {
								ver = 2
							}
							sc.run(newRawEnv(t, rnd, place, raw, ver))
						})
					})
				}
			}
		})
	}
}

// TestTruncated has a raw peer send some frames and part of another, then
// close its side: smux's read fails with "unexpected EOF", and muxtop must
// name TRUNCATED at the cut frame's offset with the header bytes that
// arrived, count those bytes as unparsed wire bytes, and count the rest
// exactly as the oracle does.
func TestTruncated(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		for raw := range 2 {
			t.Run(fmt.Sprintf("%s/raw-%v", place, live.Side(raw)), func(t *testing.T) {
				runSeeds(t, 2, func(t *testing.T, rnd *rand.Rand) {
					r := newRawEnv(t, rnd, place, raw, byte(1+rnd.IntN(2)))
					a := r.id(0)
					data := make([]byte, 1+rnd.IntN(100))
					for i := range data {
						data[i] = byte(rnd.Uint32())
					}
					r.send(r.frame(SYN, a, ""), r.frame(PSH, a, string(data)))
					// Accepted before the cut: once smux's read fails,
					// AcceptStream may return the error first.
					st := r.accept(a)
					cut := r.frame(PSH, a, "0123456789abcdef"[:1+rnd.IntN(16)])
					if rnd.IntN(3) == 0 {
						cut = r.frame([]byte{SYN, FIN, NOP}[rnd.IntN(3)], a, "")
					}
					n := 1 + rnd.IntN(len(cut)-1)
					if cut[1] == PSH && rnd.IntN(3) == 0 {
						n = HeaderLen // the header whole, no payload byte
					}
					t.Logf("%s, raw %v, v%d: %d data bytes, then %d of the %d bytes of % x", place, live.Side(raw), r.ver, len(data), n, len(cut), cut[:8])
					if _, err := r.conn[raw].Write(cut[:n]); err != nil {
						t.Fatal(err)
					}
					if err := r.conn[raw].(interface{ CloseWrite() error }).CloseWrite(); err != nil {
						t.Fatal(err)
					}
					// smux reads a header, then its payload, each with
					// io.ReadFull: a cut inside either fails with "unexpected
					// EOF", one right after a whole header with plain EOF.
					// (smux may return the error before data it has buffered:
					// its reader's wait picks between the two at random.)
					st.SetReadDeadline(time.Now().Add(10 * time.Second))
					var got []byte
					var err error
					for err == nil {
						buf := make([]byte, 64)
						var k int
						k, err = st.Read(buf)
						got = append(got, buf[:k]...)
					}
					want := io.ErrUnexpectedEOF
					if n == HeaderLen {
						want = io.EOF
					}
					if diff := prefixDiff(got, data); diff != "" || err != want {
						t.Errorf("the smux end read %d bytes (%s), then %v; want the %d sent or fewer, then %v", len(got), diff, err, len(data), want)
					}
					ss, o := r.settle("TRUNCATED", func(ss *live.SessionSnap, o *model, v view) bool { return len(ss.Framing) > 0 })
					errs(t, "counts", countDiffs(ss, o))
					errs(t, "unparsed", unparsedDiffs(ss, o))
					errs(t, "streams", streamDiffs(ss, o, live.DefaultClosedStreams))
					w := o.walks[raw]
					var hdr [8]byte
					copy(hdr[:], cut[:min(n, 8)])
					if w.Stop != Cut || w.Header != hdr {
						t.Fatalf("the oracle: %+v", w)
					}
					if len(ss.Framing) != 1 {
						t.Fatalf("violations %+v, want TRUNCATED", ss.Framing)
					}
					f := ss.Framing[0]
					if f.Code != decoder.Truncated || f.Dir != r.rawDir() || f.Offset != int64(w.At) || [8]byte(f.Header) != hdr {
						t.Errorf("%+v; want TRUNCATED %v at %d with header % x", f, r.rawDir(), w.At, hdr)
					}
					if ss.AnomalyCount != 0 {
						t.Errorf("anomalies: %v", ss.Anomalies)
					}
				})
			})
		}
	}
}

// violationKinds are the headers smux refuses, each with the code muxtop
// must give it; ver forces the session's version (0: either).
var violationKinds = []struct {
	name string
	ver  byte
	told bool // the in-process tap is told its end's version
	make func(r *rawEnv, a uint32) ([]byte, decoder.Code)
}{
	{"bad version", 0, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return Encode([]byte{0, 3, 255}[r.rnd.IntN(3)], SYN, a, nil), decoder.BadVersion
	}},
	{"version changed", 0, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return Encode(3-r.ver, NOP, 0, nil), decoder.VersionChanged
	}},
	{"version changed, tap told", 0, true, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		if r.m == int(r.place) { // the tap at the smux end knows its version
			return Encode(3-r.ver, NOP, 0, nil), decoder.VersionMismatch
		}
		return Encode(3-r.ver, NOP, 0, nil), decoder.VersionChanged
	}},
	{"unknown cmd", 0, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return Encode(r.ver, byte(5+r.rnd.IntN(251)), a, nil), decoder.UnknownCmd
	}},
	{"UPD in v1", 1, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return EncodeLen(1, UPD, a, 8, make([]byte, 8)), decoder.UPDInV1
	}},
	{"UPD of the wrong length", 2, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return EncodeLen(2, UPD, a, []int{0, 4, 9, 16}[r.rnd.IntN(4)], nil), decoder.BadUPDLength
	}},
	{"length not zero", 0, false, func(r *rawEnv, a uint32) ([]byte, decoder.Code) {
		return EncodeLen(r.ver, []byte{SYN, FIN, NOP}[r.rnd.IntN(3)], a, 1+r.rnd.IntN(20), nil), decoder.LengthNotZero
	}},
}

// TestFramingViolation has a raw peer send valid frames, then a header
// smux refuses (every kind), then more bytes: smux's stream reads fail
// with "invalid protocol" and smux reads nothing after that header; muxtop
// must name the violation at the oracle's offset, count everything it saw
// after it as unparsed, and go on counting what the smux end sends.
func TestFramingViolation(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, kind := range violationKinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, place := range placements {
				for raw := range 2 {
					t.Run(fmt.Sprintf("%s/raw-%v", place, live.Side(raw)), func(t *testing.T) {
						runSeeds(t, 1, func(t *testing.T, rnd *rand.Rand) {
							ver := kind.ver
							if ver == 0 {
								ver = byte(1 + rnd.IntN(2))
							}
							violationRun(t, newRawEnvTold(t, rnd, place, raw, ver, kind.told), kind.make)
						})
					})
				}
			}
		})
	}
}

func violationRun(t *testing.T, r *rawEnv, make_ func(r *rawEnv, a uint32) ([]byte, decoder.Code)) {
	a := r.id(0)
	bad, code := make_(r, a)
	garbage := make([]byte, r.rnd.IntN(100))
	for i := range garbage {
		garbage[i] = byte(r.rnd.Uint32())
	}
	t.Logf("%s, raw %v, v%d: % x then %d bytes: %v", r.place, live.Side(r.raw), r.ver, bad[:HeaderLen], len(garbage), code)
	r.send(r.frame(SYN, a, ""), r.frame(PSH, a, "ok"))
	st := r.accept(a) // before the violation: AcceptStream may return its error first
	r.send(bad, garbage)
	// smux may fail the read before it delivers "ok": its reader's wait
	// picks between the data and the error at random.
	got, err := readAll(st)
	if !strings.HasPrefix("ok", string(got)) || !errors.Is(err, smux.ErrInvalidProtocol) {
		t.Errorf("the smux end read %q, then %v; want ok or less, then invalid protocol", got, err)
	}
	if r.sess.IsClosed() {
		t.Errorf("smux closed the session at the violation; muxtop says it does not at once")
	}
	// What the smux end sends (a v2 UPD for "ok") is read by the raw end;
	// what the raw end sent after the violation, smux never reads.
	ss, o := r.settle("the violation", func(ss *live.SessionSnap, o *model, v view) bool {
		return len(ss.Framing) > 0 && v.sent[r.m] == v.recvd[r.m]
	})
	errs(t, "counts", countDiffs(ss, o))
	errs(t, "unparsed", unparsedDiffs(ss, o))
	errs(t, "streams", streamDiffs(ss, o, live.DefaultClosedStreams))
	w := o.walks[r.raw]
	if w.Stop != Invalid || w.At != 8+10 {
		t.Fatalf("the oracle: %+v", w)
	}
	// smux read the refused header and nothing after it.
	if n, _ := r.top[r.m].Lens(); n != w.At+HeaderLen {
		t.Errorf("the smux end read %d bytes, want %d: up to the refused header", n, w.At+HeaderLen)
	}
	if len(ss.Framing) != 1 {
		t.Fatalf("violations %+v, want %v", ss.Framing, code)
	}
	f := ss.Framing[0]
	if f.Code != code || f.Dir != r.rawDir() || f.Offset != int64(w.At) || [8]byte(f.Header) != w.Header {
		t.Errorf("%+v; want %v %v at %d with header % x (the oracle: %s)", f, code, r.rawDir(), w.At, w.Header, w.Why)
	}
}

// TestTruncatedSmuxReaction checks what muxtop tells its user smux does
// about a TRUNCATED frame (decoder.Code.SmuxReaction, the violations view)
// against smux: the connection ends inside a frame's header, inside its
// payload, and right after a whole header whose payload never comes.
func TestTruncatedSmuxReaction(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, tc := range []struct {
		name string
		n    int // bytes of the 18-byte frame that arrive
	}{{"inside the header", 5}, {"inside the payload", 12}, {"after the header", HeaderLen}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRawEnv(t, rand.New(rand.NewPCG(1, 2)), viaProxy, 0, 1)
			r.send(r.frame(SYN, 3, ""))
			st := r.accept(3)
			if _, err := r.conn[0].Write(r.frame(PSH, 3, "0123456789")[:tc.n]); err != nil {
				t.Fatal(err)
			}
			r.conn[0].(interface{ CloseWrite() error }).CloseWrite()
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := st.Read(make([]byte, 1))
			if err == nil || err == smux.ErrTimeout {
				t.Fatalf("the smux end's read: %v", err)
			}
			if reaction := decoder.Truncated.SmuxReaction(); !strings.Contains(reaction, `"`+err.Error()+`"`) {
				t.Errorf("smux's read fails with %q (session closed: %v); muxtop says: %s", err, r.sess.IsClosed(), reaction)
			}
		})
	}
}
