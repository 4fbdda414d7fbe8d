package capture

import (
	"errors"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// File is a capture opened by Open: a Source that has read its first
// packet already, so that its start time is known before the registry
// that records it is made.
type File struct {
	src   Source
	first []byte
	ci    gopacket.CaptureInfo
	err   error
	taken bool
	// packets counts the packets returned, the last at last.
	packets int
	last    time.Time
}

// Open reads the header and first packet of the pcap or pcapng capture
// in r (gzip-compressed or not); a capture whose link type Reader.Run
// refuses (CheckLinkType's error) is its error, once its first packet
// is read (a pcapng's interface is known then), before any is counted.
func Open(r io.Reader) (*File, error) {
	src, err := NewSource(r)
	if err != nil {
		return nil, err
	}
	f := &File{src: src}
	data, ci, err := src.ReadPacketData()
	// A link type Run refuses fails here, before anything is read: Run
	// would fail before its first packet, after a summary of nothing. It
	// is the capture's, as Run checks it (a pcapng's first interface's,
	// known once its first packet is read): a packet of another interface
	// of a type not decoded (dumpcap -i eth0 -i usbmon0) counts as not
	// TCP, whichever comes first.
	if lerr := CheckLinkType(src.LinkType()); lerr != nil {
		return nil, lerr
	}
	f.first, f.ci, f.err = append([]byte(nil), data...), ci, err
	// A capture cut in its first packet is as truncated as one cut later:
	// Run says so (ErrTruncated), after a summary of nothing.
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return f, nil
}

// Start returns the time of the capture's first packet, or the zero time
// if it has none.
func (f *File) Start() time.Time { return f.ci.Timestamp }

// ReadPacketData returns the capture's next packet; the data is valid
// until the next call.
func (f *File) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := f.first, f.ci, f.err
	if f.taken {
		data, ci, err = f.src.ReadPacketData()
	}
	f.taken = true
	if err == nil {
		f.packets++
		f.last = ci.Timestamp
	}
	return data, ci, err
}

// Read returns how many packets ReadPacketData returned, and the time of
// the last: where a capture that failed under way ended.
func (f *File) Read() (packets int, last time.Time) { return f.packets, f.last }

// LinkType returns the capture's link type.
func (f *File) LinkType() layers.LinkType { return f.src.LinkType() }

// Heartbeats makes the capture's heartbeats (a pcapng Interface
// Statistics Block: pcapout.Live's, or a capture saved from one) times
// ReadPacketData returns, ErrIdle with the time, before the packet that
// follows each: its clock goes on to them as it did while it was
// written live. Call it before the second read; a capture merged with
// others must not, its heartbeats not theirs.
func (f *File) Heartbeats() {
	if s, ok := f.src.(*ngSource); ok {
		s.inband = true
	}
}

// beats returns the capture's heartbeats, nil if it cannot have any (a
// pcap).
func (f *File) beats() (<-chan struct{}, func() (time.Time, bool)) {
	if h, ok := f.src.(heartbeats); ok {
		return h.beats()
	}
	return nil, nil
}
