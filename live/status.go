package live

import (
	"fmt"
	"time"
)

// DefaultLeakAfter is how long a stream must stay open or half-closed,
// and idle since its latest frame, before it counts as a suspected leak
// (LEAK; SnapshotOptions.LeakAfter).
const DefaultLeakAfter = 30 * time.Second

// Status is the watched system's own figures, such as the demo's load
// generator's: named values, the most important first. Every front end
// shows them: the UI and plain output as "label value" pairs, JSON as an
// object of the keys.
type Status []StatusField

// StatusField is one figure of a Status.
type StatusField struct {
	// Key names the figure in JSON: "rate", "ok", "p99_seconds".
	Key string
	// Label names it for a person, before its value: "load", "ok", "p99".
	Label string
	// Value is a count (an int, int64 or uint64), a time.Duration, which
	// JSON gives in seconds, a time.Time, which JSON gives in RFC 3339
	// (ns) and a person reads as DateTimeLayout, or a string.
	Value any
	// Unit follows a count for a person, such as "/s".
	Unit string
}

// Upstream is how a proxy's connections to its upstream went (attach):
// one per client. The summaries say it when some failed: the sessions
// they end say only that each ended.
type Upstream struct {
	// Addr is the upstream's address; "" when there is no upstream.
	Addr string
	// Dials counts the connections tried, those a shutdown cut short
	// left out; Failed those of them that failed: Refused those the
	// upstream refused, TimedOut those it did not answer in time, and
	// the rest other failures.
	Dials, Failed, Refused, TimedOut uint64
	// Last is the last failure's cause: "connection refused".
	Last string
	// Accept is how the proxy's accepting of its clients went.
	Accept AcceptStall
}

// AcceptStall is how a proxy's accepting of its clients failed, if it
// did: while it fails, clients wait in the kernel's accept queue, their
// connections made but served by nobody, and many give up.
type AcceptStall struct {
	// Failed counts the accepts that failed (each retried after a back
	// off); Stalls the stalls they made, each from a failed accept to
	// the next one that succeeded (or a held client's dial, see Held); Stalled is how long the stalls lasted,
	// the one going on counted up to now.
	Failed, Stalls uint64
	Stalled        time.Duration
	// Held counts, of the failures, the clients accepted whose dial of
	// the upstream then lacked a descriptor: each is held, not closed,
	// and its dial tried again until it goes through. Failed counts
	// each of those tries too.
	Held uint64
	// Last is the last failure's cause: "too many open files".
	Last string
	// FDLimit is the process's limit on open file descriptors (the soft
	// RLIMIT_NOFILE, which Go raises to the hard one at start on Linux)
	// when the last failure was for want of descriptors (EMFILE); 0
	// otherwise.
	FDLimit uint64
}

// Advice says, where accepts failed for want of file descriptors
// (FDLimit set), the limit and how to raise it, each proxied session
// taking two; "" otherwise.
func (a AcceptStall) Advice() string {
	if a.FDLimit == 0 {
		return ""
	}
	return fmt.Sprintf("the open-file limit is %d (ulimit -n); each proxied session takes 2 file descriptors, its client's and its upstream's: raise the hard limit, ulimit -Hn or systemd's LimitNOFILE=, and start attach again; muxtop raises its soft limit to the hard one itself", a.FDLimit)
}
