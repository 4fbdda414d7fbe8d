package capture

import (
	"errors"
	"io"
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
// link types does), so that files of different link types mix.
type Merged struct {
	files []*File
	heads []head
	anc   [][]any // per file, the AncillaryData of its packets that have none
	taken int     // the file whose packet was returned last, to read on; -1: none
	// failed is the file whose read failed, -1 if none has.
	failed int
}

// head is a file's next packet, not yet returned.
type head struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error     // io.EOF: the file is read to its end
	read bool      // data, ci and err are the file's next
	last time.Time // of the file's packet returned last
}

// Merge returns the captures files read as one. It reads them as it is
// read: every file's next packet is valid until that file is read on,
// which happens only once its packet was returned and the next read
// comes.
func Merge(files ...*File) *Merged {
	m := &Merged{files: files, heads: make([]head, len(files)), anc: make([][]any, len(files)), taken: -1, failed: -1}
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

// Failed returns the index of the capture whose read failed (a damaged
// record, or a file cut in a packet), or -1 if none has.
func (m *Merged) Failed() int { return m.failed }

// ReadPacketData returns the earliest of the captures' next packets, and
// io.EOF once every capture is read to its end. A capture whose read fails
// fails the merge, with its error, when its packets would come next:
// Failed says which.
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
				// A failure comes right after the file's packets before it.
				h.ci = gopacket.CaptureInfo{Timestamp: h.last}
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
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	h := &m.heads[next]
	if h.err != nil {
		m.failed = next
		return nil, h.ci, h.err
	}
	m.taken, h.last = next, h.ci.Timestamp
	return h.data, h.ci, nil
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
