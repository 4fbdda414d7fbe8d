// Package live holds muxtop's capture state: the sessions and streams seen
// on tapped connections, exact counters, v2 flow-control windows and a
// bounded history of frame records.
//
// Feeders (one per direction of a connection) call Session.Record from the
// data path; it never waits on a reader. Front ends read immutable
// Snapshots and copies of history records. The package starts no goroutines.
package live

import (
	"cmp"
	"container/heap"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// Side is one end of an smux session.
type Side uint8

// The two ends of a session. The client is the end that dialled.
const (
	Client Side = 0
	Server Side = 1
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Letter returns "c" or "s".
func (s Side) Letter() string {
	if s == Client {
		return "c"
	}
	return "s"
}

// Dir is the direction a frame travelled, named by the smux roles, not by
// which end muxtop taps: ClientToServer is always →.
type Dir uint8

// The two directions. Dir(side) is the direction in which side sends.
const (
	ClientToServer Dir = 0
	ServerToClient Dir = 1
)

// A direction has three names, here and nowhere else: its arrow, for
// lines a person reads; its code, for machine output (JSON) and the
// filter; and its words, for the help and a frame's detail.

// String returns the direction's arrow: → for client to server, ← back.
func (d Dir) String() string {
	if d == ClientToServer {
		return "→"
	}
	return "←"
}

// Code returns the direction's name in machine output: "c2s" or "s2c".
func (d Dir) Code() string {
	if d == ClientToServer {
		return "c2s"
	}
	return "s2c"
}

// Words returns the direction in words: "client to server" or "server to client".
func (d Dir) Words() string {
	if d == ClientToServer {
		return "client to server"
	}
	return "server to client"
}

// TimeLayout is how every front end prints a record's time of day, to
// the microsecond: 12:01:03.441219.
const TimeLayout = "15:04:05.000000"

// DateTimeLayout is TimeLayout after the date, for a time a person reads
// away from the records of its day, such as a status figure's:
// 2026-12-07 08:50:05.921177.
const DateTimeLayout = "2006-01-02 " + TimeLayout

// Sender returns the side that sends in direction d.
func (d Dir) Sender() Side { return Side(d) }

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return 1 - d }

// Sends returns the direction in which side s sends.
func (s Side) Sends() Dir { return Dir(s) }

// Defaults for Config's zero fields.
const (
	DefaultHistory       = 100_000
	DefaultSnaplen       = 256
	DefaultClosedStreams = 1_000
	DefaultStreamBudget  = 100_000
	DefaultEndedSessions = 1_000
	DefaultAnomalies     = 100
)

// ClosedStreamBytes is the most a closed stream kept in detail keeps
// live (one of Config.StreamBudget's), rounded up from what
// TestRetainedStreamBytes measures (544 bytes): what a memory budget
// counts for each.
const ClosedStreamBytes = 576

// The least number of closed streams a session keeps in detail however
// many sessions share Config.StreamBudget (unless ClosedStreams is
// smaller, or the budget is none): a live one, and an ended one, whose
// detail matters less. Past StreamBudget / MinClosedStreams live sessions
// the floors, not the budget, bound the streams kept, at about
// MinClosedStreams × ClosedStreamBytes a live session, which costs more already.
const (
	MinClosedStreams      = 20
	MinEndedClosedStreams = 5
)

// liveWeight is a live session's share of Config.StreamBudget against an
// ended one's: an ended session keeps a quarter of a live one's closed
// streams.
const liveWeight = 4

// Config bounds the memory a Registry uses.
//
// Its fields follow muxtop's one rule for a number in a config, which
// demo.Config (Rate) and tap.ProxyConfig (DialTimeout) follow too: 0 means
// the default, a negative value means none (no history, no payload bytes,
// no load, no bound). A caller whose own 0 means none, as the command
// line's --history 0 does, passes Exactly(n).
type Config struct {
	// History is how many frame records are kept; older ones are evicted
	// (their frames still count).
	History int
	// Snaplen is how many payload bytes a record keeps.
	Snaplen int
	// ClosedStreams is how many closed streams each session keeps in
	// detail at most; older ones are folded into the session's
	// ClosedSummary, where they still count. StreamBudget may make it fewer.
	ClosedStreams int
	// StreamBudget is how many closed streams all sessions keep in detail
	// together: the memory that scales with the streams served, about
	// 0.5 KB each (README, Memory). Each live session keeps an equal share,
	// each ended one a quarter of that, at least MinClosedStreams and
	// MinEndedClosedStreams, at most ClosedStreams.
	StreamBudget int
	// EndedSessions is how many ended sessions are kept; older ones are
	// folded into the Snapshot's Forgotten counts.
	EndedSessions int
	// Anomalies is how many anomaly records each session keeps; all are counted.
	Anomalies int
	// HugePages asks the kernel (Linux) to back the history ring with
	// transparent huge pages: its first lap then faults a 2 MiB page in
	// where it would fault 512 small ones, one every 13 bulk records (see
	// hugePageSlice). For a process that keeps one Registry for its life,
	// as muxtop's commands do: the advice stays on the memory after the
	// ring is freed, and the Go heap, reusing it, comes in huge pages
	// there too; a test suite that made many such registries grew to
	// 19 GB under the race detector.
	HugePages bool
	// Clock, if not nil, is the registry's time instead of time.Now: when
	// it started, and the time of a snapshot. A capture reader gives the
	// time of the capture it has read to, so that ages, rates and leaks are
	// measured in the capture's time, as its frames are stamped.
	Clock func() time.Time
}

// Exactly returns n for a config field that follows Config's rule, when
// n counts exactly and 0 means none: n if positive, else -1.
func Exactly(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			*v = 0
		}
	}
	def(&c.History, DefaultHistory)
	def(&c.Snaplen, DefaultSnaplen)
	def(&c.ClosedStreams, DefaultClosedStreams)
	def(&c.StreamBudget, DefaultStreamBudget)
	def(&c.EndedSessions, DefaultEndedSessions)
	def(&c.Anomalies, DefaultAnomalies)
	return c
}

// Registry is the capture state of every tapped session. It is safe for
// concurrent use.
type Registry struct {
	cfg     Config
	started time.Time
	hist    *history
	// unsentNamed counts the failed writes Session.Unsent was told of,
	// every session's: the first MaxUnsentNotices are named one each.
	unsentNamed atomic.Int64

	mu     sync.Mutex // guards the fields below
	nextID uint64
	// sessions are the tracked sessions in id order: ended ones beyond
	// cfg.EndedSessions are forgotten, the lowest ids first, and stay in
	// it, marked gone, until compact takes them out. endedQ holds the
	// ended ones not forgotten, the lowest id first: a session's end
	// forgets the oldest by it at O(log n).
	sessions []*Session
	endedQ   endedHeap
	gone     int // forgotten sessions still in sessions
	// visits counts the sessions that forgetting looked at (sessionEnded,
	// compact): TestEndedForgetLinear holds it to O(1) a session ended.
	visits    uint64
	forgotten Forgotten
	notices   []Notice // the latest MaxNotices, oldest first
	// weight is the tracked sessions' shares of cfg.StreamBudget, each live
	// one liveWeight, each ended one 1; shares is what the caps are set
	// for, at least weight, so that the sessions' caps add up to the
	// budget at most (setCaps).
	weight, shares int

	// The caps on the closed streams a session keeps, live and ended: read
	// by a session closing a stream, under its own lock only.
	liveCap, endedCap atomic.Int64

	eng engine // the findings engine: findings.go

	// checkSnap, set by tests before the registry is used, is given each
	// session's picture a snapshot takes and the same picture built anew
	// (Session.fresh), under the session's lock: they must be equal.
	checkSnap func(got, fresh *SessionSnap)
}

// MaxNotices is how many notices a Snapshot carries.
const MaxNotices = 8

// Notice is a one-line message for the user, such as "attach: upstream
// 127.0.0.1:9000 refused the connection".
type Notice struct {
	At   time.Time
	Text string
}

// Notice records a one-line message for the user: every front end shows it.
func (r *Registry) Notice(at time.Time, text string) {
	r.mu.Lock()
	if len(r.notices) == MaxNotices {
		copy(r.notices, r.notices[1:])
		r.notices = r.notices[:MaxNotices-1]
	}
	r.notices = append(r.notices, Notice{At: at, Text: text})
	r.mu.Unlock()
	r.hist.addEvent(Record{Kind: NoticeRecord, At: at, Detail: text})
}

// New returns an empty Registry bounded by cfg.
func New(cfg Config) *Registry {
	cfg = cfg.withDefaults()
	r := &Registry{cfg: cfg, hist: newHistory(cfg.History, cfg.Snaplen, cfg.HugePages)}
	r.started = r.Now()
	r.setCaps()
	return r
}

// setCaps sets the caps on the closed streams a session keeps for
// r.shares: each live session's is the budget's liveWeight / shares, each
// ended one's 1 / shares, so that they add up to the budget at most while
// weight <= shares. r.mu is held, or r is new.
func (r *Registry) setCaps() {
	b, most := r.cfg.StreamBudget, r.cfg.ClosedStreams
	unit := b / max(r.shares, 1)
	capOf := func(share, floor int) int64 {
		if b == 0 {
			return 0
		}
		return int64(min(max(share, floor), most))
	}
	r.liveCap.Store(capOf(liveWeight*unit, MinClosedStreams))
	r.endedCap.Store(capOf(unit, MinEndedClosedStreams))
}

// reweigh adds d to r.weight. Where the weight passes the shares the caps
// were set for, it sets them for more (headroom) and trims every session
// to its new cap, so that the sessions never keep more than the budget
// together; a trim costs the streams it folds, each once, and past a few
// sessions the sweep comes each time the sessions grow by a quarter: O(1)
// a session opened. Where the weight falls below half the shares (or
// below them, while few sessions make a sweep cheap), the caps grow, which
// takes no trim. r.mu is held.
func (r *Registry) reweigh(d int) {
	r.weight += d
	switch {
	case r.weight > r.shares:
		r.shares = headroom(r.weight)
		r.setCaps()
		for _, s := range r.sessions {
			if s.gone {
				continue // forgotten: its streams count in r.forgotten already
			}
			s.mu.Lock()
			s.trim()
			s.mu.Unlock()
		}
	case r.weight < r.shares/2 || r.shares < sweepAlways && r.weight < r.shares:
		r.shares = headroom(r.weight)
		r.setCaps()
	}
}

// sweepAlways is the weight below which reweigh sets the caps for the
// weight itself, sweeping the sessions at every one opened: 16 live ones.
const sweepAlways = 16 * liveWeight

// headroom returns the shares to set the caps for at weight w: a quarter
// more, so that sessions can open before the next sweep, once there are
// enough for a sweep to cost.
func headroom(w int) int {
	if w < sweepAlways {
		return w
	}
	return w + w/4
}

// Now returns the registry's time: Config.Clock's, or time.Now.
func (r *Registry) Now() time.Time {
	if r.cfg.Clock != nil {
		return r.cfg.Clock()
	}
	return time.Now()
}

// History returns the history ring's figures, as a Snapshot's History
// has them, without taking a snapshot.
func (r *Registry) History() HistoryStats { return r.hist.stats() }

// Config returns the registry's bounds, defaults filled in.
func (r *Registry) Config() Config { return r.cfg }

// SessionInfo describes a tapped connection.
type SessionInfo struct {
	// Client and Server are the addresses of the session's two ends; ""
	// for an end that has none (an unnamed unix socket, a net.Pipe's), which
	// words name by its role alone ("the client") and EndName shows so.
	Client, Server string
	// Tap is the end that uses the wrapped conn: the demo gateway taps as
	// Client, a tapped listener and the attach proxy (which serves the
	// client's connection) as Server. Peer names the other end.
	Tap Side
	// Captured says the session was read from packets (read, sniff): no
	// end of it is tapped, and Tap names none.
	Captured bool
	// Label is a free-form name for the session's origin, such as "attach" or "demo".
	Label string
	// Proxied says the session passes through muxtop's attach proxy,
	// Server being its upstream: a finding that the connection carries
	// no mux at all points at that address.
	Proxied bool
	// AcceptedLate says the proxy accepted the connection late, within
	// 2 s of the end of a stall of its accepts of a second or more (for
	// want of file descriptors): its client had waited in the accept
	// queue, and maybe given up, so that its life here begins later than
	// the client's and may end at once. The few-ms stalls of a proxy at
	// its limit, where each session that ends lets the next accept
	// through, make no session late: their clients hardly waited. CHURN
	// leaves such a session out: its short life is the proxy's stall's,
	// which the summary says, not the client's.
	AcceptedLate bool
	// Prefix is the exact prefix the client was to send before the mux
	// (--prefix), if one was given; Skip's bytes are otherwise unchecked
	// (--skip). A PROTOCOL finding that the prefix cut the mux's first
	// header names the flag given.
	Prefix string
	// Transport is what the connection runs over where a tap knows it is
	// not TCP: "pipe" (net.Pipe), or its address's network ("unix",
	// "udp" for a conn over UDP, as a KCP session is), "conn" where the
	// conn has no address; "tls" for TLS over TCP, and for TLS over
	// another conn "tls+" and that conn's name, "tls+unix" (TLSUnder);
	// "" for TCP, and for a sniffed capture or the attach proxy, which
	// see TCP alone; a read of a capture a tap wrote (pcapout) has the
	// tap's transport from its pcapng interface. Only TCP has a FIN and a
	// CLOSE-WAIT state, which the words of a half-close and of CLOSE_WAIT
	// name.
	Transport string
	// Proto is the protocol the session speaks, when the tap knows it
	// before the first byte (it was told); a tap that detects it from the
	// first bytes opens the session with ProtocolUnknown and calls
	// Session.SetProtocol.
	Proto Protocol
	// ToldBy says who told the session's Proto, for the advice of a
	// PROTOCOL finding that says muxtop decoded it as the wrong mux to
	// name what to change: muxtop's --protocol (ToldByFlag), the
	// program's tap (ToldByTap), attach's --protocol in read of its
	// capture (ToldByAttach).
	ToldBy ToldBy
	// SkipBy says who told the client's prefix the session's decoding
	// skips (--skip, --prefix; tap.Skip), for the advice of a PROTOCOL
	// finding that says the skip cut the client's first mux header to
	// name what to drop: muxtop's own flag (ToldByFlag), the program's
	// tap (ToldByTap: tap.Skip, in the tap and in read of its capture),
	// attach's --skip or --prefix in read of its capture (ToldByAttach).
	SkipBy ToldBy
}

// ToldBy is who told a session's protocol (SessionInfo.ToldBy), or
// its client's prefix (SessionInfo.SkipBy).
type ToldBy uint8

const (
	// ToldByFlag: muxtop's own --protocol (attach, read, sniff), or
	// nobody (the protocol is detected).
	ToldByFlag ToldBy = iota
	// ToldByTap: the program's tap (tap.Version, which implies smux, or
	// tap.WithProtocol), in the tap and in read of its capture, which
	// carries it.
	ToldByTap
	// ToldByAttach: attach's --protocol, in read of the capture attach
	// --write wrote, which carries it.
	ToldByAttach
)

// EndName is how an end of side at address addr is shown where its
// address goes (the sessions pane, a session-opened line): addr, or the
// side's name where the end has none, as an unnamed unix socket (the
// client of a unix listener), a net.Pipe's end or a conn with no address.
func EndName(side Side, addr string) string {
	if addr == "" {
		return side.String()
	}
	return addr
}

// Ends is how a session's two ends are shown where its addresses go (a
// session-opened line, the detail pane): "client → server", each by
// EndName.
func Ends(client, server string) string {
	return EndName(Client, client) + " → " + EndName(Server, server)
}

// Named names an end of side at address addr in the words of an end or a
// half-close: its role and address, "client 127.0.0.1:51234", or its
// role alone where the end has none (as EndName shows it).
func Named(side Side, addr string) string {
	if addr == "" {
		return side.String()
	}
	return side.String() + " " + addr
}

// Open starts tracking a new session and returns it.
func (r *Registry) Open(info SessionInfo, at time.Time) *Session {
	s := &Session{reg: r, hist: r.hist, info: info, start: at, last: at, proto: info.Proto}
	r.mu.Lock()
	r.nextID++
	s.id = r.nextID
	r.sessions = append(r.sessions, s)
	r.reweigh(liveWeight)
	r.mu.Unlock()
	r.hist.addEvent(Record{Kind: SessionOpened, Session: s.id, At: at,
		Client: info.Client, Server: info.Server, Label: info.Label, Transport: info.Transport, Tap: info.Tap, Proto: info.Proto})
	return s
}

// sessionEnded counts the end of s, which has ended, and forgets the
// oldest ended sessions beyond the bound: those of the lowest ids, as a
// walk of r.sessions in id order found them. A forgotten session stays
// in r.sessions, gone, until more than half of it is, or maxGone are
// (compact), so that a session's end costs O(log n), not a walk of every
// session: a stop ends them all at once.
func (r *Registry) sessionEnded(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	heap.Push(&r.endedQ, s)
	r.reweigh(1 - liveWeight)
	for r.endedQ.Len() > r.cfg.EndedSessions {
		old := heap.Pop(&r.endedQ).(*Session)
		r.visits++
		r.forget(old)
		old.gone = true
		r.gone++
		r.reweigh(-1)
	}
	if r.gone > len(r.sessions)/2 || r.gone >= maxGone {
		r.compact()
	}
}

// maxGone bounds the forgotten sessions r.sessions holds, with their
// closed streams, where nothing reads the registry (a snapshot or an
// evaluation compacts it): a program that taps its conns into a registry
// it reads rarely would otherwise hold up to as many as it tracks, 2 000
// sessions and 16 MB in a review's test. A compaction walks every tracked
// session, once per maxGone forgotten: 10 pointer checks a session ended
// among 10 000.
const maxGone = 1024

// compact takes the forgotten sessions out of r.sessions. r.mu is held.
func (r *Registry) compact() {
	if r.gone == 0 {
		return
	}
	r.visits += uint64(len(r.sessions))
	kept := r.sessions[:0]
	for _, s := range r.sessions {
		if !s.gone {
			kept = append(kept, s)
		}
	}
	clear(r.sessions[len(kept):])
	r.sessions = kept
	r.gone = 0
}

// tracked appends the tracked sessions, in id order, to dst: the
// registry's sessions bar the forgotten ones. r.mu is held.
func (r *Registry) tracked(dst []*Session) []*Session {
	r.compact()
	return append(dst, r.sessions...)
}

// endedHeap is a min-heap of ended sessions by id (container/heap).
type endedHeap []*Session

// Len is heap.Interface's: how many sessions h holds.
func (h endedHeap) Len() int { return len(h) }

// Less is heap.Interface's: the lower id first.
func (h endedHeap) Less(i, j int) bool { return h[i].id < h[j].id }

// Swap is heap.Interface's.
func (h endedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push is heap.Interface's: x is a *Session.
func (h *endedHeap) Push(x any) { *h = append(*h, x.(*Session)) }

// Pop is heap.Interface's: it takes the last session out, leaving no
// pointer to it behind.
func (h *endedHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

// forget folds an ended session into r.forgotten. r.mu is held.
func (r *Registry) forget(s *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.forgotten.Sessions++
	r.forgotten.Streams += s.total()
	r.forgotten.EndedStreams += s.endedStreams // as the session's StreamsEnded said
	r.forgotten.Counts.add(&s.counts)
	r.forgotten.Anomalies += s.anomalyCount
	r.forgotten.Violations += uint64(s.framingCount())
	for a, n := range s.anomalyBy {
		r.forgotten.AnomaliesBy[a] += n
		if s.proto == Yamux {
			r.forgotten.YamuxAnomaliesBy[a] += n
		}
	}
	for _, f := range s.framing {
		if f == nil {
			continue
		}
		if k := f.NotMux(); k != wirekind.Unknown {
			r.forgotten.NotMux++
			r.forgotten.NotMuxBy[k]++
			continue // not a mux's violation: not by a mux's code
		}
		switch {
		case f.Proto == Yamux:
			if int(f.YamuxCode) < yamux.NumCodes {
				r.forgotten.YamuxViolationsBy[f.YamuxCode]++
			}
		case int(f.Code) < decoder.NumCodes:
			r.forgotten.ViolationsBy[f.Code]++
		}
	}
	if y := s.y; y != nil {
		addGoAways(&r.forgotten.GoAwaysBy, &y.goAwayBy)
		r.forgotten.PingRTT.add(&y.rtt)
	}
	if int(s.reason) < NumCloseReasons {
		r.forgotten.EndedBy[s.reason]++
	}
	r.forgotten.Latency.add(&s.w.latency)
	r.forgotten.latency.add(&s.w.latency)
	// Unparsed as SessionSnap has it: the prefix and the bytes skipped
	// to a frame boundary are wire bytes that no frame counts too.
	u := s.unframed()
	for d := range 2 {
		r.forgotten.Unparsed[d] += u[d]
		r.forgotten.Unsent[d] += s.unsent[d]
		r.forgotten.Lost[d] += s.lost[d]
		r.forgotten.Skipped[d] += s.skipped[d]
	}
	if s.incomplete {
		r.forgotten.Incomplete++
	}
	if s.unseen != [2]bool{} {
		r.forgotten.OneWay++
	}
	s.forgotten = true
}

// addGoAways adds o's GoAway counts to c.
func addGoAways(c, o *[2][NumGoAwayCodes]uint64) {
	for side := range c {
		for i := range c[side] {
			c[side][i] += o[side][i]
		}
	}
}

// lateFrame counts a frame that a forgotten session recorded: a tap ends a
// session when one direction fails, and the other may still deliver frames.
// opened is how many streams the frame opened. Without it Totals would lose
// those frames.
func (r *Registry) lateFrame(dir Dir, cmd decoder.Cmd, length uint32, opened uint64, a Anomaly) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := &r.forgotten
	f.Counts.count(dir, cmd, length)
	f.Streams += opened
	f.EndedStreams += opened // a stream opened after End ends with the session
	if a != 0 {
		f.Anomalies++
		if int(a) < NumAnomalies {
			f.AnomaliesBy[a]++
		}
	}
}

// lateViolation counts a framing violation of a forgotten session, f.
func (r *Registry) lateViolation(f *FramingInfo) {
	code := f.Code
	r.mu.Lock()
	r.forgotten.Violations++
	if k := f.NotMux(); k != wirekind.Unknown {
		r.forgotten.NotMux++
		r.forgotten.NotMuxBy[k]++
	} else if int(code) < decoder.NumCodes {
		r.forgotten.ViolationsBy[code]++
	}
	r.mu.Unlock()
}

// Snapshot returns an immutable picture of the whole state, every stream
// of every session included. Sessions that did not change since the
// previous Snapshot share their previous picture, so taking one at 10 Hz
// costs little when most sessions are idle.
func (r *Registry) Snapshot() *Snapshot { return r.SnapshotWith(SnapshotOptions{Latency: true}) }

// snapshotYield is how many sessions SnapshotWith pictures between two
// yields of its goroutine's P. A snapshot of 8 000 sessions takes 4-9 ms
// of CPU, which a goroutine holds until the scheduler preempts it (10 ms):
// on a busy or single P the taps' goroutines, the proxy's that a UI runs
// beside, waited behind it (BenchmarkTappedLatency in tui, one CPU: p99
// 5-10 ms with the UI's reads, 0.4-3 ms without).
const snapshotYield = 256

// SnapshotWith returns an immutable picture of the state, with the streams
// of the sessions o selects only.
func (r *Registry) SnapshotWith(o SnapshotOptions) *Snapshot {
	now := o.Now
	if now.IsZero() {
		now = r.Now()
	}
	var cutoff time.Time
	if o.LeakAfter > 0 {
		cutoff = now.Add(-o.LeakAfter)
	}
	stallAfter := o.StallAfter
	if stallAfter <= 0 {
		stallAfter = DefaultStallAfter
	}
	r.mu.Lock()
	sessions := r.tracked(make([]*Session, 0, len(r.sessions)))
	snap := &Snapshot{At: now, Started: r.started, Forgotten: r.forgotten, Notices: slices.Clone(r.notices), StallAfter: stallAfter}
	r.mu.Unlock()
	// The findings, with every session's leak count and marks from the
	// same evaluation (leakmarks.go).
	v := r.eng.findings()
	snap.Evaluated = v.evaluatedAt() // the view's own: its findings' and leaks' instant
	leaks := v.leaks
	if !cutoff.IsZero() && !snap.Evaluated.IsZero() && snap.Evaluated.Before(now) {
		// Aged is counted at the evaluation's time, as Leaks is: counted
		// at the snapshot's, up to an evaluation later, it held the
		// streams that crossed the cutoff since, which no finding had
		// looked at, and a summary's "in all" read them as streams
		// other findings explain (2232 beside 2216 at 200 streams/s).
		cutoff = snap.Evaluated.Add(-o.LeakAfter)
	}

	snap.Sessions = make([]*SessionSnap, len(sessions))
	snap.Totals = snap.Forgotten.Counts
	snap.Violations = snap.Forgotten.Violations
	snap.NotMux, snap.NotMuxBy = snap.Forgotten.NotMux, snap.Forgotten.NotMuxBy
	snap.Anomalies = snap.Forgotten.Anomalies
	snap.StreamsTotal = snap.Forgotten.Streams
	snap.EndedBy = snap.Forgotten.EndedBy
	snap.ViolationsBy = snap.Forgotten.ViolationsBy
	snap.AnomaliesBy = snap.Forgotten.AnomaliesBy
	snap.YamuxViolationsBy = snap.Forgotten.YamuxViolationsBy
	snap.YamuxAnomaliesBy = snap.Forgotten.YamuxAnomaliesBy
	snap.GoAwaysBy = snap.Forgotten.GoAwaysBy
	snap.Unparsed, snap.Unsent = snap.Forgotten.Unparsed, snap.Forgotten.Unsent
	snap.Lost, snap.Skipped = snap.Forgotten.Lost, snap.Forgotten.Skipped
	snap.Incomplete = snap.Forgotten.Incomplete
	snap.OneWay = snap.Forgotten.OneWay
	for i, s := range sessions {
		if i%snapshotYield == snapshotYield-1 {
			// Between sessions, no lock held: the goroutines of the
			// sessions it watches run, not behind the whole snapshot.
			runtime.Gosched()
		}
		var l sessionLeaks
		for len(leaks) > 0 && leaks[0].session <= s.id {
			if leaks[0].session == s.id {
				l = leaks[0]
			}
			leaks = leaks[1:]
		}
		ss := s.snapshot(o.Streams == nil || o.Streams(s.id), cutoff, now, stallAfter, l.n, l.marks)
		snap.Sessions[i] = ss
		snap.Aged += ss.Aged
		snap.Setup += ss.Setup
		snap.Aside += ss.Aside
		snap.Stalls += ss.Stalls
		snap.Totals.add(&ss.Counts)
		snap.OpenStreams += ss.Open
		snap.StreamsTotal += ss.Total
		snap.Violations += uint64(len(ss.Framing))
		snap.Anomalies += ss.AnomalyCount
		yamuxSession := ss.Proto == Yamux
		for a, n := range ss.AnomaliesBy {
			snap.AnomaliesBy[a] += n
			if yamuxSession {
				snap.YamuxAnomaliesBy[a] += n
			}
		}
		if yamuxSession {
			addGoAways(&snap.GoAwaysBy, &ss.GoAwaysBy)
		}
		for _, f := range ss.Framing {
			if k := f.NotMux(); k != wirekind.Unknown {
				snap.NotMux++
				snap.NotMuxBy[k]++
				continue // not a mux's violation: not by a mux's code
			}
			switch {
			case f.Proto == Yamux:
				if int(f.YamuxCode) < yamux.NumCodes {
					snap.YamuxViolationsBy[f.YamuxCode]++
				}
			case int(f.Code) < decoder.NumCodes:
				snap.ViolationsBy[f.Code]++
			}
		}
		if ss.Ended {
			if int(ss.Reason) < NumCloseReasons {
				snap.EndedBy[ss.Reason]++
			}
		} else {
			snap.LiveSessions++
			if !ss.OldestOpen.IsZero() && (snap.OldestOpen.IsZero() || ss.OldestOpen.Before(snap.OldestOpen)) {
				snap.OldestOpen = ss.OldestOpen
			}
		}
		if ss.Incomplete {
			snap.Incomplete++
		}
		if ss.Unseen != [2]bool{} {
			snap.OneWay++
		}
		for d := range 2 {
			snap.Unparsed[d] += ss.Unparsed[d]
			snap.Unsent[d] += ss.Unsent[d]
			snap.Lost[d] += ss.Lost[d]
			snap.Skipped[d] += ss.Skipped[d]
		}
	}
	snap.History = r.hist.stats()
	r.snapshotFindings(snap, v, sessions, o.Latency) // findings.go
	return snap
}

// Session returns the tracked session with id, or nil.
func (r *Registry) Session(id uint64) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := slices.BinarySearchFunc(r.sessions, id, func(s *Session, id uint64) int { return cmp.Compare(s.id, id) }); ok && !r.sessions[i].gone {
		return r.sessions[i]
	}
	return nil
}

// TLSUnder reports whether transport, as SessionInfo.Transport names it,
// is TLS, and the transport of the conn its TLS runs over: "" (TCP) for
// "tls", "unix" for "tls+unix".
func TLSUnder(transport string) (under string, ok bool) {
	if transport == "tls" {
		return "", true
	}
	return strings.CutPrefix(transport, "tls+")
}
