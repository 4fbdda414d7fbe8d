package headless

import (
	"fmt"
	"strings"

	"github.com/muxtop/muxtop/live"
)

// Kinds is a set of the kinds of records plain and JSON output print
// (Options.Only, --only): the zero set prints every kind. Whatever it
// holds, the summary is printed, and so is a missed record where the
// output lost records. A record the set leaves out that the printer
// passes over is no loss, neither missed nor counted in
// muxtop_output_missed_records_total; but the history keeps no kind of a
// record it evicted, so a gap counts its records of every kind, perhaps
// none of those the set holds, and its missed record says so.
type Kinds uint8

// The kinds, each of one or more record types (the JSON "type").
const (
	KindFrames     Kinds = 1 << iota // frame
	KindSessions                     // session-opened, session-half-closed, session-ended
	KindViolations                   // violation
	KindResyncs                      // resync
	KindNotices                      // notice
	KindFindings                     // finding-opened, finding-updated, finding-resolved
	numKinds       = iota
)

// kindWords are the kinds' names, in the order of their bits.
var kindWords = [numKinds]string{"frames", "sessions", "violations", "resyncs", "notices", "findings"}

// KindNames lists the kinds' names, as ParseKinds takes them.
func KindNames() []string { return kindWords[:] }

// ParseKinds reads a comma-separated list of kind names (KindNames), such
// as "findings,notices,sessions". An empty list, an empty name (a stray
// comma), or a name that is no kind's, is an error that lists the names
// there are. A list of every kind is the zero set, as no list is: it
// leaves nothing out.
func ParseKinds(s string) (Kinds, error) {
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("%q: give one or more of %s, joined by commas", s, kindList())
	}
	var k Kinds
	for word := range strings.SplitSeq(s, ",") {
		word = strings.TrimSpace(word)
		i := 0
		for i < numKinds && kindWords[i] != word {
			i++
		}
		if i == numKinds {
			if word == "" {
				return 0, fmt.Errorf("%q has an empty name (a stray comma): use %s, joined by commas", s, kindList())
			}
			return 0, fmt.Errorf("%q is not a kind of record: use %s, joined by commas", word, kindList())
		}
		k |= 1 << i
	}
	if k == 1<<numKinds-1 {
		return 0, nil
	}
	return k, nil
}

// kindList is "frames, sessions, …, notices or findings".
func kindList() string {
	return strings.Join(kindWords[:numKinds-1], ", ") + " or " + kindWords[numKinds-1]
}

// String returns the set's names joined by commas, "" for the zero set.
func (k Kinds) String() string {
	var names []string
	for i, w := range kindWords {
		if k&(1<<i) != 0 {
			names = append(names, w)
		}
	}
	return strings.Join(names, ",")
}

// kindOf is the kind a history record of kind r belongs to; 0 for none
// (a kind of record this list does not know yet).
func kindOf(r live.Kind) Kinds {
	switch r {
	case live.FrameRecord:
		return KindFrames
	case live.SessionOpened, live.SessionHalfClosed, live.SessionEnded:
		return KindSessions
	case live.FramingViolation:
		return KindViolations
	case live.ResyncRecord:
		return KindResyncs
	case live.NoticeRecord:
		return KindNotices
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		return KindFindings
	}
	return 0
}

// Has says whether the set prints a record of kind r: the zero set prints
// every one.
func (k Kinds) Has(r live.Kind) bool { return k == 0 || k&kindOf(r) != 0 }
