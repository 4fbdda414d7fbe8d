package smuxdiff

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// Directions and sides, as indexes: the client is side 0 and sends →
// (live.ClientToServer), the server is side 1 and sends ←.
const (
	c2s = int(live.ClientToServer)
	s2c = int(live.ServerToClient)
)

// stallAfter is the SnapshotOptions.StallAfter of every snapshot the suite takes.
const stallAfter = 100 * time.Millisecond

// placement is where muxtop watches a connection from.
type placement int

const (
	atClient placement = iota // tap.Wrap on the client's conn
	atServer                  // tap.Wrap on the server's conn
	viaProxy                  // the attach proxy between them
)

var placements = []placement{atClient, atServer, viaProxy}

func (p placement) String() string { return [...]string{"tap-client", "tap-server", "proxy"}[p] }

// soak returns MUXTOP_SMUXDIFF_SOAK: how many seeds each randomized
// scenario runs, with larger workloads; 0 when unset.
func soak() int {
	n, _ := strconv.Atoi(os.Getenv("MUXTOP_SMUXDIFF_SOAK"))
	return max(n, 0)
}

// seeds returns the seeds a randomized scenario runs: MUXTOP_SMUXDIFF_SEED
// alone if set, else soak() or n fresh random ones.
func seeds(t *testing.T, n int) []uint64 {
	if s := os.Getenv("MUXTOP_SMUXDIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MUXTOP_SMUXDIFF_SEED=%q: %v", s, err)
		}
		return []uint64{v}
	}
	if k := soak(); k > 0 {
		n = k
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = rand.Uint64() >> 1
	}
	return out
}

// runSeeds runs f under a subtest per seed, logging the seed on failure.
func runSeeds(t *testing.T, n int, f func(t *testing.T, rnd *rand.Rand)) {
	for _, seed := range seeds(t, n) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("seed %d: rerun with MUXTOP_SMUXDIFF_SEED=%d go test -run '%s' ./internal/smuxdiff", seed, seed, t.Name())
				}
			})
			f(t, rand.New(rand.NewPCG(seed, seed^0x5bd1e995)))
		})
	}
}

// envConfig says how to build an env.
type envConfig struct {
	live live.Config
	// ver is the protocol version each end speaks (smux.Config.Version),
	// by side; a raw end speaks what it writes.
	ver [2]byte
	// tapVersion tells the in-process tap its end's version (tap.Version).
	tapVersion bool
	// healthy makes every snapshot assert what holds in a healthy run: no
	// anomaly, no violation, no stall, no negative in-flight count.
	healthy bool
	// stalls exempts a healthy run from the no-stall check: its scenario
	// holds writers back on purpose and checks STALLED itself.
	stalls bool
	// looping says the writers write again and again: one between two
	// Writes is about to be held back again, and a stall is justified if
	// a Write of it began or ended within StallAfter.
	looping bool
}

// env is one TCP connection between a client end and a server end, every
// byte each end reads and writes recorded below the tap, watched by muxtop
// from one placement.
type env struct {
	t     *testing.T
	place placement
	cfg   envConfig
	reg   *live.Registry
	rec   [2]*Recorder // by side: the bytes on the wire, below any tap
	// top records each end's bytes above its tap, if tapped (else it is
	// rec): what it shows, muxtop has seen. An end reads its bytes through
	// the tap after rec has them, and writes them after the tap.
	top  [2]*Recorder
	conn [2]net.Conn // what each end uses: top
	opts live.SnapshotOptions

	// closingSide marks the side whose whole session is closing: smux
	// returns its Writes before the end is on the wire, as for a FIN.
	closingSide [2]atomic.Bool

	// writes tracks the Writes in progress on each stream and direction
	// (key: id<<1 | direction): smux's side of STALLED.
	writes sync.Map // uint64 → *writeTracker

	// walkSender walks each direction with its sender's version rather
	// than its receiver's: the two ends speak different versions.
	walkSender bool
	// counted, if not nil, says how many of direction d's frames (walk w)
	// muxtop counts, given its picture ss, or why it cannot say: muxtop
	// counts a prefix when a violation stops it.
	counted func(ss *live.SessionSnap, d int, w Walk) (int, string)

	mu       sync.Mutex // guards reported and logged
	reported int        // invariant failures reported, to keep the log readable
	logged   int
}

// writeTracker counts the Writes begun and ended on one stream and
// direction, and says whether its writer has begun to Close or
// CloseWrite it: the blocked Write returns before the FIN is on the wire.
type writeTracker struct {
	begun, ended atomic.Int64
	last         atomic.Int64 // when a Write last began or ended, Unix ns
	closing      atomic.Bool
	finished     atomic.Bool // the writer has written all it had
}

// tracker returns the write tracker of stream id's direction d.
func (e *env) tracker(id uint32, d int) *writeTracker {
	tr, _ := e.writes.LoadOrStore(uint64(id)<<1|uint64(d), new(writeTracker))
	return tr.(*writeTracker)
}

// write calls st.Write(b), tracked as a Write in direction d.
func (e *env) write(st *smux.Stream, d int, b []byte) (int, error) {
	tr := e.tracker(st.ID(), d)
	tr.last.Store(time.Now().UnixNano())
	tr.begun.Add(1)
	defer func() {
		tr.ended.Add(1)
		tr.last.Store(time.Now().UnixNano())
	}()
	return st.Write(b)
}

// closeStream calls st.Close (or CloseWrite, if half), side me's end of
// the stream, marked as ending the writes in direction me.
func (e *env) closeStream(st *smux.Stream, me int, half bool) error {
	e.tracker(st.ID(), me).closing.Store(true)
	if half {
		return st.CloseWrite()
	}
	return st.Close()
}

func newEnv(t *testing.T, place placement, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, place: place, cfg: cfg, reg: live.New(cfg.live),
		opts: live.SnapshotOptions{LeakAfter: time.Nanosecond, StallAfter: stallAfter}}
	var cc, sc net.Conn
	if place == viaProxy {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := tap.NewProxy(tap.ProxyConfig{Upstream: ln.Addr().String(), Registry: e.reg})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(); p.Wait() })
		accepted := make(chan net.Conn, 1)
		go func() { // ends with the Accept: the proxy's dial, or the listener's close
			c, _ := ln.Accept()
			accepted <- c
		}()
		if cc, err = net.Dial("tcp", p.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		select {
		case sc = <-accepted:
		case <-time.After(10 * time.Second):
		}
		if sc == nil {
			t.Fatal("the proxy did not connect to the upstream")
		}
		t.Cleanup(func() { sc.Close() })
	} else {
		cc, sc = smuxtest.Conns(t)
	}
	e.rec = [2]*Recorder{NewRecorder(cc), NewRecorder(sc)}
	e.top = e.rec
	if place != viaProxy {
		side := int(place) // atClient taps side 0, atServer side 1
		var opts []tap.Option
		if cfg.tapVersion {
			opts = append(opts, tap.Version(int(cfg.ver[side])))
		}
		e.top[side] = NewRecorder(tap.Wrap(e.rec[side], live.Side(side), e.reg, "smuxdiff", opts...))
	}
	e.conn = [2]net.Conn{e.top[0], e.top[1]}
	return e
}

// closeSession closes side's smux session, marked as ending its writes.
func (e *env) closeSession(side int, sess *smux.Session) {
	e.closingSide[side].Store(true)
	sess.Close()
}

// failf reports an invariant broken in a snapshot, at most a few times.
func (e *env) failf(format string, args ...any) {
	e.t.Helper()
	e.mu.Lock()
	e.reported++
	n := e.reported
	e.mu.Unlock()
	if n <= 5 {
		e.t.Errorf(format, args...)
	}
}

// logf logs a note about a snapshot, at most a few times.
func (e *env) logf(format string, args ...any) {
	e.t.Helper()
	e.mu.Lock()
	e.logged++
	n := e.logged
	e.mu.Unlock()
	if n <= 3 {
		e.t.Logf(format, args...)
	}
}

// snapshot takes a snapshot and checks what holds in every one:
// Accounted() == Counted(); a stream STALLED only while smux's writer is in
// a Write on it (or closing it), held back; and in a healthy run no
// anomaly, no violation and no negative in-flight count. A healthy run's
// workload never makes a writer wait for long, so it shows no stall on an
// idle machine; a loaded one (-race, a busy CI) may hold a writer back
// past StallAfter all the same, and muxtop is then right to say so: such
// stalls are logged, not failed.
func (e *env) snapshot() *live.Snapshot {
	e.t.Helper()
	ended := map[uint64]int64{}
	e.writes.Range(func(k, v any) bool {
		ended[k.(uint64)] = v.(*writeTracker).ended.Load()
		return true
	})
	snap := e.reg.SnapshotWith(e.opts)
	for _, ss := range snap.Sessions {
		// smux's writer is held back only inside a Write: a stream STALLED
		// with no Write in progress on it during the snapshot is muxtop's
		// error, whatever the run, unless the writer has begun to close
		// the stream or its session (its Write returns before the FIN or
		// the end of the connection is on the wire).
		for _, st := range ss.Streams {
			d, stalled := st.Stalled(snap.At, snap.StallAfter)
			if !stalled {
				continue
			}
			key := uint64(st.ID)<<1 | uint64(d)
			v, ok := e.writes.Load(key)
			var held bool // smux's writer is, or may be, held back
			if ok {
				tr := v.(*writeTracker)
				held = tr.begun.Load() != ended[key] || tr.closing.Load() ||
					e.cfg.looping && time.Since(time.Unix(0, tr.last.Load())) < snap.StallAfter
			}
			switch {
			case !held && ok && v.(*writeTracker).finished.Load():
				// muxtop's one blind spot, as for a write deadline: a writer
				// that wrote all it had while its window was, or became,
				// full (a reader's first UPD announcing less than smux's
				// initial 256 KiB in flight) looks on the wire like one
				// held back with more to write.
				e.logf("snapshot: stream %d %v STALLED, but smux's writer has written all it had: not held back, which the wire cannot show (%+v)", st.ID, d, st.Flow[d])
			case !held && !e.closingSide[d].Load():
				e.failf("snapshot: stream %d %v STALLED (%+v), but no Write was in progress on it: smux's writer is not held back", st.ID, d, st.Flow[d])
			case e.cfg.healthy && !e.cfg.stalls:
				// True: the writer was held back, by the machine's load
				// rather than by the workload, which never makes it wait.
				e.logf("snapshot: stream %d %v STALLED while its Write was held back: a loaded machine", st.ID, d)
			}
		}
		if a, c := ss.Accounted(), ss.Counted(); a != c {
			e.failf("snapshot: session %d accounts for %+v, counts %+v", ss.ID, a, c)
		}
		if !e.cfg.healthy {
			continue
		}
		if ss.AnomalyCount != 0 || len(ss.Framing) != 0 {
			e.failf("snapshot of a healthy run: anomalies %v, violations %v", ss.Anomalies, ss.Framing)
		}
		for _, st := range ss.Streams {
			for d, fl := range st.Flow {
				if fl.InFlight() < 0 {
					e.failf("snapshot of a healthy run: stream %d %v in flight %d (written %d, consumed %d)",
						st.ID, live.Dir(d), fl.InFlight(), fl.Written, fl.PeerConsumed)
				}
			}
		}
	}
	return snap
}

// session returns the snapshot's one session.
func (e *env) session(snap *live.Snapshot) *live.SessionSnap {
	e.t.Helper()
	if len(snap.Sessions) != 1 {
		e.t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	return snap.Sessions[0]
}

// monitor takes snapshots every few milliseconds until the returned stop is
// called, each checked by snapshot.
func (e *env) monitor() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				e.snapshot()
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

// view is the raw bytes of each direction: for an in-process tap, exactly
// what the tapped end read (from the tap) and wrote; through the proxy,
// what the sender wrote, of which the proxy read at least lo (what the
// receiver read).
// sent and recvd count what each direction's sender wrote and receiver
// read, whatever the placement.
type view struct {
	b           [2][]byte
	lo          [2]int
	sent, recvd [2]int
}

// lens returns how many bytes each end's recorders, below and above the
// tap, have read and written: whether anything moved.
func (e *env) lens() (n [8]int) {
	n[0], n[1] = e.rec[0].Lens()
	n[2], n[3] = e.rec[1].Lens()
	n[4], n[5] = e.top[0].Lens()
	n[6], n[7] = e.top[1].Lens()
	return n
}

// viewAt returns the view of the bytes when lens returned n.
func (e *env) viewAt(n [8]int) view {
	v := e.view()
	v.recvd[s2c], v.sent[c2s] = n[0], n[1]
	v.recvd[c2s], v.sent[s2c] = n[2], n[3]
	switch e.place {
	case atClient:
		v.recvd[s2c] = n[4] // what the client's smux read from the tap
		v.b[c2s], v.b[s2c] = v.b[c2s][:n[1]], v.b[s2c][:n[4]]
	case atServer:
		v.recvd[c2s] = n[6]
		v.b[c2s], v.b[s2c] = v.b[c2s][:n[6]], v.b[s2c][:n[3]]
	case viaProxy:
		v.b[c2s], v.b[s2c] = v.b[c2s][:n[1]], v.b[s2c][:n[3]]
		v.lo = v.recvd
		return v
	}
	v.lo = [2]int{len(v.b[0]), len(v.b[1])}
	return v
}

func (e *env) view() view {
	var v view
	v.recvd[s2c], v.sent[c2s] = e.rec[0].Lens()
	v.recvd[c2s], v.sent[s2c] = e.rec[1].Lens()
	// The tapped end's reads are what its smux read from the tap, above
	// it: the tap reads ahead of them (tap.Conn.Read), and decodes only
	// what its end reads.
	switch e.place {
	case atClient:
		v.recvd[s2c], _ = e.top[0].Lens()
		v.b[c2s], v.b[s2c] = e.rec[0].WrittenBytes(), e.top[0].ReadBytes()
	case atServer:
		v.recvd[c2s], _ = e.top[1].Lens()
		v.b[c2s], v.b[s2c] = e.top[1].ReadBytes(), e.rec[1].WrittenBytes()
	case viaProxy:
		v.b[c2s], v.b[s2c] = e.rec[0].WrittenBytes(), e.rec[1].WrittenBytes()
		v.lo = v.recvd
		return v
	}
	v.lo = [2]int{len(v.b[0]), len(v.b[1])}
	return v
}

// delivered reports whether every byte sent was read by its receiver.
func (v view) delivered() bool { return v.sent == v.recvd }

// mstream is the oracle's picture of one stream.
type mstream struct {
	id      uint32
	opener  int // the side whose SYN opened it
	syn     [2]int
	fin     [2]int
	frames  [2]uint64
	bytes   [2]uint64
	written [2]uint32 // PSH payload bytes per direction, modulo 2^32
	// upd, consumed and window are the last UPD sent in each direction:
	// it reports on the data flowing the other way.
	upd      [2]bool
	consumed [2]uint32
	window   [2]uint32
	data     [2][]byte // PSH payloads per direction
}

func (m *mstream) closed() bool { return m.fin[0] > 0 && m.fin[1] > 0 }

func (m *mstream) state() live.State {
	switch {
	case m.closed():
		return live.Closed
	case m.fin[c2s] > 0:
		return live.HalfClosedByClient
	case m.fin[s2c] > 0:
		return live.HalfClosedByServer
	}
	return live.Open
}

// inFlight is smux's int32(written - consumed) for the data flowing in d.
func (m *mstream) inFlight(d int) int64 { return int64(int32(m.written[d] - m.consumed[1-d])) }

// window is the window the writer of d uses.
func (m *mstream) win(d int) uint32 {
	if !m.upd[1-d] {
		return 262144
	}
	return m.window[1-d]
}

// model is the oracle's picture of a session, built from raw bytes only.
// Its stream picture takes the two directions apart without their
// interleaving, which is exact while no stream id is used twice.
type model struct {
	bytes     [2][]byte
	walks     [2]Walk
	counts    live.Counts // of complete, valid frames
	streams   map[uint32]*mstream
	untracked live.Traffic // NOPs, and frames naming no stream
}

// newModel builds the oracle's picture from each direction's bytes and
// the frames of it that count (a prefix of its walk's frames).
func newModel(b [2][]byte, walks [2]Walk, frames [2][]Frame) *model {
	m := &model{bytes: b, walks: walks, streams: make(map[uint32]*mstream)}
	for d := range 2 {
		for _, f := range frames[d] {
			m.counts.Frames[d][f.Cmd]++
			m.counts.Bytes[d][f.Cmd] += uint64(f.Size())
			if f.Cmd != SYN {
				continue
			}
			st := m.streams[f.Sid]
			if st == nil {
				st = &mstream{id: f.Sid, opener: d}
				m.streams[f.Sid] = st
			}
			st.syn[d]++
			st.frames[d]++
		}
	}
	for d := range 2 {
		for _, f := range frames[d] {
			if f.Cmd == SYN {
				continue
			}
			st := m.streams[f.Sid]
			if f.Cmd == NOP || st == nil {
				m.untracked.Frames[d]++
				if f.Cmd == PSH {
					m.untracked.Bytes[d] += uint64(f.Len)
				}
				continue
			}
			st.frames[d]++
			switch f.Cmd {
			case FIN:
				st.fin[d]++
			case PSH:
				st.bytes[d] += uint64(f.Len)
				st.written[d] += uint32(f.Len)
				st.data[d] = append(st.data[d], f.Payload...)
			case UPD:
				st.upd[d] = true
				st.consumed[d], st.window[d] = f.UPD()
			}
		}
	}
	return m
}

// endModel builds the oracle's picture of what one end itself wrote and
// read, as far as muxtop has seen it (above the tap).
func (e *env) endModel(side int) *model {
	var b [2][]byte
	b[side], b[1-side] = e.top[side].WrittenBytes(), e.top[side].ReadBytes()
	var walks [2]Walk
	var frames [2][]Frame
	for d := range 2 {
		walks[d] = WalkBytes(b[d], e.cfg.ver[1-d])
		frames[d] = walks[d].Frames
	}
	return newModel(b, walks, frames)
}

// modelOf builds the oracle's picture of what muxtop saw in view v, given
// the session's picture ss: through the proxy, the bytes it read are the
// sender's first ss.WireBytes(d), which must lie between what the
// receiver read and what the sender wrote.
func (e *env) modelOf(v view, ss *live.SessionSnap) (*model, []string) {
	var probs []string
	b := v.b
	if e.place == viaProxy {
		for d := range 2 {
			w := int(ss.WireBytes(live.Dir(d)))
			if w < v.lo[d] || w > len(b[d]) {
				probs = append(probs, fmt.Sprintf("%v: the proxy counts %d wire bytes; the receiver read %d of the %d sent",
					live.Dir(d), w, v.lo[d], len(b[d])))
				w = min(max(w, v.lo[d]), len(b[d]))
			}
			b[d] = b[d][:w]
		}
	}
	var walks [2]Walk
	var frames [2][]Frame
	for d := range 2 {
		ver := e.cfg.ver[1-d]
		if e.walkSender {
			ver = e.cfg.ver[d]
		}
		walks[d] = WalkBytes(b[d], ver)
		frames[d] = walks[d].Frames
		if e.counted != nil {
			k, prob := e.counted(ss, d, walks[d])
			if prob != "" {
				probs = append(probs, prob)
			}
			frames[d] = frames[d][:min(max(k, 0), len(frames[d]))]
		}
	}
	return newModel(b, walks, frames), probs
}

// settle waits for a quiescent point: the bytes stop moving while a
// snapshot is taken, muxtop's counts equal the oracle's, and ready, if not
// nil, holds. It returns that snapshot's session and the oracle's picture;
// if none comes within 10 s it reports it and returns the last ones, for
// the caller's checks to say what differs.
func (e *env) settle(what string, ready func(*live.SessionSnap, *model, view) bool) (*live.SessionSnap, *model) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := e.lens()
		ss := e.session(e.snapshot())
		stable := before == e.lens()
		v := e.viewAt(before)
		o, probs := e.modelOf(v, ss)
		if stable && len(probs) == 0 && len(countDiffs(ss, o)) == 0 && (ready == nil || ready(ss, o, v)) {
			return ss, o
		}
		if time.Now().After(deadline) {
			e.t.Errorf("%s: no quiescent point where muxtop's counts equal the oracle's within 10 s (bytes stable %v, ready %v); %v %v",
				what, stable, ready == nil || ready(ss, o, v), probs, countDiffs(ss, o))
			return ss, o
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// errs reports each message of diffs under what.
func errs(t *testing.T, what string, diffs []string) {
	t.Helper()
	for i, d := range diffs {
		if i == 20 {
			t.Errorf("%s: and %d more", what, len(diffs)-i)
			break
		}
		t.Errorf("%s: %s", what, d)
	}
}

// countDiffs compares muxtop's frame and byte counts with the oracle's
// complete frames, and its wire bytes with the bytes on the wire.
func countDiffs(ss *live.SessionSnap, o *model) []string {
	var diffs []string
	for d := range 2 {
		for cmd := range 5 {
			if got, want := ss.Counts.Frames[d][cmd], o.counts.Frames[d][cmd]; got != want {
				diffs = append(diffs, fmt.Sprintf("%v %s frames: muxtop %d, oracle %d", live.Dir(d), cmdName(cmd), got, want))
			}
			if got, want := ss.Counts.Bytes[d][cmd], o.counts.Bytes[d][cmd]; got != want {
				diffs = append(diffs, fmt.Sprintf("%v %s wire bytes: muxtop %d, oracle %d", live.Dir(d), cmdName(cmd), got, want))
			}
		}
		if got, want := ss.WireBytes(live.Dir(d)), uint64(len(o.bytes[d])); got != want {
			diffs = append(diffs, fmt.Sprintf("%v wire bytes: muxtop %d, on the wire %d", live.Dir(d), got, want))
		}
	}
	return diffs
}

func cmdName(cmd int) string { return [...]string{"SYN", "FIN", "PSH", "NOP", "UPD"}[cmd] }

// streamDiffs compares muxtop's streams with the oracle's: each tracked
// stream's opener, state, frames and PSH bytes per direction; the streams
// folded into the summary; the totals, open streams and leaks. Once the
// session has ended, streams the oracle sees closed both ways are closed,
// the others ended with the session.
func streamDiffs(ss *live.SessionSnap, o *model, closedStreams int) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	tracked := map[uint32]bool{}
	closedTracked, live_ := 0, 0
	for i := range ss.Streams {
		st := &ss.Streams[i]
		tracked[st.ID] = true
		m := o.streams[st.ID]
		if m == nil {
			add("muxtop tracks stream %d, which no SYN on the wire opened", st.ID)
			continue
		}
		want := m.state()
		if ss.Ended && want != live.Closed {
			want = live.EndedWithSession
		}
		if st.State != want {
			add("stream %d: muxtop says %v, the wire says %v (FINs → %d, ← %d)", st.ID, st.State, want, m.fin[c2s], m.fin[s2c])
		}
		if st.State == live.Closed {
			closedTracked++
		}
		if st.Opener != live.Side(m.opener) {
			add("stream %d: muxtop says the %v opened it, the wire says the %v", st.ID, st.Opener, live.Side(m.opener))
		}
		if st.Frames != m.frames || st.Bytes != m.bytes {
			add("stream %d: muxtop counts frames %v PSH bytes %v, the oracle %v %v", st.ID, st.Frames, st.Bytes, m.frames, m.bytes)
		}
	}
	var folded live.ClosedSummary
	for id, m := range o.streams {
		if !m.closed() {
			live_++
		}
		if tracked[id] {
			continue
		}
		if !ss.Ended && !m.closed() {
			add("stream %d (%v on the wire) is not tracked", id, m.state())
		}
		folded.Streams++
		for d := range 2 {
			folded.Frames[d] += m.frames[d]
			folded.Bytes[d] += m.bytes[d]
		}
	}
	if ss.Closed.Streams != folded.Streams {
		add("streams folded into the summary: muxtop %d, the oracle's untracked ones %d", ss.Closed.Streams, folded.Streams)
	}
	for d := range 2 {
		got := ss.Closed.Frames[d] + ss.Untracked.Frames[d]
		want := folded.Frames[d] + o.untracked.Frames[d]
		if got != want {
			add("%v frames of folded streams and untracked: muxtop %d+%d, oracle %d+%d", live.Dir(d),
				ss.Closed.Frames[d], ss.Untracked.Frames[d], folded.Frames[d], o.untracked.Frames[d])
		}
		got = ss.Closed.Bytes[d] + ss.Untracked.Bytes[d]
		want = folded.Bytes[d] + o.untracked.Bytes[d]
		if got != want {
			add("%v PSH bytes of folded streams and untracked: muxtop %d+%d, oracle %d+%d", live.Dir(d),
				ss.Closed.Bytes[d], ss.Untracked.Bytes[d], folded.Bytes[d], o.untracked.Bytes[d])
		}
		if ss.Untracked.Frames[d] < o.untracked.Frames[d] {
			add("%v untracked frames: muxtop %d, but the oracle has %d NOPs and frames naming no stream", live.Dir(d), ss.Untracked.Frames[d], o.untracked.Frames[d])
		}
	}
	if ss.Total != uint64(len(o.streams)) {
		add("streams opened: muxtop %d, oracle %d", ss.Total, len(o.streams))
	}
	wantOpen := live_
	if ss.Ended {
		wantOpen = 0
	}
	if ss.Open != wantOpen {
		add("open streams: muxtop %d, oracle %d", ss.Open, wantOpen)
	}
	if ss.Aged != wantOpen {
		add("streams older than LeakAfter 1ns: muxtop %d, the oracle's streams not closed both ways %d", ss.Aged, wantOpen)
	}
	if !ss.Ended && closedTracked > closedStreams {
		add("%d closed streams tracked, Config.ClosedStreams is %d", closedTracked, closedStreams)
	}
	return diffs
}

// flowDiffs compares muxtop's v2 windows with the oracle's, for every live
// stream and direction: written, the last UPD, in flight and the window.
func flowDiffs(ss *live.SessionSnap, o *model, version byte) []string {
	var diffs []string
	for i := range ss.Streams {
		st := &ss.Streams[i]
		m := o.streams[st.ID]
		if m == nil || !st.State.Live() {
			continue
		}
		for d := range 2 {
			fl := st.Flow[d]
			if version != 2 {
				if fl != (live.Flow{}) {
					diffs = append(diffs, fmt.Sprintf("v1 stream %d %v has flow state %+v", st.ID, live.Dir(d), fl))
				}
				continue
			}
			want := live.Flow{Written: m.written[d], HasUPD: m.upd[1-d], PeerConsumed: m.consumed[1-d], PeerWindow: m.window[1-d]}
			fl.FullSince = time.Time{}
			if fl != want || st.Flow[d].InFlight() != m.inFlight(d) || st.Flow[d].Window() != m.win(d) {
				diffs = append(diffs, fmt.Sprintf("stream %d %v: muxtop written %d in flight %d window %d (UPD %v %d/%d), oracle written %d in flight %d window %d (UPD %v %d/%d)",
					st.ID, live.Dir(d), fl.Written, st.Flow[d].InFlight(), st.Flow[d].Window(), fl.HasUPD, fl.PeerConsumed, fl.PeerWindow,
					m.written[d], m.inFlight(d), m.win(d), m.upd[1-d], m.consumed[1-d], m.window[1-d]))
			}
			atWindow := m.inFlight(d) >= 0 && int64(int32(m.win(d)))-m.inFlight(d) <= 0
			if st.Flow[d].AtWindow() != atWindow {
				diffs = append(diffs, fmt.Sprintf("stream %d %v: muxtop at the window %v, oracle %v", st.ID, live.Dir(d), st.Flow[d].AtWindow(), atWindow))
			}
		}
	}
	return diffs
}

// versionDiffs checks the version muxtop gives each direction: that of
// its first frame, counted or refused.
func versionDiffs(ss *live.SessionSnap, o *model) []string {
	var want [2]uint8
	for d := range 2 {
		if len(o.walks[d].Frames) > 0 {
			want[d] = o.walks[d].Frames[0].Ver
		}
	}
	if ss.Versions != want {
		return []string{fmt.Sprintf("versions: muxtop %v, the first frames %v", ss.Versions, want)}
	}
	return nil
}

// unparsedDiffs checks that the bytes after the last counted frame are
// unparsed: cut short at the end, or after a refused header.
func unparsedDiffs(ss *live.SessionSnap, o *model) []string {
	var diffs []string
	for d := range 2 {
		framed := o.counts.BytesDir(live.Dir(d))
		want := int64(uint64(len(o.bytes[d])) - framed)
		if ss.Unparsed[d] != want {
			diffs = append(diffs, fmt.Sprintf("%v unparsed: muxtop %d, oracle %d (%d bytes, %d in counted frames)",
				live.Dir(d), ss.Unparsed[d], want, len(o.bytes[d]), framed))
		}
	}
	return diffs
}

// forwardDiffs checks that what each end read is what the other wrote, or
// the start of it: the tap, and the proxy (which says it forwards every
// byte untouched), change nothing on the way.
//
// A Recorder records a write once the conn's Write returns, by when its
// peer may have read and recorded the bytes (a keepalive NOP, in a live
// session): a read ahead of the writer's record is looked at again, for
// up to a second, until the writer's record catches up. Bytes that
// differ are a difference at once.
func (e *env) forwardDiffs() []string {
	deadline := time.Now().Add(time.Second)
	for {
		var diffs []string
		ahead := false
		for d := range 2 { // sent by side d, read by side 1-d
			read := e.rec[1-d].ReadBytes()
			written := e.rec[d].WrittenBytes() // after the read: it can only have caught up
			if diff := prefixDiff(read, written); diff != "" {
				diffs = append(diffs, fmt.Sprintf("%v: the %v read %s the %v wrote", live.Dir(d), live.Side(1-d), diff, live.Side(d)))
				ahead = ahead || len(read) > len(written) && bytes.Equal(read[:len(written)], written)
			}
		}
		if !ahead || time.Now().After(deadline) {
			return diffs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// prefixDiff says how got differs from being a prefix of want, or "".
func prefixDiff(got, want []byte) string {
	if len(got) <= len(want) && bytes.Equal(got, want[:len(got)]) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("%d bytes, not a prefix of the %d on the wire (first difference at %d)", len(got), len(want), i)
}
