package live

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"time"
)

// SESSION_LEAK: a client that dials a new session (per request, per
// batch, per reconnect attempt) and never closes the one it replaces.
// Its abandoned sessions live on, idle (in smux while keepalive runs at
// both ends or at neither, a NOP being no echo; in yamux whatever the
// keepalive, a live peer answering pings): memory and goroutines grow
// with them. What tells such a leak
// from a pool of idle sessions is growth: a leak keeps adding sessions,
// a pool (fixed, rotated, redialed after a restart, dialed together)
// stops at its size.
//
// The rule, per group of live sessions of one client host (its IP, not
// its port) and one server endpoint, with T = idleAfter
// (SessionIdleAfter, or LeakAfter where shorter):
//   - a session is idle when its client has not used it for T: no
//     stream opened (a SYN, either side) and the client sent no data,
//     FIN or RST; open streams or not, as a request's stream left open
//     leaks with its session. Window updates, keepalives and the
//     server's data and FINs are no use of the client's: a subscription
//     the client abandoned still receives its pushes (and its mux,
//     reading them, sends window updates);
//   - a session is in use, as a pool's member, and cleared for good,
//     once a stream opens on it (a SYN, either side) T or more after it
//     started; frames on older streams (a late answer, a late FIN, a
//     RST, a push) do not clear it;
//   - a session that ended or can be reused no more, and was no suspect
//     (cleared, filling a vacancy, or not dialed while an older one sat
//     idle) or was closed by its client first (a client that closes each
//     session once done with it, however long it sat idle before, let it
//     go: that is no leak), leaves a vacancy: the next session dialed
//     fills it and is no suspect, as a rotated or reconnected pool's
//     members are; the group's vacancies lapse a hold after the latest;
//   - a session is piled when it filled no vacancy, opened while an
//     older live session of its group had been idle T or more (that one
//     could have been reused, and was not), is idle now and not cleared;
//     piled sessions dialed less than T/10 after the latest one counted
//     count as one (a pool dialed together is one dial);
//   - SESSION_LEAK opens once a group has had SessionLeak piled sessions
//     or more, live, through SessionLeakHold (12 T by default), and
//     holds down to 80 % of SessionLeak, rounded up, and at least one
//     below it (sessionLeakLow). It resolves when fewer remain: they
//     ended, closed at one end, or were used again.
//
// The count is of the sessions piled now, not of those that piled in a
// window: a slow leak opens it once enough pile up, and one that stopped
// growing holds while its sessions live. The hold keeps out a pool
// redialed lazily, one member at each turn: the members dialed after the
// first pile until their next turn, and are then cleared. Its price: a
// leak whose sessions each open a stream T or more after their dial, a
// leak spread over servers (each group counts its own), and a leak of
// sessions with no server address (a net.Pipe's) are missed; client
// processes behind one address (a NAT) that connect one after another,
// more than T/10 apart and into no vacancy, and sit idle pile as a leak
// does, as does a pool whose members wait longer than the hold between
// uses, redialed lazily one by one, and as do workers that each sit idle
// on a session longer than the hold (a long poll of minutes) before they
// close it, dialing one by one beside each other's idle sessions: the
// first round piles until the closes empty it. The README says what to
// check.
//
// The cost: a client's frame on a stream stores its time (usedAt; a SYN's,
// openedAt: watch.go); each evaluation notes each live session into its
// group through a pointer (no sort, no map lookup but at a session's
// first), and goes through the groups. With SessionLeak off, nothing is
// noted.

// sessionGroup is a group of sessions SESSION_LEAK judges together.
type sessionGroup struct {
	host, server string
}

// pileGroup is a group's state: its counts at the latest evaluation
// that noted one of its sessions, and its finding.
type pileGroup struct {
	key   sessionGroup
	evals uint64 // the evaluation the counts below are of
	dead  bool   // dropped: its sessions find their group again

	minUsed int64 // the earliest latest use (Unix ns) of its live sessions
	idle    uint64
	oldest  time.Duration // the oldest idle session's idle time
	piled   uint64
	holding uint64 // of the piled sessions (all), those with a stream open
	since   int64  // the oldest piled session's start
	protos  [2]uint64
	// prevAll is the all count of the evaluation before; kept those
	// still piled, reused those used again (or busy) since.
	prevAll, kept, reused uint64
	transport             string // a noted session's SessionInfo.Transport

	// live is the group's live sessions noted; all of them piled, of
	// which piled counts those dialed apart (lastAt: the latest counted
	// one's start); closed those piled before that one end closed, or
	// whose framing broke, since the evaluation before.
	live, all, closed uint64
	lastAt            int64

	// vacant is how many of the group's sessions that were no suspects
	// (not piled-to-be: dialed into a vacancy, or used again) ended
	// since, the latest at vacantAt, and have not been replaced: the
	// next sessions dialed fill their places and pile not.
	vacant   uint64
	vacantAt int64

	overSince int64 // since when (Unix ns) piled has been at the threshold or above, 0 if not
	leak      *groupLeak
}

// pilePhase is a session's state for SESSION_LEAK: the engine's own,
// under the session's lock (engineSession.pile).
type pilePhase struct {
	g      *pileGroup
	judged bool // whether cand was decided, at the first evaluation that noted it
	cand   bool // it opened while an older live session of its group had been idle T or more
	reused bool // a stream opened T or more after the session started: a pool's member
	piled  bool // at the latest evaluation
	gone   bool // it ended, or can be reused no more, and was counted so
}

// freshUse is a session noted for the first time, judged once its
// group's sessions are all noted.
type freshUse struct {
	p     *pilePhase
	start int64
	idle  bool
	open  bool
}

// groupLeak is an open SESSION_LEAK finding and what its latest record
// told.
type groupLeak struct {
	f    *Finding
	told told
	// ended, closed and reused: the sessions piled once it opened that
	// ended, that one end closed (or whose framing broke), and that were
	// used again.
	ended, closed, reused uint64
}

// hostOf returns the host of address addr ("10.0.0.7:51234" gives
// "10.0.0.7"), or addr where it has no port (a unix socket's path, "").
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// idleAfter is how long a session must see no stream frame to be idle
// for SESSION_LEAK.
func idleAfter(cfg *FindingsConfig) time.Duration {
	return min(cfg.LeakAfter, SessionIdleAfter)
}

// noteUse notes live session s into its group's counts. Sessions a
// capture holds in part (it joined them, or lost bytes, or saw one
// direction only) are left out: their streams are not known; so are
// sessions with no server address (a net.Pipe's: nothing tells which
// server they reach), and sessions that could not be reused: one whose
// framing broke (PROTOCOL, VERSION_MISMATCH: the mux reads no more of
// it), or one end of whose connection closed its side (CLOSE_WAIT's).
// s.mu is held; e.mu too.
func (e *engine) noteUse(s *Session, ns int64, cfg *FindingsConfig) {
	if cfg.SessionLeak <= 0 {
		return
	}
	p := &s.w.eng.pile
	if s.ended || s.incomplete || s.unseen != [2]bool{} || s.framing != [2]*FramingInfo{} || s.dirEnded != [2]bool{} || s.info.Server == "" {
		e.pileGone(s, p, ns)
		return
	}
	g := p.g
	if g == nil || g.dead {
		g = e.pileGroupOf(sessionGroup{hostOf(s.info.Client), s.info.Server})
		*p = pilePhase{g: g}
	}
	g.now(e.evals)
	g.live++
	if g.transport == "" {
		g.transport = s.info.Transport
	}
	start := s.start.UnixNano()
	used := max(start, s.w.usedAt)
	if g.minUsed == 0 || used < g.minUsed {
		g.minUsed = used
	}
	if s.proto < ProtocolUnknown {
		g.protos[s.proto]++
	}
	t := int64(idleAfter(cfg))
	idle := ns-used >= t
	if idle {
		g.idle++
		g.oldest = max(g.oldest, time.Duration(ns-used))
	}
	// A stream opened (a SYN, by either side) T or more after the
	// session started: it is in use, as a pool's member is. Frames on
	// older streams (a late answer, a late FIN, a RST, a push) are not.
	if !p.reused && s.w.openedAt-start >= t {
		p.reused = true
	}
	if !p.judged {
		e.fresh = append(e.fresh, freshUse{p, start, idle, s.open > 0})
		return
	}
	was := p.piled
	p.piled = p.cand && !p.reused && idle
	switch {
	case p.piled:
		g.pile(start, s.open > 0, t/pileApart)
		if was {
			g.kept++
		}
	case was:
		g.reused++
	}
}

// pileApart: sessions dialed less than T/pileApart after the latest one
// counted count as one: a pool dialed together is one dial.
const pileApart = 10

// pileGone counts session s out of its group once it ended or can be
// reused no more: a piled one as ended or closed, and one that was no
// suspect (not dialed while an older one sat idle, or used again), or
// whose client closed it first, as a vacancy, whose replacement, the next session dialed, fills it and
// piles not. s.mu is held; e.mu too.
func (e *engine) pileGone(s *Session, p *pilePhase, ns int64) {
	g := p.g
	if g == nil || g.dead || p.gone || !p.judged {
		return
	}
	p.gone = true
	g.now(e.evals)
	if p.piled && !s.ended {
		g.closed++
	}
	if !p.cand || p.reused || clientClosed(s) {
		g.vacant++
		g.vacantAt = ns
	}
}

// clientClosed reports whether s's client closed its side first (or
// alone): the client let the session go, as one that closes each session
// once done with it does, and its next dial replaces it. s.mu is held.
func clientClosed(s *Session) bool {
	c, at := s.dirEnded, s.dirEndedAt
	return c[ClientToServer] && (!c[ServerToClient] || at[ClientToServer] <= at[ServerToClient])
}

// now makes g's counts those of evaluation evals, zero if they were of
// an earlier one.
func (g *pileGroup) now(evals uint64) {
	if g.evals != evals {
		*g = pileGroup{key: g.key, evals: evals, prevAll: g.all, vacant: g.vacant, vacantAt: g.vacantAt, overSince: g.overSince, leak: g.leak}
	}
}

// pile counts a piled session that started at start, as one more where
// it started apart or more after the latest one counted.
func (g *pileGroup) pile(start int64, open bool, apart int64) {
	g.all++
	if open {
		g.holding++
	}
	if g.lastAt != 0 && start >= g.lastAt && start-g.lastAt < apart {
		return
	}
	g.lastAt = start
	g.piled++
	if g.since == 0 || start < g.since {
		g.since = start
	}
}

// tally adds the piled sessions of the evaluation before that are piled
// no more to l's counts: used again, closed at one end, ended.
func (g *pileGroup) tally(l *groupLeak) {
	l.reused += g.reused
	l.closed += g.closed
	if n := g.kept + g.reused + g.closed; g.prevAll > n {
		l.ended += g.prevAll - n
	}
}

// pileGroupOf returns group k's state, made if new. e.mu is held.
func (e *engine) pileGroupOf(k sessionGroup) *pileGroup {
	if g := e.pileByKey[k]; g != nil {
		return g
	}
	if e.pileByKey == nil {
		e.pileByKey = map[sessionGroup]*pileGroup{}
	}
	g := &pileGroup{key: k}
	e.pileByKey[k] = g
	e.pileGroups = append(e.pileGroups, g)
	return g
}

// proto is the protocol most of the group's sessions whose protocol is
// known speak: smux where none is known.
func (g *pileGroup) proto() Protocol {
	if g.protos[Yamux] > g.protos[Smux] {
		return Yamux
	}
	return Smux
}

// evalSessionLeak judges the sessions noted for the first time, then
// opens, updates or resolves SESSION_LEAK, one finding per group. e.mu
// is held.
func (e *engine) evalSessionLeak(r *Registry, now time.Time, ns int64, cfg *FindingsConfig) {
	t := int64(idleAfter(cfg))
	hold := int64(cfg.SessionLeakHold)
	for i := range e.fresh {
		u := &e.fresh[i]
		p, g := u.p, u.p.g
		p.judged = true
		if g.vacant > 0 && ns-g.vacantAt < hold {
			g.vacant-- // it fills the place of one that ended
		} else {
			// An older session sat idle T or more before u started: its
			// latest use came T or more before (one that started after
			// u was used after it, so the one found is older).
			p.cand = g.minUsed <= u.start-t
		}
		if p.piled = p.cand && !p.reused && u.idle; p.piled {
			g.pile(u.start, u.open, t/pileApart)
		}
	}
	clear(e.fresh)
	e.fresh = e.fresh[:0]
	if cfg.SessionLeak <= 0 {
		e.dropPileGroups(r, now)
		return
	}
	low := sessionLeakLow(cfg.SessionLeak)
	resolved := e.pileResolved[:0]
	live := e.pileGroups[:0]
	for _, g := range e.pileGroups {
		if g.vacant > 0 && ns-g.vacantAt >= hold {
			g.vacant = 0
		}
		if g.evals != e.evals || g.live == 0 { // none of its sessions lives
			g.now(e.evals)
			if g.leak != nil {
				g.tally(g.leak)
				resolved = append(resolved, g)
			}
			if g.vacant > 0 { // kept for the sessions that fill them
				g.overSince = 0 // none piled now: a new pile holds anew
				live = append(live, g)
				continue
			}
			g.dead = true
			delete(e.pileByKey, g.key)
			continue
		}
		live = append(live, g)
		if l := g.leak; l != nil {
			g.tally(l)
			if g.piled < low {
				resolved = append(resolved, g)
				continue
			}
			ev := g.evidence(cfg)
			nf := l.f
			if cd := (candidate{code: CodeSessionLeak, ev: ev}); changed(l.f, &cd) || ev.PiledSessions != l.f.Evidence.PiledSessions || g.proto() != l.f.Proto {
				nf = sessionLeakFinding(l.f.ID, ev, g.proto(), 0, l.f.Opened)
				nf.Since = l.f.Since
			}
			tell, _ := l.told.again(nf.Evidence.Piled, 0, nf.Severity, 0, ns)
			if nf.Proto != l.f.Proto { // told at once, as again tells a new severity
				tell, l.told = true, told{nf.Evidence.Piled, nf.Severity, ns, 0, 0}
			}
			if tell || nf != l.f {
				e.apply(r, change{old: l.f, new: nf, tell: tell}, now, "")
			}
			l.f = nf
			continue
		}
		if g.piled < uint64(cfg.SessionLeak) {
			g.overSince = 0
			continue
		}
		if g.overSince == 0 {
			g.overSince = ns
		}
		if ns-g.overSince < hold {
			continue
		}
		e.nextID++
		f := sessionLeakFinding(e.nextID, g.evidence(cfg), g.proto(), g.since, now)
		g.leak = &groupLeak{f: f, told: told{g.piled, f.Severity, ns, 0, 0}}
		e.apply(r, change{new: f}, now, "")
	}
	clear(e.pileGroups[len(live):])
	e.pileGroups = live
	slices.SortFunc(resolved, func(a, b *pileGroup) int { return cmp.Compare(a.leak.f.ID, b.leak.f.ID) })
	for _, g := range resolved {
		l := g.leak
		g.leak, g.overSince = nil, 0
		// The record carries this evaluation's counts, which its why
		// states.
		f := sessionLeakFinding(l.f.ID, g.evidence(cfg), l.f.Proto, 0, l.f.Opened)
		f.Since = l.f.Since
		f.Text = sessionLeakResolvedText(f)
		e.apply(r, change{old: f}, now, sessionLeakWhy(l, g, cfg))
	}
	clear(resolved)
	e.pileResolved = resolved[:0]
}

// dropPileGroups resolves every open SESSION_LEAK, turned off, and
// forgets the groups. e.mu is held.
func (e *engine) dropPileGroups(r *Registry, now time.Time) {
	if len(e.pileGroups) == 0 {
		return
	}
	var open []*groupLeak
	for _, g := range e.pileGroups {
		g.dead = true
		if g.leak != nil {
			open = append(open, g.leak)
		}
	}
	clear(e.pileGroups)
	e.pileGroups, e.pileByKey = e.pileGroups[:0], nil
	slices.SortFunc(open, func(a, b *groupLeak) int { return cmp.Compare(a.f.ID, b.f.ID) })
	for _, l := range open {
		e.apply(r, change{old: l.f}, now, "SESSION_LEAK was turned off")
	}
}

// evidence is the group's finding's evidence.
func (g *pileGroup) evidence(cfg *FindingsConfig) Evidence {
	return Evidence{Count: g.idle, Piled: g.piled, PiledSessions: g.all, Streams: g.holding, Idle: g.oldest, Limit: cfg.SessionLeakHold, ClientHost: g.key.host, ServerAddr: g.key.server, Transport: g.transport}
}

// sessionLeakWhy says why group g's SESSION_LEAK l resolved.
func sessionLeakWhy(l *groupLeak, g *pileGroup, cfg *FindingsConfig) string {
	where := groupWhere(l.f)
	counts := fmt.Sprintf("%d ended, %d closed at one end, %d used again", l.ended, l.closed, l.reused)
	if g.live == 0 {
		return fmt.Sprintf("the piled-up sessions %s ended, closed or are in use again: none of the group's sessions is live and whole (%s)", where, counts)
	}
	return fmt.Sprintf("the piled-up sessions %s ended, closed or are in use again: %s; %s still piled, fewer than %d, the least it holds at (the threshold is %d), %s idle",
		where, counts, plural(g.piled, "separate dial"), sessionLeakLow(cfg.SessionLeak), cfg.SessionLeak, plural(g.idle, "session"))
}

// sessionLeakLow is the least pile an open SESSION_LEAK of threshold n
// holds at: 80 % of n, rounded up, and at most n-1, so that it holds
// below the threshold whatever n (80 % of 3, rounded up, is 3), but 1
// at least (a pile of none holds nothing).
func sessionLeakLow(n int) uint64 {
	return max(min(churnLow(n), uint64(n-1)), 1)
}

// groupWhere names f's group: "from 10.0.0.7 to 10.0.0.1:9000".
func groupWhere(f *Finding) string {
	host, server := f.Evidence.ClientHost, f.Evidence.ServerAddr
	if host == "" {
		host = "the client (no address)"
	}
	if server == "" {
		server = "the server (no address)"
	}
	return "from " + host + " to " + server
}

func sessionLeakFinding(id uint64, ev Evidence, proto Protocol, since int64, opened time.Time) *Finding {
	f := &Finding{ID: id, Code: CodeSessionLeak, Severity: CodeSessionLeak.Severity(), Opened: opened, Evidence: ev, Proto: proto}
	if since != 0 {
		f.Since = time.Unix(0, since)
	}
	f.word()
	return f
}
