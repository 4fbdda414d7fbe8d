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
// Its abandoned sessions live on, idle, while keepalive runs at both
// ends: memory and goroutines grow with them.
//
// The rule, per group of live sessions of one client host (its IP, not
// its port) and one server endpoint: a session is idle when it has no
// stream open and has had none opened or closed for idleAfter
// (SessionIdleAfter, or LeakAfter where shorter); keepalive frames are
// no use. A session with no stream open now is piled when it opened
// while an older session of its group, still live, sat idle: one with no
// stream open, none opened or closed, since idleAfter or more before the
// newer one opened. That one could have been reused, and was not.
// SESSION_LEAK opens once SessionLeak sessions of a group piled within
// SessionLeakWindow, and holds down to 80 % of that (churnLow).
//
// A fleet of client processes behind one address, each with one idle
// session, started together, piles none (none was idle as the others
// opened); nor does a fixed pool however it is used, nor a client that
// dials again after its session ended (it is gone), nor a long-lived
// session. Processes behind one address (a NAT) that connect one after
// another, more than idleAfter apart, and stay idle pile as a leak does:
// the README says what to check.

// sessionGroup is a group of sessions SESSION_LEAK judges together.
type sessionGroup struct {
	host, server string
}

// sessionUse is a live session's use at an evaluation.
type sessionUse struct {
	g     sessionGroup
	proto Protocol
	start int64 // Unix ns
	// quiet is since when (Unix ns) the session has had no stream open
	// and none opened or closed; 0 while a stream is open.
	quiet int64
}

// groupLeak is an open SESSION_LEAK finding and what its latest record
// told.
type groupLeak struct {
	f    *Finding
	told told
	seen uint64 // the latest evaluation that found it holding
}

// hostOf returns the host of address addr ("10.0.0.7:51234" gives
// "10.0.0.7"), or addr where it has no port (a unix socket's path, "").
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// noteUse adds live session s's use to the evaluation's. Sessions a
// capture holds in part (it joined them, or lost bytes, or saw one
// direction only) are left out: their open streams are not known; so are
// sessions that could not be reused: one whose framing broke (PROTOCOL,
// VERSION_MISMATCH: the mux reads no more of it), or one end of whose
// connection closed its side (CLOSE_WAIT's). s.mu is held.
func (e *engine) noteUse(s *Session) {
	if s.ended || s.incomplete || s.unseen != [2]bool{} || s.framing != [2]*FramingInfo{} || s.dirEnded != [2]bool{} {
		return
	}
	u := sessionUse{g: sessionGroup{hostOf(s.info.Client), s.info.Server}, proto: s.proto, start: s.start.UnixNano()}
	if s.open == 0 {
		u.quiet = max(u.start, s.w.openedAt, s.w.emptyAt)
	}
	e.uses = append(e.uses, u)
}

// idleAfter is how long a session must be quiet to be idle for
// SESSION_LEAK.
func idleAfter(cfg *FindingsConfig) time.Duration {
	return min(cfg.LeakAfter, SessionIdleAfter)
}

// groupCount is what an evaluation finds of one group.
type groupCount struct {
	idle, piled, piledAll uint64
	proto                 Protocol      // the latest session's
	oldest                time.Duration // the oldest idle session's idle time
	since                 int64         // the first piled session's start, in the window
}

// countGroup counts the group of uses, sorted by start.
func countGroup(uses []sessionUse, ns int64, cfg *FindingsConfig) groupCount {
	var c groupCount
	gap := int64(idleAfter(cfg))
	var m int64 // the earliest quiet of the group's sessions with no stream open
	for _, u := range uses {
		c.proto = u.proto
		if u.quiet == 0 {
			continue
		}
		if m == 0 || u.quiet < m {
			m = u.quiet
		}
		if q := ns - u.quiet; q >= gap {
			c.idle++
			c.oldest = max(c.oldest, time.Duration(q))
		}
	}
	if m == 0 {
		return c
	}
	from := ns - int64(cfg.SessionLeakWindow)
	for _, u := range uses {
		// Quiet since m, the older session sat idle through u's start:
		// u's own quiet is at or after its start, so it is another.
		if u.quiet == 0 || u.start < m+gap {
			continue
		}
		c.piledAll++
		if u.start >= from {
			if c.piled++; c.since == 0 || u.start < c.since {
				c.since = u.start
			}
		}
	}
	return c
}

// evalSessionLeak opens, updates or resolves SESSION_LEAK, one finding
// per group. e.mu is held.
func (e *engine) evalSessionLeak(r *Registry, now time.Time, ns int64, cfg *FindingsConfig) {
	uses := e.uses
	defer func() { clear(uses); e.uses = uses[:0] }()
	if cfg.SessionLeak <= 0 && len(e.sleaks) == 0 {
		return
	}
	slices.SortFunc(uses, func(a, b sessionUse) int {
		return cmp.Or(cmp.Compare(a.g.host, b.g.host), cmp.Compare(a.g.server, b.g.server), cmp.Compare(a.start, b.start))
	})
	low := churnLow(cfg.SessionLeak)
	for i := 0; i < len(uses); {
		j := i + 1
		for j < len(uses) && uses[j].g == uses[i].g {
			j++
		}
		g := uses[i].g
		c := countGroup(uses[i:j], ns, cfg)
		i = j
		old := e.sleaks[g]
		if cfg.SessionLeak <= 0 || !(c.piled >= uint64(cfg.SessionLeak) || old != nil && c.piled >= low) {
			continue
		}
		ev := Evidence{Count: c.idle, Piled: c.piled, Idle: c.oldest, Limit: cfg.SessionLeakWindow, ClientHost: g.host, ServerAddr: g.server}
		if old == nil {
			if e.sleaks == nil {
				e.sleaks = map[sessionGroup]*groupLeak{}
			}
			e.nextID++
			f := sessionLeakFinding(e.nextID, ev, c.proto, c.since, now)
			e.sleaks[g] = &groupLeak{f, told{c.piled, f.Severity, ns, 0, 0}, e.evals}
			e.apply(r, change{new: f}, now, "")
			continue
		}
		nf := old.f
		if cd := (candidate{code: CodeSessionLeak, ev: ev}); changed(old.f, &cd) {
			nf = sessionLeakFinding(old.f.ID, ev, c.proto, 0, old.f.Opened)
			nf.Since = old.f.Since
		}
		if tell, _ := old.told.again(nf.Evidence.Piled, 0, nf.Severity, 0, ns); tell || nf != old.f {
			e.apply(r, change{old: old.f, new: nf, tell: tell}, now, "")
		}
		old.f, old.seen = nf, e.evals
	}
	// The groups whose finding no longer holds, in the order they opened.
	var gone []sessionGroup
	for g, l := range e.sleaks {
		if l.seen != e.evals {
			gone = append(gone, g)
		}
	}
	slices.SortFunc(gone, func(a, b sessionGroup) int { return cmp.Compare(e.sleaks[a].f.ID, e.sleaks[b].f.ID) })
	for _, g := range gone {
		old := e.sleaks[g]
		delete(e.sleaks, g)
		e.apply(r, change{old: old.f}, now, sessionLeakWhy(old.f, uses, g, ns, cfg))
	}
}

// sessionLeakWhy says why the SESSION_LEAK of group g resolved.
func sessionLeakWhy(f *Finding, uses []sessionUse, g sessionGroup, ns int64, cfg *FindingsConfig) string {
	if cfg.SessionLeak <= 0 {
		return "SESSION_LEAK was turned off"
	}
	i := slices.IndexFunc(uses, func(u sessionUse) bool { return u.g == g })
	var c groupCount
	if i >= 0 {
		j := i
		for j < len(uses) && uses[j].g == g {
			j++
		}
		c = countGroup(uses[i:j], ns, cfg)
	}
	where := groupWhere(f)
	low := churnLow(cfg.SessionLeak)
	if c.piledAll < low {
		return fmt.Sprintf("the piled-up sessions %s ended or are in use again: %d left idle", where, c.idle)
	}
	return fmt.Sprintf("fewer than %d sessions (80%% of the threshold, %d) %s piled up in the last %s: they stopped growing, and %s still idle",
		low, cfg.SessionLeak, where, fmtWindow(cfg.SessionLeakWindow), plural(c.idle, "session"))
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
