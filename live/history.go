package live

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// Kind says what a history Record is about.
type Kind uint8

// The kinds of history records.
const (
	FrameRecord      Kind = iota // a decoded frame
	SessionOpened                // a tapped connection began
	SessionEnded                 // a tapped connection ended; Reason and Detail say why
	FramingViolation             // a header smux refuses; Code and Offset say which and where
	NoticeRecord                 // a one-line message for the user, such as an upstream refusing
	FindingOpened                // the findings engine diagnosed a problem; Finding says which
	FindingResolved              // a finding stopped holding; Finding as it was last, Detail why
	// ResyncRecord says that a direction's decoding did not follow every
	// byte: a capture joined the connection mid-stream or lost bytes, and
	// the decoder skipped to a frame boundary; Offset is where decoding
	// resumed (or the bytes ended), Detail says what was skipped and lost.
	ResyncRecord
	// FindingUpdated says that an open finding's count or severity
	// changed since its latest record (FindingOpened or FindingUpdated);
	// Finding is the finding as it is now, and Was its severity before
	// where that changed. The engine tells a finding's count again at
	// most once per UpdateEvery, and never when it is what it last told;
	// a change of severity at once.
	FindingUpdated
	// SessionHalfClosed says that one end closed its side of a live
	// session's connection (its FIN) while the other's stays open: Dir is
	// the direction that ended, Detail names its sender. The session
	// lasts as long as the connection: its end is a SessionEnded record.
	SessionHalfClosed
)

var kindNames = [...]string{"frame", "session-opened", "session-ended", "violation", "notice", "finding-opened", "finding-resolved", "resync", "finding-updated", "session-half-closed"}

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
	// Lost is how many of a frame's payload bytes the capture lost
	// (decoder.Frame.Lost): the frame is counted whole, its Payload holds
	// only bytes that came before the loss.
	Lost int64
	// Consumed and Window are a UPD frame's fields.
	Consumed, Window uint32
	// Anomaly marks a frame smux silently ignores or tolerates; 0 for none.
	Anomaly Anomaly
	// Code is a FramingViolation's code.
	Code decoder.Code
	// Want is, for a violation of the version rules (VERSION_CHANGED,
	// VERSION_MISMATCH), the version the receiving end speaks; the
	// offending version is in Header.
	Want uint8

	// Client, Server, Label, Transport and Tap describe a SessionOpened
	// session, as SessionInfo does; a SessionHalfClosed record's Transport
	// is the conn its words name (HalfClosedName).
	Client, Server, Label, Transport string
	Tap                              Side
	// Reason says why a SessionEnded session ended.
	Reason CloseReason
	// Detail says more, as plain text: the error that ended a session, what
	// a violation found wrong, a notice's message, why a finding resolved.
	Detail string
	// Finding is a FindingOpened, FindingUpdated or FindingResolved
	// record's finding; it is immutable and shared.
	Finding *Finding
	// Was is, in a FindingUpdated record that tells a change of the
	// finding's severity, the severity its previous record told; 0
	// otherwise.
	Was Severity

	// Proto is the protocol of a frame or violation record: for Yamux,
	// YamuxHeader holds the frame's (or offending) header, YamuxCode a
	// violation's code, and Header, Code, Consumed and Window are zero.
	Proto       Protocol
	YamuxHeader yamux.Header
	YamuxCode   yamux.Code
}

// StreamID returns the stream id in the record's header, whichever its protocol.
func (r *Record) StreamID() uint32 {
	if r.Proto == Yamux {
		return r.YamuxHeader.StreamID()
	}
	return r.Header.StreamID()
}

// PayloadLength returns how many payload bytes the record's frame
// carried on the wire, whichever its protocol.
func (r *Record) PayloadLength() uint32 {
	if r.Proto == Yamux {
		return r.YamuxHeader.PayloadLength()
	}
	return uint32(r.Header.Length())
}

// EndText says why a SessionEnded record's session ended, for a person:
// the reason, then the detail after a colon when there is one.
func (r *Record) EndText() string {
	if r.Detail == "" {
		return r.Reason.String()
	}
	return r.Reason.String() + ": " + r.Detail
}

// HistoryStats describes the history ring.
type HistoryStats struct {
	// Cap is how many records the ring holds at most.
	Cap int
	// First and Next bound the records held: seqs First..Next-1.
	First, Next uint64
	// Evicted counts records pushed out by newer ones.
	Evicted uint64
	// Dropped counts records that arrived so late that the ring had
	// already wrapped past their slot (a feeder descheduled for a whole
	// ring's worth of newer records); their frames still count.
	Dropped uint64
}

// Len returns how many records the ring holds.
func (h HistoryStats) Len() int { return int(h.Next - h.First) }

// history is the bounded ring of records. A writer claims a seq with one
// atomic add and then locks only its own slot, so feeders never wait on
// one another or on a reader copying a whole batch: at most on a reader
// copying that one slot.
//
// A slot is two adjacent cache lines with no pointers, so the garbage
// collector never scans the ring: the first holds the record, lock
// included; the second the first inlineLen payload bytes. Between a tap's
// socket calls the ring is out of cache (a slot was last written a lap of
// 100 000 records ago), and a record costs mostly the lines it waits for.
// Session.Record prefetches the slot it will most likely claim (see
// prefetch.go), and the slot's second line comes with its first; a payload
// line elsewhere was a second wait, which the slot lock's release (it
// waits for every earlier write) could not hide: ~65 ns a record in
// BenchmarkRecordLoopback. smux's control frames and small requests carry
// at most a few bytes of payload, so they touch nothing else; only longer
// payloads spill their bytes past inlineLen into the arena, cap ×
// (snaplen−inlineLen) bytes that the OS backs with memory only as they are
// written. Where Config.HugePages asks, slots and arena come in huge pages
// (hugePageSlice): the first lap of the ring would otherwise fault a page
// in every 13 bulk records (the arena of a snaplen above 4160 stays on
// small pages: see newHistory).
// A Record with its slices, strings and time.Time took four lines. The
// rare records that are not frames (session events, violations,
// notices) keep their text fields in a side map.
type history struct {
	slots   []slot
	arena   []byte // per slot, the payload bytes past inlineLen: rest of them
	snaplen int
	rest    int           // max(0, snaplen-inlineLen)
	last    atomic.Uint64 // the highest seq claimed; seqs start at 1
	dropped atomic.Uint64
	wake    waker // wakes a reader when the ring is filling

	eventsMu sync.Mutex
	events   map[uint64]*eventText // by seq, for slots with hasEvent

	scratch sync.Pool // *scratch for readers
}

// scratch is a reader's Record, and room to put a payload together.
type scratch struct {
	rec Record
	buf []byte
}

// inlineLen is how many payload bytes a slot holds itself: one cache line.
const inlineLen = 64

// slot is a Record without pointers, lock included, in 128 bytes: the
// record in the first cache line, the start of its payload in the second.
type slot struct {
	mu sync.Mutex
	slotData
	inline [inlineLen]byte // the first plen (at most inlineLen) payload bytes
}

type slotData struct {
	seq      uint64
	session  uint64
	at       int64 // Unix ns
	offset   int64
	header   decoder.Header
	consumed uint32
	window   uint32
	plen     uint16 // payload bytes, in inline and then the arena
	kind     Kind
	dir      Dir
	anomaly  Anomaly
	code     decoder.Code
	flags    uint8
}

const (
	slotTruncated = 1 << iota
	slotHasEvent
	// slotYamux marks a yamux record: its 12-byte header lies in header
	// (the first 8 bytes) and consumed (the length field, big-endian as
	// on the wire), and code is a yamux.Code.
	slotYamux
	// slotLost marks a frame whose payload the capture lost bytes of:
	// window holds how many (a frame's Lost is at most its length, all
	// of it where the loss began right after the header, and no frame
	// that has a window field, an smux UPD, ever has one).
	slotLost
)

// eventText is what an event record keeps outside its slot.
type eventText struct {
	client, server, label, detail, transport string
	tap                                      Side
	reason                                   CloseReason
	want                                     uint8
	finding                                  *Finding
	was                                      Severity
	proto                                    Protocol
}

func newHistory(capacity, snaplen int, huge bool) *history {
	rest := max(0, snaplen-inlineLen)
	slots, arena := make([]slot, capacity), make([]byte, capacity*rest)
	if huge {
		slots = hugePageSlice[slot](capacity)
		// The arena asks for huge pages only where a record's share of it
		// is at most a small page (--snaplen 4160 or less): a larger share
		// holds frames shorter than it, whose unwritten rest a huge page
		// backs with memory and small pages do not. It asks for small
		// ones then, where an earlier ring's advice may lie.
		if rest <= 4096 {
			arena = hugePageSlice[byte](capacity * rest)
		} else {
			adviseSmallPages(arena)
		}
	}
	return &history{
		slots:   slots,
		arena:   arena,
		snaplen: snaplen,
		rest:    rest,
		events:  make(map[uint64]*eventText),
		wake:    newWaker(),
		scratch: sync.Pool{New: func() any { return new(scratch) }},
	}
}

// claim reserves the next seq and locks its slot. It reports false, with
// nothing locked, when a newer record already took the slot.
func (h *history) claim() (uint64, int, *slot, bool) {
	seq := h.last.Add(1)
	h.wake.claimed(seq)
	i := int(seq % uint64(len(h.slots)))
	sl := &h.slots[i]
	sl.mu.Lock()
	if sl.seq > seq {
		sl.mu.Unlock()
		h.dropped.Add(1)
		return 0, 0, nil, false
	}
	if sl.flags&slotHasEvent != 0 {
		h.eventsMu.Lock()
		delete(h.events, sl.seq)
		h.eventsMu.Unlock()
	}
	return seq, i, sl, true
}

// keep copies up to snaplen bytes of payload p into slot i, sl, and
// returns how many it kept.
func (h *history) keep(i int, sl *slot, p []byte) int {
	if len(p) > h.snaplen {
		p = p[:h.snaplen]
	}
	n := copy(sl.inline[:], p)
	if len(p) > inlineLen {
		n += copy(h.arena[i*h.rest:(i+1)*h.rest], p[inlineLen:])
	}
	return n
}

// addFrame stores a frame record; it never waits for a reader beyond the
// copy of one record.
func (h *history) addFrame(sess uint64, dir Dir, at time.Time, f *decoder.Frame, a Anomaly) {
	d := slotData{
		session: sess, at: at.UnixNano(), offset: f.Offset, header: f.Header,
		consumed: f.Consumed, window: f.Window, kind: FrameRecord, dir: dir, anomaly: a,
	}
	if f.Lost > 0 {
		d.window, d.flags = uint32(f.Lost), slotLost
	}
	h.addFrameData(d, f.Payload, f.Truncated)
}

// addYamuxFrame is addFrame for a yamux frame: its 12-byte header lies in
// header and consumed (see slotYamux).
func (h *history) addYamuxFrame(sess uint64, dir Dir, at time.Time, f *yamux.Frame, a Anomaly) {
	d := slotData{
		session: sess, at: at.UnixNano(), offset: f.Offset, header: decoder.Header(f.Header[:8]),
		consumed: binary.BigEndian.Uint32(f.Header[8:]), kind: FrameRecord, dir: dir, anomaly: a, flags: slotYamux,
	}
	if f.Lost > 0 {
		d.window, d.flags = uint32(f.Lost), d.flags|slotLost
	}
	h.addFrameData(d, f.Payload, f.Truncated)
}

// addFrameData stores the frame record d, with payload, of which the
// frame carried more if truncated; it fills in d's seq, payload length
// and truncation.
func (h *history) addFrameData(d slotData, payload []byte, truncated bool) {
	if len(h.slots) == 0 {
		return
	}
	seq, i, sl, ok := h.claim()
	if !ok {
		return
	}
	n := h.keep(i, sl, payload)
	if truncated || n < len(payload) {
		d.flags |= slotTruncated
	}
	d.seq, d.plen = seq, uint16(n)
	sl.slotData = d
	sl.mu.Unlock()
}

// addEvent stores a session event, violation or notice.
func (h *history) addEvent(rec Record) {
	if len(h.slots) == 0 {
		return
	}
	seq, _, sl, ok := h.claim()
	if !ok {
		return
	}
	h.eventsMu.Lock()
	h.events[seq] = &eventText{
		client: rec.Client, server: rec.Server, label: rec.Label, detail: rec.Detail, transport: rec.Transport,
		tap: rec.Tap, reason: rec.Reason, want: rec.Want, finding: rec.Finding, was: rec.Was, proto: rec.Proto,
	}
	h.eventsMu.Unlock()
	flags := uint8(slotHasEvent)
	sl.slotData = slotData{
		seq: seq, session: rec.Session, at: rec.At.UnixNano(), offset: rec.Offset, header: rec.Header,
		kind: rec.Kind, dir: rec.Dir, anomaly: rec.Anomaly, code: rec.Code, flags: flags,
	}
	if rec.Proto == Yamux {
		sl.flags |= slotYamux
		sl.header = decoder.Header(rec.YamuxHeader[:8])
		sl.consumed = binary.BigEndian.Uint32(rec.YamuxHeader[8:])
		sl.code = decoder.Code(rec.YamuxCode)
	}
	sl.mu.Unlock()
}

// record fills sc.rec from slot i, whose lock is held; its Payload
// aliases the slot, or sc.buf, until the caller copies it.
func (h *history) record(i int, sc *scratch) {
	sl, r := &h.slots[i], &sc.rec
	*r = Record{
		Seq: sl.seq, Kind: sl.kind, Session: sl.session, Dir: sl.dir, At: time.Unix(0, sl.at),
		Offset: sl.offset, Header: sl.header, Truncated: sl.flags&slotTruncated != 0,
		Consumed: sl.consumed, Window: sl.window, Anomaly: sl.anomaly, Code: sl.code,
	}
	if sl.flags&slotLost != 0 {
		r.Lost, r.Window = int64(sl.window), 0
	}
	if sl.flags&slotYamux != 0 {
		r.Proto = Yamux
		copy(r.YamuxHeader[:8], sl.header[:])
		binary.BigEndian.PutUint32(r.YamuxHeader[8:], sl.consumed)
		r.YamuxCode = yamux.Code(sl.code)
		r.Header, r.Consumed, r.Code = decoder.Header{}, 0, 0
	}
	switch n := int(sl.plen); {
	case n > inlineLen:
		sc.buf = append(append(sc.buf[:0], sl.inline[:]...), h.arena[i*h.rest:i*h.rest+n-inlineLen]...)
		r.Payload = sc.buf[:n:n]
	case n > 0:
		r.Payload = sl.inline[:n:n]
	}
	if sl.flags&slotHasEvent != 0 {
		h.eventsMu.Lock()
		if e := h.events[sl.seq]; e != nil {
			r.Client, r.Server, r.Label, r.Detail, r.Transport = e.client, e.server, e.label, e.detail, e.transport
			r.Tap, r.Reason, r.Want, r.Finding, r.Was, r.Proto = e.tap, e.reason, e.want, e.finding, e.was, e.proto
		}
		h.eventsMu.Unlock()
	}
}

func (h *history) stats() HistoryStats {
	s := HistoryStats{Cap: len(h.slots), Next: h.last.Load() + 1, First: 1, Dropped: h.dropped.Load()}
	if n := uint64(len(h.slots)); s.Next-1 > n {
		s.First = s.Next - n
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
	Scan int
	// Match selects records; nil selects all. It runs while a slot is
	// locked: it must be quick and must not call the Registry.
	Match func(*Record) bool
}

// Frames appends copies of the records that q selects to dst, oldest first,
// and returns them with the seq to continue from. The copies' payloads are
// the caller's. A record claimed but not yet written ends the read early;
// the next read picks it up. Records evicted while reading are skipped:
// a gap in the returned seqs says how many.
func (r *Registry) Frames(q Query, dst []Record) (recs []Record, next uint64) {
	recs, _, next = r.frames(q, dst, nil, false)
	return recs, next
}

// FramesInto is Frames for a caller that reads over and over, such as a
// printer: it appends the copies' payloads to buf and returns it, grown
// if they did not fit, for the next read to reuse, where Frames allocates
// new room for them at every read. The copies' payloads alias buf's
// array (or, for those that did not fit, its grown copy) until the
// caller reuses it; a caller keeps its reads' payload bytes bounded with
// q.Max.
func (r *Registry) FramesInto(q Query, dst []Record, buf []byte) (recs []Record, payloads []byte, next uint64) {
	return r.frames(q, dst, buf, true)
}

// frames is Frames, with the payloads appended to buf where reuse is set
// and in new 4 KiB chunks otherwise.
func (r *Registry) frames(q Query, dst []Record, buf []byte, reuse bool) (recs []Record, payloads []byte, next uint64) {
	h := r.hist
	scan := q.Scan
	if scan <= 0 {
		scan = DefaultScan
	}
	st := h.stats()
	seq := max(q.From, st.First)
	if len(h.slots) == 0 {
		return dst, buf, seq
	}
	start := len(dst)
	sc := h.scratch.Get().(*scratch) // Match's argument escapes: reuse it
	defer h.scratch.Put(sc)
	rec := &sc.rec
	for ; seq < st.Next && scan > 0; seq++ {
		if q.Max > 0 && len(dst)-start >= q.Max {
			break
		}
		scan--
		i := int(seq % uint64(len(h.slots)))
		sl := &h.slots[i]
		sl.mu.Lock()
		if got := sl.seq; got != seq {
			sl.mu.Unlock()
			if got < seq {
				break // claimed, not yet written
			}
			continue // evicted meanwhile
		}
		h.record(i, sc)
		if q.Match != nil && !q.Match(rec) {
			sl.mu.Unlock()
			continue
		}
		dst = append(dst, *rec)
		if p := rec.Payload; len(p) > 0 {
			if !reuse && cap(buf)-len(buf) < len(p) {
				buf = make([]byte, 0, max(4096, len(p)))
			}
			buf = append(buf, p...)
			dst[len(dst)-1].Payload = buf[len(buf)-len(p) : len(buf) : len(buf)]
		}
		sl.mu.Unlock()
	}
	return dst, buf, seq
}
