package smuxdiff

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// endKind is how one side of a stream ends it.
type endKind int

const (
	endCloseWrite         endKind = iota // CloseWrite after writing, then read to EOF
	endCloseWriteClose                   // CloseWrite, read to EOF, then Close: a second FIN
	endClose                             // read to EOF, then Close
	endCloseEarly                        // Close right after writing, reading no more
	endLeave                             // no FIN: the stream stays open
	endCloseWriteCloseNow                // CloseWrite, then Close at once: two FINs, reading no more
	numEndKinds
)

func (k endKind) String() string {
	return [...]string{"CloseWrite", "CloseWrite+Close", "Close", "Close early", "leave open", "CloseWrite+Close at once"}[k]
}

// streamPlan is what both sides do with one stream, and what they got.
type streamPlan struct {
	opener      int // side
	chunks      [2][]int
	data        [2][]byte // what each side writes, its chunks end to end
	end         [2]endKind
	answerFirst bool // the accepting side writes everything before it reads
	delay       time.Duration
	// pauseAt and pause make a side's reader stop for a moment once it has
	// read pauseAt bytes (pause 0: never): its writer may sit at the
	// window meanwhile, which is not a stall.
	pauseAt [2]int
	pause   [2]time.Duration

	id        uint32
	readDone  [2]chan struct{}
	got       [2][]byte
	readErr   [2]error
	writeErr  [2]error
	closeErrs [2][]error
}

func (p *streamPlan) String() string {
	return fmt.Sprintf("stream %d opened by the %v, writes %v / %v, ends %v / %v, answer first %v, readers pause %v@%d / %v@%d",
		p.id, live.Side(p.opener), p.chunks[0], p.chunks[1], p.end[0], p.end[1], p.answerFirst, p.pause[0], p.pauseAt[0], p.pause[1], p.pauseAt[1])
}

// chunkSize draws the size of one Write: 0, small, medium, around smux's
// MaxFrameSize (32768), or over 64 KiB.
func chunkSize(rnd *rand.Rand) int {
	switch r := rnd.IntN(10); {
	case r == 0:
		return 0
	case r < 4:
		return 1 + rnd.IntN(64)
	case r < 7:
		return 65 + rnd.IntN(4032)
	case r < 8:
		return 4097 + rnd.IntN(28672)
	case r < 9:
		return 32767 + rnd.IntN(3)
	}
	return 65536 + rnd.IntN(4096)
}

// newPlans draws n stream plans. They never deadlock: two sides that both
// wait for the other's FIN before closing are not drawn, and a side writes
// no more than smux lets it write without a reader when its peer may stop
// reading (Close early: 64 KiB, the window after a UPD) or reads only after
// answering (256 KiB, the window before the first UPD, and altogether less
// than a quarter of the 4 MiB session buffer: once that is full smux stops
// reading the connection, UPDs included).
func newPlans(rnd *rand.Rand, n int, big bool) []*streamPlan {
	maxChunks, maxTotal := 4, 150_000
	if big {
		maxChunks, maxTotal = 12, 1<<20
	}
	plans := make([]*streamPlan, n)
	for i := range plans {
		p := &streamPlan{opener: rnd.IntN(2), answerFirst: rnd.IntN(3) == 0, delay: time.Duration(rnd.IntN(3000)) * time.Microsecond}
		for s := range 2 {
			p.end[s] = endKind(rnd.IntN(int(numEndKinds)))
			p.readDone[s] = make(chan struct{})
		}
		if p.end[0] == endClose && p.end[1] == endClose {
			p.end[1-p.opener] = endCloseEarly
		}
		for s := range 2 {
			limit := maxTotal
			if p.stopsReading(1 - s) {
				limit = 65536
			}
			if p.answerFirst && s == p.opener {
				limit = min(limit, 262143, (1<<20)/n)
			}
			total := 0
			for range rnd.IntN(maxChunks + 1) {
				size := min(chunkSize(rnd), limit-total)
				p.chunks[s] = append(p.chunks[s], size)
				total += size
			}
			p.data[s] = make([]byte, total)
			for j := range p.data[s] {
				p.data[s][j] = byte(rnd.Uint32())
			}
		}
		for s := range 2 {
			if rnd.IntN(3) == 0 && len(p.data[1-s]) > 0 {
				p.pauseAt[s] = rnd.IntN(len(p.data[1-s]))
				p.pause[s] = time.Duration(5+rnd.IntN(25)) * time.Millisecond
			}
		}
		plans[i] = p
	}
	return plans
}

// stopsReading reports whether side s may stop reading before the other
// side's FIN: it closes early, or it closes without waiting for a FIN that
// will not come.
func (p *streamPlan) stopsReading(s int) bool {
	switch p.end[s] {
	case endCloseEarly, endCloseWriteCloseNow:
		return true
	case endClose, endCloseWriteClose:
		return p.end[1-s] == endLeave
	}
	return false
}

// workload runs stream plans on a pair of smux sessions.
type workload struct {
	t     *testing.T
	e     *env
	sess  [2]*smux.Session
	plans []*streamPlan

	mu   sync.Mutex
	byID map[uint32]chan *streamPlan

	sides      sync.WaitGroup // every side of every stream
	tail       sync.WaitGroup // readers and accept loops, which may end only with the session
	acceptDone [2]chan struct{}
}

func newWorkload(e *env, sess [2]*smux.Session, plans []*streamPlan) *workload {
	w := &workload{t: e.t, e: e, sess: sess, plans: plans, byID: make(map[uint32]chan *streamPlan)}
	for s := range 2 {
		w.acceptDone[s] = make(chan struct{})
		w.tail.Add(1)
		go w.accept(s)
	}
	return w
}

// slot returns the channel on which the plan of stream id is handed from
// its opener to its acceptor.
func (w *workload) slot(id uint32) chan *streamPlan {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.byID[id]
	if c == nil {
		c = make(chan *streamPlan, 1)
		w.byID[id] = c
	}
	return c
}

// accept accepts the streams the other side opens, until the session ends.
func (w *workload) accept(s int) {
	defer w.tail.Done()
	defer close(w.acceptDone[s])
	for {
		st, err := w.sess[s].AcceptStream()
		if err != nil {
			return
		}
		go func() { // one of w.sides: it ends when the plan's side has run
			p := <-w.slot(st.ID())
			w.side(st, p, s)
			w.sides.Done()
		}()
	}
}

// run opens every plan's stream and runs both sides; it returns when every
// side has run its plan. Readers of streams whose peer sends no FIN go on.
func (w *workload) run() {
	w.sides.Add(2 * len(w.plans))
	for _, p := range w.plans {
		go func() {
			defer w.sides.Done()
			time.Sleep(p.delay)
			st, err := w.sess[p.opener].OpenStream()
			if err != nil {
				w.t.Errorf("OpenStream: %v", err)
				w.sides.Done() // the acceptor's, which will not come
				return
			}
			p.id = st.ID()
			w.slot(p.id) <- p
			w.side(st, p, p.opener)
		}()
	}
	if !waitTimeout(&w.sides, 30*time.Second) {
		for _, p := range w.plans {
			w.t.Logf("%v", p)
		}
		w.t.Fatal("the workload did not finish within 30 s")
	}
}

// waitTimeout waits for wg, for at most d; it reports whether wg is done.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { // ends with wg: a test that times out fails, and its cleanup ends the wait
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// side runs side me of plan p on stream st.
func (w *workload) side(st *smux.Stream, p *streamPlan, me int) {
	peerFINs := p.end[1-me] != endLeave
	w.tail.Add(1)
	startReader := func() {
		go func() {
			defer w.tail.Done()
			defer close(p.readDone[me])
			p.got[me], p.readErr[me] = readPausing(st, p.pauseAt[me], p.pause[me])
		}()
	}
	acceptor := me != p.opener
	if !(p.answerFirst && acceptor) {
		startReader()
	}
	off := 0
	for _, n := range p.chunks[me] {
		if _, err := w.e.write(st, me, p.data[me][off:off+n]); err != nil {
			p.writeErr[me] = err
			break
		}
		off += n
	}
	w.e.tracker(st.ID(), me).finished.Store(true)
	if p.answerFirst && acceptor {
		startReader()
	}
	closeErr := func(err error) {
		if err != nil {
			p.closeErrs[me] = append(p.closeErrs[me], err)
		}
	}
	switch p.end[me] {
	case endCloseWrite:
		closeErr(w.e.closeStream(st, me, true))
		if peerFINs {
			<-p.readDone[me]
		}
	case endCloseWriteClose:
		closeErr(w.e.closeStream(st, me, true))
		if peerFINs {
			<-p.readDone[me]
		}
		// A second FIN only if the peer's has not arrived: once both
		// FINs have removed the stream, smux's Close sends nothing and
		// returns io.ErrClosedPipe.
		w.e.closeStream(st, me, false)
	case endClose:
		if peerFINs {
			<-p.readDone[me]
		}
		closeErr(w.e.closeStream(st, me, false))
	case endCloseEarly:
		closeErr(w.e.closeStream(st, me, false))
		<-p.readDone[me]
	case endCloseWriteCloseNow:
		closeErr(w.e.closeStream(st, me, true))
		closeErr(w.e.closeStream(st, me, false))
		<-p.readDone[me]
	case endLeave:
		if peerFINs {
			<-p.readDone[me]
		}
	}
}

// readPausing reads st to its end like io.ReadAll, stopping for pause
// once it has read at least pauseAt bytes.
func readPausing(st *smux.Stream, pauseAt int, pause time.Duration) ([]byte, error) {
	var got []byte
	buf := make([]byte, 16384)
	for {
		if pause > 0 && len(got) >= pauseAt {
			time.Sleep(pause)
			pause = 0
		}
		n, err := st.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
}

// smuxConfig returns the config of a workload's ends.
func smuxConfig(version byte, keepalive time.Duration) *smux.Config {
	cfg := smuxtest.Config(int(version))
	cfg.MaxStreamBuffer = 65536
	if keepalive > 0 {
		cfg.KeepAliveInterval = keepalive
	}
	return cfg
}

// startSmux runs an smux client and server over e's ends.
func (e *env) startSmux(cfg [2]*smux.Config) [2]*smux.Session {
	e.t.Helper()
	cli, err := smux.Client(e.conn[0], cfg[0])
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := smux.Server(e.conn[1], cfg[1])
	if err != nil {
		cli.Close()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cli.Close(); srv.Close() })
	return [2]*smux.Session{cli, srv}
}

// TestWorkload drives random healthy workloads through real smux
// sessions, v1 and v2, in every placement: many streams; writes of 0 bytes
// to over 64 KiB; CloseWrite, Close, both, or neither from each side;
// answers before reading; readers that stop for a moment; keepalives. It
// checks muxtop against the oracle while the session lives and after it
// has ended: counts per direction and command, wire bytes, every stream's
// state and counts, the folded summary, v2 windows, leaks, and no anomaly,
// violation or stall in any snapshot; smux's own deliveries against the
// oracle's PSH payloads; and that each end read exactly what the other
// wrote (the proxy forwards every byte untouched).
func TestWorkload(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		t.Run(place.String(), func(t *testing.T) {
			for _, v := range []byte{1, 2} {
				t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
					runSeeds(t, 2, func(t *testing.T, rnd *rand.Rand) { healthyRun(t, rnd, place, v) })
				})
			}
		})
	}
}

func healthyRun(t *testing.T, rnd *rand.Rand, place placement, v byte) {
	big := soak() > 0
	nStreams := 1 + rnd.IntN(8)
	if big {
		nStreams = 1 + rnd.IntN(60)
	}
	closedStreams := []int{1, 2, 3, 0}[rnd.IntN(4)]
	var keepalive time.Duration
	if rnd.IntN(2) == 0 {
		keepalive = time.Duration(5+rnd.IntN(20)) * time.Millisecond
	}
	e := newEnv(t, place, envConfig{
		live:       live.Config{ClosedStreams: closedStreams},
		ver:        [2]byte{v, v},
		tapVersion: rnd.IntN(2) == 0,
		healthy:    true,
	})
	keepCfg := max(closedStreams, 0)
	if closedStreams == 0 {
		keepCfg = live.DefaultClosedStreams
	}
	plans := newPlans(rnd, nStreams, big)
	t.Logf("%s v%d: %d streams, ClosedStreams %d, keepalive %v", place, v, nStreams, closedStreams, keepalive)
	sess := e.startSmux([2]*smux.Config{smuxConfig(v, keepalive), smuxConfig(v, keepalive)})
	stop := e.monitor()
	w := newWorkload(e, sess, plans)
	w.run()
	for _, p := range plans {
		for s := range 2 {
			if p.writeErr[s] != nil {
				t.Errorf("%v: the %v's Write failed: %v", p, live.Side(s), p.writeErr[s])
			}
		}
	}
	if keepalive > 0 {
		smuxtest.Eventually(t, "keepalive NOPs both ways", func() bool {
			o := e.endModel(0)
			return o.counts.Frames[c2s][NOP] > 0 && o.counts.Frames[s2c][NOP] > 0
		})
	}

	// While the session lives.
	ss, o := e.settle("live", func(ss *live.SessionSnap, o *model, v view) bool { return v.delivered() })
	errs(t, "live counts", countDiffs(ss, o))
	errs(t, "live unparsed", unparsedDiffs(ss, o))
	errs(t, "live streams", streamDiffs(ss, o, keepCfg))
	errs(t, "live windows", flowDiffs(ss, o, v))
	errs(t, "live versions", versionDiffs(ss, o))
	errs(t, "live forwarding", e.forwardDiffs())
	if keepalive > 0 && (o.counts.Frames[c2s][NOP] == 0 || o.counts.Frames[s2c][NOP] == 0) {
		t.Errorf("keepalive %v: NOPs %d → and %d ←, want some each way", keepalive, o.counts.Frames[c2s][NOP], o.counts.Frames[s2c][NOP])
	}
	for _, o := range o.walks {
		if o.Stop != Clean {
			t.Errorf("the oracle finds the bytes of a healthy run not valid smux: %+v", o)
		}
	}
	checkDeliveries(t, plans, o, true)

	// Close the sessions, one side first, and check the ended session.
	first := rnd.IntN(2)
	e.closeSession(first, sess[first])
	select {
	case <-w.acceptDone[1-first]:
	case <-time.After(10 * time.Second):
		t.Errorf("the %v's session did not notice that the %v closed", live.Side(1-first), live.Side(first))
	}
	e.closeSession(1-first, sess[1-first])
	if !waitTimeout(&w.tail, 30*time.Second) {
		t.Fatal("readers still running 30 s after both sessions closed")
	}
	ss, o = e.settle("ended", func(ss *live.SessionSnap, o *model, v view) bool { return ss.Ended })
	stop()
	errs(t, "ended counts", countDiffs(ss, o))
	errs(t, "ended unparsed", unparsedDiffs(ss, o))
	errs(t, "ended streams", streamDiffs(ss, o, keepCfg))
	errs(t, "ended forwarding", e.forwardDiffs())
	checkDeliveries(t, plans, o, false)
}

// checkDeliveries compares what smux delivered with the oracle: the bytes
// each side wrote are the PSH payloads of its direction of the stream, and
// a reader that read to EOF got exactly those of the other direction (one
// that stopped early, a prefix of them). Only complete once all sides have
// run: final says the readers still running are not yet done.
func checkDeliveries(t *testing.T, plans []*streamPlan, o *model, live_ bool) {
	t.Helper()
	for _, p := range plans {
		m := o.streams[p.id]
		if m == nil {
			t.Errorf("%v: no SYN on the wire", p)
			continue
		}
		for s := range 2 {
			d := s // the direction side s sends in
			if p.writeErr[s] == nil && !bytes.Equal(m.data[d], p.data[s]) {
				t.Errorf("%v: the %v wrote %d bytes, the wire carries %d PSH payload bytes (%s)", p, live.Side(s), len(p.data[s]), len(m.data[d]), prefixDiff(m.data[d], p.data[s]))
			}
			select {
			case <-p.readDone[s]:
			default:
				if !live_ {
					t.Errorf("%v: the %v's reader still runs", p, live.Side(s))
				}
				continue
			}
			in := m.data[1-d]
			complete := p.readErr[s] == nil && !p.stopsReading(s)
			switch {
			case complete && !bytes.Equal(p.got[s], in):
				t.Errorf("%v: the %v read %d bytes to EOF, the wire carried %d to it (%s)", p, live.Side(s), len(p.got[s]), len(in), prefixDiff(p.got[s], in))
			case !complete:
				if diff := prefixDiff(p.got[s], in); diff != "" {
					t.Errorf("%v: the %v read (until %v) %s", p, live.Side(s), p.readErr[s], diff)
				}
			}
		}
	}
}

// TestSessionCloseMidWrite closes one side's session while both sides
// write on many streams, and checks the ended session against the bytes
// that were on the wire: counts, wire bytes (failed writes taken back out),
// a frame cut short named TRUNCATED exactly where the oracle finds it, no
// anomaly, stream counts and states.
func TestSessionCloseMidWrite(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, place := range placements {
		t.Run(place.String(), func(t *testing.T) {
			for _, v := range []byte{1, 2} {
				t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
					runSeeds(t, 2, func(t *testing.T, rnd *rand.Rand) { closeMidWrite(t, rnd, place, v) })
				})
			}
		})
	}
}

func closeMidWrite(t *testing.T, rnd *rand.Rand, place placement, v byte) {
	nStreams := 1 + rnd.IntN(6)
	if soak() > 0 {
		nStreams = 1 + rnd.IntN(40)
	}
	e := newEnv(t, place, envConfig{
		live:       live.Config{ClosedStreams: []int{1, 3, 0}[rnd.IntN(3)]},
		ver:        [2]byte{v, v},
		tapVersion: rnd.IntN(2) == 0,
		looping:    true,
	})
	pool := make([]byte, 1<<17) // the writers' bytes: slices of it at random offsets
	for i := range pool {
		pool[i] = byte(rnd.Uint32())
	}
	var keepalive time.Duration
	if rnd.IntN(2) == 0 {
		keepalive = time.Duration(2+rnd.IntN(10)) * time.Millisecond
	}
	sess := e.startSmux([2]*smux.Config{smuxConfig(v, keepalive), smuxConfig(v, keepalive)})
	stop := e.monitor()

	// Every stream: both sides write random chunks until a write fails,
	// and read until a read fails.
	type side struct {
		attempted []byte // everything given to Write
		got       []byte
	}
	sides := make([][2]*side, nStreams)
	var wg sync.WaitGroup
	run := func(st *smux.Stream, sd *side, me int, seed uint64) {
		wg.Add(2)
		go func() {
			defer wg.Done()
			sd.got, _ = io.ReadAll(st)
		}()
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for {
				n := chunkSize(r)
				off := r.IntN(len(pool) - n + 1)
				b := pool[off : off+n]
				sd.attempted = append(sd.attempted, b...)
				if _, err := e.write(st, me, b); err != nil {
					return
				}
			}
		}()
	}
	ids := make([]uint32, nStreams)
	accepted := make(chan *smux.Stream, nStreams)
	acceptDone := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(acceptDone[s])
			for {
				st, err := sess[s].AcceptStream()
				if err != nil {
					return
				}
				accepted <- st
			}
		}()
	}
	for i := range sides {
		sides[i] = [2]*side{{}, {}}
		opener := rnd.IntN(2)
		st, err := sess[opener].OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = st.ID()
		run(st, sides[i][opener], opener, rnd.Uint64())
		select {
		case as := <-accepted:
			if as.ID() != st.ID() {
				t.Fatalf("accepted stream %d, opened %d", as.ID(), st.ID())
			}
			run(as, sides[i][1-opener], 1-opener, rnd.Uint64())
		case <-time.After(10 * time.Second):
			t.Fatal("stream not accepted")
		}
	}
	time.Sleep(time.Duration(rnd.IntN(20)) * time.Millisecond)
	first := rnd.IntN(2)
	t.Logf("%s v%d: %d streams, keepalive %v, the %v closes its session", place, v, nStreams, keepalive, live.Side(first))
	e.closeSession(first, sess[first])
	select {
	case <-acceptDone[1-first]:
	case <-time.After(10 * time.Second):
		t.Errorf("the %v's session did not notice that the %v closed", live.Side(1-first), live.Side(first))
	}
	e.closeSession(1-first, sess[1-first])
	if !waitTimeout(&wg, 30*time.Second) {
		t.Fatal("readers and writers still running 30 s after both sessions closed")
	}

	ss, o := e.settle("ended", func(ss *live.SessionSnap, o *model, v view) bool { return ss.Ended })
	stop()
	errs(t, "counts", countDiffs(ss, o))
	errs(t, "unparsed", unparsedDiffs(ss, o))
	errs(t, "truncated", truncDiffs(ss, o, e, first))
	errs(t, "forwarding", e.forwardDiffs())
	errs(t, "streams", streamDiffs(ss, o, 0))
	if ss.AnomalyCount != 0 {
		t.Errorf("anomalies: %v", ss.Anomalies)
	}
	for i, id := range ids {
		m := o.streams[id]
		if m == nil {
			t.Errorf("stream %d: no SYN on the wire", id)
			continue
		}
		for s := range 2 {
			if diff := prefixDiff(m.data[s], sides[i][s].attempted); diff != "" {
				t.Errorf("stream %d: the wire's %v PSH payload: %s of what the %v wrote", id, live.Dir(s), diff, live.Side(s))
			}
			if diff := prefixDiff(sides[i][s].got, m.data[1-s]); diff != "" {
				t.Errorf("stream %d: the %v read %s", id, live.Side(s), diff)
			}
		}
	}
}

// truncDiffs checks TRUNCATED against the oracle: muxtop names it where,
// and only where, a direction's bytes end inside a frame, except on the
// tapped end's reading direction when that end closed its conn itself
// (the peer cut nothing short), and through the proxy when it reset both
// conns itself after one failed.
func truncDiffs(ss *live.SessionSnap, o *model, e *env, closedFirst int) []string {
	var diffs []string
	var named [2]*live.FramingInfo
	for i := range ss.Framing {
		f := &ss.Framing[i]
		if f.Code.String() != "TRUNCATED" {
			diffs = append(diffs, fmt.Sprintf("%v: violation %v at %d: %s", f.Dir, f.Code, f.Offset, f.Detail))
			continue
		}
		named[f.Dir] = f
	}
	for d := range 2 {
		w := o.walks[d]
		cut := w.Stop == Cut
		f := named[d]
		switch {
		case f != nil && !cut:
			diffs = append(diffs, fmt.Sprintf("%v: TRUNCATED at %d, but the %d bytes on the wire end with a complete frame", live.Dir(d), f.Offset, len(o.bytes[d])))
		case f != nil && (f.Offset != int64(w.At) || [8]byte(f.Header) != w.Header):
			diffs = append(diffs, fmt.Sprintf("%v: TRUNCATED at %d header %v, the oracle's cut frame at %d header % x", live.Dir(d), f.Offset, f.Header, w.At, w.Header))
		case f == nil && cut:
			reading := e.place != viaProxy && d != int(e.place)
			excused := (reading && int(e.place) == closedFirst) || e.place == viaProxy && ss.Reason != live.EOF
			if !excused {
				diffs = append(diffs, fmt.Sprintf("%v: the bytes end %d bytes into a frame at %d, not named TRUNCATED (session ended: %v %s)",
					live.Dir(d), len(o.bytes[d])-w.At, w.At, ss.Reason, ss.Err))
			}
		}
	}
	return diffs
}
