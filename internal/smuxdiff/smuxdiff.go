// Package smuxdiff is muxtop's differential test suite: it drives real
// github.com/xtaci/smux sessions (and raw peers that write hand-made smux
// bytes to a real smux end), records every byte each end reads and writes
// below muxtop's tap, and checks what muxtop says about each session against
// what smux did and against an independent count of those bytes.
//
// The independent count is Walk, a header walker of its own: it shares no
// code with the decoder, live or tap packages under test.
//
// Every scenario runs in three placements: tapped at the client
// (tap.Wrap(conn, live.Client, ...)), tapped at the server, and through the
// attach proxy (tap.Proxy between the two ends).
//
// Environment variables:
//
//	MUXTOP_SMUXDIFF_SEED=N  run every randomized scenario with seed N only
//	                        (a failure logs the seed it ran with)
//	MUXTOP_SMUXDIFF_SOAK=N  run N random seeds per randomized scenario, with
//	                        larger workloads (more streams, bigger writes)
//
// By default each randomized scenario runs a few fresh random seeds with
// small workloads, so that the suite stays within a few seconds of
// `go test ./...`.
package smuxdiff

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
)

// Recorder is a net.Conn that keeps a copy of every byte that its Reads
// returned and its Writes sent, in order, per direction. It sits below
// muxtop's tap: its bytes are the ones on the wire.
type Recorder struct {
	net.Conn

	mu      sync.Mutex
	read    []byte
	written []byte
	readErr error // the first error a Read returned
}

// NewRecorder records the bytes that move through c.
func NewRecorder(c net.Conn) *Recorder { return &Recorder{Conn: c} }

// Read reads from the conn and records what it read.
func (r *Recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.read = append(r.read, p[:n]...)
	if err != nil && r.readErr == nil {
		r.readErr = err
	}
	r.mu.Unlock()
	return n, err
}

// ReadErr returns the first error a Read returned (io.EOF when the peer
// closed its side), or nil.
func (r *Recorder) ReadErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readErr
}

// Write writes to the conn and records the bytes it sent: a failed write
// records only those that went out.
func (r *Recorder) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	if n > 0 {
		r.mu.Lock()
		r.written = append(r.written, p[:n]...)
		r.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the conn, if it can.
func (r *Recorder) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadBytes returns a copy of the bytes read so far.
func (r *Recorder) ReadBytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.read...)
}

// WrittenBytes returns a copy of the bytes written so far.
func (r *Recorder) WrittenBytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.written...)
}

// Lens returns how many bytes were read and written so far.
func (r *Recorder) Lens() (read, written int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.read), len(r.written)
}

// The smux commands, as the wire spells them.
const (
	SYN byte = 0
	FIN byte = 1
	PSH byte = 2
	NOP byte = 3
	UPD byte = 4
)

// HeaderLen is the size of an smux frame header.
const HeaderLen = 8

// Frame is one complete frame found by Walk.
type Frame struct {
	Off     int // of the header in the direction's bytes
	Ver     byte
	Cmd     byte
	Len     int
	Sid     uint32
	Payload []byte // aliases the walked bytes
}

// Size returns the frame's wire bytes.
func (f Frame) Size() int { return HeaderLen + f.Len }

// UPD returns a UPD frame's consumed and window fields.
func (f Frame) UPD() (consumed, window uint32) {
	return binary.LittleEndian.Uint32(f.Payload), binary.LittleEndian.Uint32(f.Payload[4:])
}

// Stop says how a Walk ended.
type Stop int

// How a walk ends.
const (
	Clean   Stop = iota // every byte lies in a complete, valid frame
	Cut                 // the bytes end inside a frame (or its header)
	Invalid             // a header the receiving end refuses
)

// Walk is one direction's bytes taken apart as a receiving smux end would.
type Walk struct {
	Frames []Frame
	Valid  int  // bytes of Frames
	Stop   Stop // how it ended
	// At is the offset of the cut frame or of the refused header; Header
	// holds that header's bytes, zero-filled past the end of the bytes.
	At     int
	Header [HeaderLen]byte
	// Why says which rule the refused header breaks: "version" (not the
	// receiving end's), "length" (SYN, FIN or NOP with a payload), "upd in
	// v1", "upd length" (not 8) or "cmd" (unknown).
	Why string
}

// WalkBytes walks b, the bytes of one direction, with the receive rules of
// smux v1.5.58's recvLoop for an end configured with version: the header's
// version first, then the command's length rules.
func WalkBytes(b []byte, version byte) Walk {
	var w Walk
	off := 0
	for off < len(b) {
		if len(b)-off < HeaderLen {
			w.Stop, w.At = Cut, off
			copy(w.Header[:], b[off:])
			return w
		}
		var h [HeaderLen]byte
		copy(h[:], b[off:])
		f := Frame{Off: off, Ver: h[0], Cmd: h[1], Len: int(binary.LittleEndian.Uint16(h[2:])), Sid: binary.LittleEndian.Uint32(h[4:])}
		why := ""
		switch {
		case f.Ver != version:
			why = "version"
		case f.Cmd == SYN || f.Cmd == FIN || f.Cmd == NOP:
			if f.Len != 0 {
				why = "length"
			}
		case f.Cmd == PSH:
		case f.Cmd == UPD:
			if version != 2 {
				why = "upd in v1"
			} else if f.Len != 8 {
				why = "upd length"
			}
		default:
			why = "cmd"
		}
		if why != "" {
			w.Stop, w.At, w.Header, w.Why = Invalid, off, h, why
			return w
		}
		if len(b)-off < f.Size() {
			w.Stop, w.At, w.Header = Cut, off, h
			return w
		}
		f.Payload = b[off+HeaderLen : off+f.Size() : off+f.Size()]
		w.Frames = append(w.Frames, f)
		off += f.Size()
		w.Valid = off
	}
	return w
}

// Encode returns the wire bytes of a frame: the header, then payload.
func Encode(ver, cmd byte, sid uint32, payload []byte) []byte {
	return EncodeLen(ver, cmd, sid, len(payload), payload)
}

// EncodeLen returns a header claiming length bytes of payload, followed by
// payload, which may be shorter or longer: raw peers lie.
func EncodeLen(ver, cmd byte, sid uint32, length int, payload []byte) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(payload))
	b[0], b[1] = ver, cmd
	binary.LittleEndian.PutUint16(b[2:], uint16(length))
	binary.LittleEndian.PutUint32(b[4:], sid)
	return append(b, payload...)
}

// EncodeUPD returns the wire bytes of a UPD frame.
func EncodeUPD(sid, consumed, window uint32) []byte {
	var p [8]byte
	binary.LittleEndian.PutUint32(p[:], consumed)
	binary.LittleEndian.PutUint32(p[4:], window)
	return Encode(2, UPD, sid, p[:])
}
