package live

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// Kind says what a history Record is about.
type Kind uint8

// The kinds of history records.
const (
	FrameRecord      Kind = iota // a decoded frame
	SessionOpened                // a tapped connection began
	SessionEnded                 // a tapped connection ended; Note says why
	FramingViolation             // a header smux refuses; Code and Offset say which and where
	NoticeRecord                 // a one-line message for the user, such as an upstream refusing
)

var kindNames = [...]string{"frame", "session-opened", "session-ended", "violation", "notice"}

// String returns the kind's name as used in JSON output.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Record is one entry of the history: a frame, or a session event.
type Record struct {
	// Seq numbers records in the order they entered history, from 1.
	Seq     uint64
	Kind    Kind
	Session uint64
	Dir     Dir
	At      time.Time
	// Offset is the frame's (or violation's) position in its direction's byte stream.
	Offset int64
	// Header is the frame's raw header, or the offending header of a violation.
	Header decoder.Header
	// Payload holds the first Snaplen payload bytes. In a Record returned by
	// Registry.Frames it is a copy the caller owns.
	Payload   []byte
	Truncated bool
	// Consumed and Window are a UPD frame's fields.
	Consumed, Window uint32
	// Anomaly marks a frame smux silently ignores or tolerates; 0 for none.
	Anomaly Anomaly
	// Code is a FramingViolation's code.
	Code decoder.Code
	// Note is text for session events and violations.
	Note string
}

// HistoryStats describes the history ring.
type HistoryStats struct {
	// Cap is how many records the ring holds at most.
	Cap int
	// First and Next bound the records held: seqs First..Next-1.
	First, Next uint64
	// Evicted counts records pushed out by newer ones.
	Evicted uint64
	// Dropped counts frame records that could not be stored because a
	// feeder holding the ring was descheduled; their frames still count.
	Dropped uint64
}

// Len returns how many records the ring holds.
func (h HistoryStats) Len() int { return int(h.Next - h.First) }

// A feeder tries for the ring spinTries times, then yields between
// yieldTries more tries, then drops the record: long enough to outlast
// another feeder's critical section or a reader's chunk (readChunk
// records), far shorter than any wait on a slow reader.
const (
	spinTries  = 100
	yieldTries = 100
	readChunk  = 128
)

// history is the bounded ring of records. Payload storage is one arena of
// cap*snaplen bytes, which the OS backs with memory only as it is written.
type history struct {
	mu      sync.Mutex
	slots   []Record
	arena   []byte
	snaplen int
	next    uint64 // seq of the next record; 1 for the first
	dropped atomic.Uint64
}

func newHistory(capacity, snaplen int) *history {
	return &history{
		slots:   make([]Record, capacity),
		arena:   make([]byte, capacity*snaplen),
		snaplen: snaplen,
		next:    1,
	}
}

// lockFrame takes the ring for a frame record, spinning briefly; it reports
// false (and counts a drop) when the ring stays busy.
func (h *history) lockFrame() bool {
	for range spinTries {
		if h.mu.TryLock() {
			return true
		}
	}
	for range yieldTries {
		runtime.Gosched()
		if h.mu.TryLock() {
			return true
		}
	}
	h.dropped.Add(1)
	return false
}

// addFrame stores a frame record; it never waits for a reader.
func (h *history) addFrame(sess uint64, dir Dir, at time.Time, f *decoder.Frame, a Anomaly) {
	if len(h.slots) == 0 {
		return
	}
	if !h.lockFrame() {
		return
	}
	i := int(h.next % uint64(len(h.slots)))
	r := &h.slots[i]
	r.Seq = h.next
	h.next++
	r.Kind = FrameRecord
	r.Session = sess
	r.Dir = dir
	r.At = at
	r.Offset = f.Offset
	r.Header = f.Header
	n := copy(h.arena[i*h.snaplen:(i+1)*h.snaplen], f.Payload)
	r.Payload = h.arena[i*h.snaplen : i*h.snaplen+n : i*h.snaplen+n]
	r.Truncated = f.Truncated || n < len(f.Payload)
	r.Consumed, r.Window = f.Consumed, f.Window
	r.Anomaly = a
	r.Code = 0
	r.Note = ""
	h.mu.Unlock()
}

// addEvent stores a session event or violation; these are rare and are
// never dropped.
func (h *history) addEvent(rec Record) {
	if len(h.slots) == 0 {
		return
	}
	h.mu.Lock()
	i := int(h.next % uint64(len(h.slots)))
	rec.Seq = h.next
	rec.Payload = nil
	h.next++
	h.slots[i] = rec
	h.mu.Unlock()
}

func (h *history) stats() HistoryStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statsLocked()
}

func (h *history) statsLocked() HistoryStats {
	s := HistoryStats{Cap: len(h.slots), Next: h.next, First: 1, Dropped: h.dropped.Load()}
	if n := uint64(len(h.slots)); h.next-1 > n {
		s.First = h.next - n
		s.Evicted = s.First - 1
	}
	return s
}

// DefaultScan is how many records one Frames call looks at when Query.Scan is 0.
const DefaultScan = 8192

// Query selects history records for Registry.Frames.
type Query struct {
	// From is the first seq to look at; evicted ones are skipped.
	From uint64
	// Max stops the read after this many matches; 0 means no limit.
	Max int
	// Scan stops the read after looking at this many records; 0 means DefaultScan.
	// It bounds how long the ring is held.
	Scan int
	// Match selects records; nil selects all. It runs while the ring is
	// locked: it must be quick and must not call the Registry.
	Match func(*Record) bool
}

// Frames appends copies of the records that q selects to dst, oldest first,
// and returns them with the seq to continue from. The copies' payloads are
// the caller's. When next equals Snapshot.History.Next the read has caught
// up. The ring is held for at most readChunk records at a time, so feeders
// never wait long on a reader.
func (r *Registry) Frames(q Query, dst []Record) (recs []Record, next uint64) {
	h := r.hist
	scan := q.Scan
	if scan <= 0 {
		scan = DefaultScan
	}
	start := len(dst)
	var buf []byte
	seq := q.From
	for scan > 0 && (q.Max <= 0 || len(dst)-start < q.Max) {
		h.mu.Lock()
		st := h.statsLocked()
		seq = max(seq, st.First)
		if seq >= st.Next {
			h.mu.Unlock()
			break
		}
		for chunk := readChunk; chunk > 0 && seq < st.Next && scan > 0; seq++ {
			if q.Max > 0 && len(dst)-start >= q.Max {
				break
			}
			chunk--
			scan--
			rec := &h.slots[int(seq%uint64(len(h.slots)))]
			if q.Match != nil && !q.Match(rec) {
				continue
			}
			dst = append(dst, *rec)
			if p := rec.Payload; len(p) > 0 {
				if cap(buf)-len(buf) < len(p) {
					buf = make([]byte, 0, max(4096, len(p)))
				}
				buf = append(buf, p...)
				dst[len(dst)-1].Payload = buf[len(buf)-len(p) : len(buf) : len(buf)]
			}
		}
		h.mu.Unlock()
	}
	return dst, seq
}
