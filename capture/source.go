// Package capture reads the smux sessions out of captured TCP traffic: a
// pcap or pcapng file (gzip-compressed too) or, with package sniff, an
// interface watched live. Each TCP connection's two directions are
// reassembled (github.com/gopacket/gopacket/reassembly: out-of-order
// segments, retransmissions, losses) and fed to a live.Session as the tap
// does (tap.Feeder), stamped with the capture's times. A connection the
// capture joined after it opened is decoded from the first frame boundary
// found (decoder.Decoder.Resync); bytes the capture lost are counted and
// the session's counts marked incomplete.
package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/tapiface"
	"github.com/muxtop/muxtop/tap"
)

// Source is where packets come from: a capture file's reader, or a live
// interface. ReadPacketData's data is valid until the next call. A live
// source that has had no packet for a while may return ErrIdle.
type Source interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// ErrIdle is what a live Source's ReadPacketData returns when no packet
// has come for a while, with the time in the CaptureInfo's Timestamp.
// The Source should have returned every packet older than that time: for
// Reader.Run the capture's time passes to it, so the clock, the findings'
// evaluations and the waits that count capture time (a connection held
// for its roles or its frame boundaries, a hole in reassembly) run on
// without the next packet. A packet older than that time that comes after
// all the same (one a tap stamped before a heartbeat but queued after it:
// pcapout.HeartbeatSlack) is read at that time: capture time does not go
// back.
var ErrIdle = errors.New("capture: no packet for a while")

// zeroCopy is the faster read that pcapgo's readers offer.
type zeroCopy struct {
	r interface {
		ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
}

func (z zeroCopy) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := z.r.ZeroCopyReadPacketData()
	return data, ci, readErr(ci, err)
}

// readErr is the error of a read of a capture's packet whose CaptureInfo
// is ci, from the reader's err.
func readErr(ci gopacket.CaptureInfo, err error) error {
	if errors.Is(err, io.EOF) && ci.CaptureLength > 0 {
		// A record's header was read and its data is missing altogether:
		// io.ReadFull says io.EOF for no byte, but the file was cut.
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("capture: %w", err) // a damaged file, not the reader's
	}
	return err
}
func (z zeroCopy) LinkType() layers.LinkType { return z.r.LinkType() }

// ngSource is a pcapng capture read with WantMixedLinkType. Its LinkType
// is its first interface's, as pcapgo's would be without the option (with
// it, pcapgo's is no interface's: 0, which Run would take for BSD
// loopback, and so read a capture of a link type it does not decode as
// packets that are not TCP, without a word).
//
// A packet of an interface under which pcapout wrote the connections
// taps recorded over another transport than TCP (internal/tapiface)
// carries it, a Transport after its link type in its AncillaryData.
//
// An Interface Statistics Block is a heartbeat (pcapout.Live writes one
// while it has no packet to send): the producer's word that the capture's
// time has reached its timestamp, every packet before it written. Its
// time is kept in beatAt and beat signalled, for Still's read of a pipe,
// which takes it while the read of the next packet waits; read with
// Heartbeats, the source returns it itself (ErrIdle) before the packet
// that follows it, or the end, as a file holds it.
type ngSource struct {
	zeroCopy
	ng *pcapgo.NgReader
	// beatAt is the latest heartbeat's time, in Unix nanoseconds (0:
	// none); given, the latest one given to the reader; beat is
	// signalled at each. The reading goroutine sets beatAt.
	beatAt, given atomic.Int64
	beat          chan struct{}
	// inband: ReadPacketData returns the heartbeats (Heartbeats); held
	// is the packet read after one, returned by the next call; begun,
	// the first packet was returned: heartbeats before it are not.
	inband bool
	held   *readResult
	begun  bool
	// heldCut: the held packet carries the mark of a writer's cut.
	heldCut bool
	// tapped are, by interface index, the interfaces seen so far: their
	// name and link type, to tell them from those of a later section, and
	// the AncillaryData of their packets where pcapout wrote them (nil
	// for any other interface).
	tapped []tappedIface
}

type tappedIface struct {
	name, comment string
	link          any
	anc           []any
}

// ReadPacketData returns the capture's next packet, with its transport
// where its interface says one (Transport).
func (s *ngSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var data []byte
	var ci gopacket.CaptureInfo
	var err error
	var cut bool
	if h := s.held; h != nil {
		s.held = nil
		data, ci, err, cut = h.data, h.ci, h.err, s.heldCut
	} else {
		var opts pcapgo.NgPacketOptions
		data, ci, opts, err = s.ng.ZeroCopyReadPacketDataWithOptions()
		err = readErr(ci, err)
		cut = err == nil && slices.ContainsFunc(opts.Comments, tapiface.LimitCut)
		if at, ok := s.take(); ok && s.inband {
			s.held, s.heldCut = &readResult{data, ci, err}, cut
			return nil, gopacket.CaptureInfo{Timestamp: at}, ErrIdle
		}
	}
	if err == nil {
		s.begun = true
	}
	if err != nil || len(ci.AncillaryData) == 0 {
		return data, ci, err
	}
	if anc := s.anc(ci.InterfaceIndex, ci.AncillaryData[0]); anc != nil {
		ci.AncillaryData = anc
	}
	if cut {
		ci.AncillaryData = append(slices.Clip(ci.AncillaryData), LimitCut{})
	}
	return data, ci, nil
}

// LimitCut, in a packet's AncillaryData, says that the packet is the last
// its writer wrote: the capture (a pcapout file) was cut after it by the
// writer's size limit (--write-limit), whose mark, the packet's comment
// (tapiface.LimitComment), it carries. What its connections did after is
// not in the capture.
type LimitCut struct{}

// limitCutOf reports whether a packet's CaptureInfo carries LimitCut.
func limitCutOf(ci gopacket.CaptureInfo) bool {
	for _, a := range ci.AncillaryData {
		if _, ok := a.(LimitCut); ok {
			return true
		}
	}
	return false
}

// heard notes a heartbeat (pcapgo's StatisticsCallback) of a tap's
// capture, once the first packet was read: pcapout.Live sends them from
// its first tick, before any packet when nothing was tapped, and those
// are not. A statistics block of an interface that is no tap's (the one
// dumpcap writes as it stops) is no heartbeat: nothing says that every
// packet before its time was written.
func (s *ngSource) heard(i int, st pcapgo.NgInterfaceStatistics) {
	if st.LastUpdate.IsZero() || !s.begun {
		return
	}
	ifc, err := s.ng.Interface(i)
	if err != nil {
		return
	}
	if _, tapped := tapiface.Transport(ifc.Name); !tapped {
		return
	}
	if at := st.LastUpdate.UnixNano(); at > s.beatAt.Load() {
		s.beatAt.Store(at)
	}
	select {
	case s.beat <- struct{}{}:
	default:
	}
}

// take returns the latest heartbeat's time if it was not given yet, and
// notes it given. It is safe for concurrent use.
func (s *ngSource) take() (time.Time, bool) {
	for {
		at, given := s.beatAt.Load(), s.given.Load()
		if at <= given {
			return time.Time{}, false
		}
		if s.given.CompareAndSwap(given, at) {
			return time.Unix(0, at), true
		}
	}
}

// beats returns the source's heartbeats: a signal at each, and take.
func (s *ngSource) beats() (<-chan struct{}, func() (time.Time, bool)) { return s.beat, s.take }

// heartbeats is a Source that may carry heartbeats (ngSource).
type heartbeats interface {
	beats() (<-chan struct{}, func() (time.Time, bool))
}

// anc returns the AncillaryData of a packet of interface i, link the link
// type its reader gave it, where the interface is a tapped transport's,
// TCP's included; nil for any other.
func (s *ngSource) anc(i int, link any) []any {
	ifc, err := s.ng.Interface(i)
	if err != nil {
		return nil
	}
	if i < len(s.tapped) && s.tapped[i].name == ifc.Name && s.tapped[i].comment == ifc.Comment && s.tapped[i].link == link {
		return s.tapped[i].anc
	}
	// First seen, or a later section's interface of that index.
	for len(s.tapped) <= i {
		s.tapped = append(s.tapped, tappedIface{})
	}
	t := tappedIface{name: ifc.Name, comment: ifc.Comment, link: link}
	if tr, ok := tapiface.Transport(ifc.Name); ok {
		t.anc = []any{link, Transport(tr)} // "" for a tap's TCP: tappedOf
		if told, ok := tapiface.Told(ifc.Comment); ok {
			t.anc = append(t.anc, told) // toldOf
		}
	}
	s.tapped[i] = t
	return t.anc
}

// Transport is what the connection of a packet ran over, as
// live.SessionInfo.Transport names it, where the capture says it: a
// pcapng capture written by pcapout of connections tapped over TLS, a
// unix socket, a net.Pipe or KCP gives each packet its interface's
// (internal/tapiface), after its link type in its CaptureInfo's
// AncillaryData; a tap's TCP connections carry "" (TCP), which says that
// a tap wrote them (tappedOf). A packet with none is TCP's, as those of
// tcpdump's captures.
type Transport string

// tappedOf reports whether a packet's CaptureInfo says that a tap wrote
// it (pcapout): it carries a Transport, "" for TCP.
func tappedOf(ci gopacket.CaptureInfo) bool {
	for _, a := range ci.AncillaryData {
		if _, ok := a.(Transport); ok {
			return true
		}
	}
	return false
}

// toldOf returns what the tap of a packet's connection was told, where
// the capture says it (a tap's capture whose interface's comment says
// it: tapiface.Comment), after its Transport in its CaptureInfo's
// AncillaryData; the zero Told if nothing.
func toldOf(ci gopacket.CaptureInfo) tap.Told {
	for _, a := range ci.AncillaryData {
		if t, ok := a.(tap.Told); ok {
			return t
		}
	}
	return tap.Told{}
}

// transportOf returns the transport a packet's CaptureInfo carries, ""
// (TCP) if none.
func transportOf(ci gopacket.CaptureInfo) string {
	for _, a := range ci.AncillaryData {
		if t, ok := a.(Transport); ok {
			return string(t)
		}
	}
	return ""
}

func (s *ngSource) LinkType() layers.LinkType {
	if ifc, err := s.ng.Interface(0); err == nil {
		return ifc.LinkType
	}
	return s.ng.LinkType()
}

// The magic numbers at the start of the formats OpenFile tells apart.
var (
	gzipMagic   = []byte{0x1f, 0x8b}
	pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}
	pcapMagics  = [][]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, // microseconds
		{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, // nanoseconds
	}
)

// errTooShort is the error of a capture that ends before its header does.
var errTooShort = errors.New("capture: the file is empty or too short to be a capture")

// ErrTooShort is NewSource's error (as errors.Is tells) of a capture that
// ends before its header does: an empty file or pipe.
var ErrTooShort = errTooShort

// cut reports whether err says the input ended early.
func cut(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }

// compressed are the compressions read does not undo, by magic number,
// and the command that does.
var compressed = []struct {
	magic      []byte
	name, tool string
}{
	{[]byte{0xfd, '7', 'z', 'X'}, "xz", "xz -dc"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd", "zstd -dc"},
	{[]byte("BZh"), "bzip2", "bzip2 -dc"},
	{[]byte{0x04, 0x22, 0x4d, 0x18}, "lz4", "lz4 -dc"},
}

// NewSource returns the packets of a pcap or pcapng capture read from r,
// gzip-compressed or not: the format is told by its magic number, not by a
// file name.
func NewSource(r io.Reader) (Source, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil && !(len(magic) >= 2 && bytes.HasPrefix(magic, gzipMagic)) {
		if cut(err) {
			return nil, errTooShort
		}
		return nil, fmt.Errorf("capture: %w", err)
	}
	if bytes.HasPrefix(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if cut(err) {
			return nil, errors.New("capture: gzip: the file is empty or too short to be a capture")
		}
		if err != nil {
			return nil, fmt.Errorf("capture: gzip: %w", err)
		}
		return NewSource(zr)
	}
	if bytes.Equal(magic, pcapngMagic) {
		// Interfaces of different link types (Ethernet and a tunnel's bare
		// IP, as dumpcap writes them): each packet says its own, which
		// Reader.Run reads; without it pcapgo drops all but the first's.
		opts := pcapgo.DefaultNgReaderOptions
		opts.WantMixedLinkType = true
		s := &ngSource{beat: make(chan struct{}, 1)}
		opts.StatisticsCallback = s.heard
		ng, err := pcapgo.NewNgReader(br, opts)
		if cut(err) {
			return nil, errTooShort
		}
		if err != nil {
			return nil, fmt.Errorf("capture: pcapng: %w", err)
		}
		s.zeroCopy, s.ng = zeroCopy{ng}, ng
		return s, nil
	}
	for _, m := range pcapMagics {
		if bytes.Equal(magic, m) {
			pr, err := pcapgo.NewReader(br)
			if cut(err) {
				return nil, errTooShort
			}
			if err != nil {
				return nil, fmt.Errorf("capture: pcap: %w", err)
			}
			return zeroCopy{pr}, nil
		}
	}
	for _, c := range compressed {
		if bytes.HasPrefix(magic, c.magic) {
			return nil, fmt.Errorf("capture: the file is %s-compressed: %s FILE | muxtop read -", c.name, c.tool)
		}
	}
	return nil, fmt.Errorf("capture: not a pcap or pcapng file (it begins % x): write one with tcpdump -w FILE, or pipe tcpdump -U -w - into muxtop read -", magic)
}
