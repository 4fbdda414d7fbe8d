package capture

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Merged is several captures read as one, their packets merged by time
// as mergecap merges them: at each read, the earliest of the captures'
// next packets. The files of a tcpdump ring (-C, -W or -G) are read so in
// whatever order they are given, and captures that overlap in time (of
// two interfaces, or two machines) interleave. Each file's own order is
// kept, and packets of the same time come in the order of their files'
// first packets, then of the files. Every packet carries its file's link
// type (in its CaptureInfo's AncillaryData, as a pcapng capture of mixed
// link types does), so that files of different link types mix. A file
// whose read fails under way (cut in a packet, as one still being
// written, or a damaged record) ends there, alone, as mergecap goes on
// past it: the others are read to their end, and the merge's end says
// which failed, and where.
type Merged struct {
	files []*File
	heads []head
	anc   [][]any // per file, the AncillaryData of its packets that have none
	taken int     // the file whose packet was returned last, to read on; -1: none

	mu       sync.Mutex
	failures []Failure // in the files' order
}

// head is a file's next packet, not yet returned.
type head struct {
	data    []byte
	ci      gopacket.CaptureInfo
	err     error     // io.EOF: the file is read to its end, or failed
	read    bool      // data, ci and err are the file's next
	last    time.Time // of the file's packet returned last
	packets int       // how many of the file's packets were returned
}

// Failure is a file of a merge whose read failed under way: Err is
// ErrTruncated for a file cut in a packet, else the read's error. Packets
// of it were returned before, the last of them at Last (the zero time if
// none was).
type Failure struct {
	File    int // its index in Merge's files
	Err     error
	Packets int
	Last    time.Time
}

// FilesFailed is the error a merge ends with, instead of io.EOF, when
// files of it failed under way: every other file was read to its end.
type FilesFailed struct {
	Failures []Failure // in the files' order
}

func (e *FilesFailed) Error() string {
	var b strings.Builder
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "capture %d: %v", f.File+1, f.Err)
	}
	return b.String()
}

// Merge returns the captures files read as one. It reads them as it is
// read: every file's next packet is valid until that file is read on,
// which happens only once its packet was returned and the next read
// comes.
func Merge(files ...*File) *Merged {
	m := &Merged{files: files, heads: make([]head, len(files)), anc: make([][]any, len(files)), taken: -1}
	for i, f := range files {
		m.anc[i] = []any{f.LinkType()}
	}
	return m
}

// Start returns the time of the earliest first packet of the captures,
// or the zero time if none has a packet.
func (m *Merged) Start() time.Time {
	var start time.Time
	for _, f := range m.files {
		if s := f.Start(); !s.IsZero() && (start.IsZero() || s.Before(start)) {
			start = s
		}
	}
	return start
}

// LinkType returns the first capture's link type. Each packet carries its
// own file's.
func (m *Merged) LinkType() layers.LinkType { return m.files[0].LinkType() }

// Failures returns the captures whose read failed so far (a damaged
// record, or a file cut in a packet), in the files' order. It may be
// called while the merge is read.
func (m *Merged) Failures() []Failure {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.failures)
}

// ReadPacketData returns the earliest of the captures' next packets, and
// io.EOF once every capture is read to its end. A capture whose read fails
// ends there, the others read on; once all have ended, the merge ends
// with a *FilesFailed instead of io.EOF, which Failures says too.
func (m *Merged) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	if m.taken >= 0 {
		m.heads[m.taken].read = false // its data was the caller's until now
		m.taken = -1
	}
	next := -1
	for i := range m.heads {
		h := &m.heads[i]
		if !h.read {
			h.data, h.ci, h.err = m.files[i].ReadPacketData()
			h.read = true
			switch {
			case h.err == nil && len(h.ci.AncillaryData) == 0:
				h.ci.AncillaryData = m.anc[i]
			case h.err != nil && !errors.Is(h.err, io.EOF):
				m.fail(i)
			}
		}
		if errors.Is(h.err, io.EOF) {
			continue
		}
		if next < 0 || m.before(i, next) {
			next = i
		}
	}
	if next < 0 {
		if fs := m.Failures(); len(fs) > 0 {
			return nil, gopacket.CaptureInfo{}, &FilesFailed{Failures: fs}
		}
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	h := &m.heads[next]
	m.taken, h.last = next, h.ci.Timestamp
	h.packets++
	return h.data, h.ci, nil
}

// fail notes that file i's read failed, with the error in its head, and
// ends the file there.
func (m *Merged) fail(i int) {
	h := &m.heads[i]
	err := h.err
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = ErrTruncated // as Run says it of a file read alone
	}
	m.mu.Lock()
	m.failures = append(m.failures, Failure{File: i, Err: err, Packets: h.packets, Last: h.last})
	slices.SortFunc(m.failures, func(a, b Failure) int { return a.File - b.File })
	m.mu.Unlock()
	h.data, h.ci, h.err = nil, gopacket.CaptureInfo{}, io.EOF
}

// before reports whether file i's next packet comes before file j's: by
// time, then by the files' first packets, then by the files' order.
func (m *Merged) before(i, j int) bool {
	a, b := m.heads[i].ci.Timestamp, m.heads[j].ci.Timestamp
	if !a.Equal(b) {
		return a.Before(b)
	}
	si, sj := m.files[i].Start(), m.files[j].Start()
	if !si.Equal(sj) {
		return si.Before(sj)
	}
	return i < j
}

// File returns the index, in Merge's files, of the file of the packet
// ReadPacketData returned last; -1 before the first, and after a read
// that returned none.
func (m *Merged) File() int { return m.taken }
