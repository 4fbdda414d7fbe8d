package yamux_test

import (
	"encoding/binary"
	"testing"

	"github.com/muxtop/muxtop/decoder/internal/chunking"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// FuzzDecoder feeds arbitrary bytes, whole and in chunks whose sizes come
// from cuts, and checks the decoder against a plain model of yamux's
// receive rules, before and after End. Crashers are kept in
// testdata/fuzz/FuzzDecoder.
func FuzzDecoder(f *testing.F) {
	for _, r := range loadRecordings(f) {
		for _, in := range [][]byte{r.c2s, r.s2c} {
			f.Add(in[:min(len(in), 4096)], []byte{0, 7, 255, 3}, uint16(yamux.DefaultSnaplen))
		}
	}
	f.Add([]byte(synData1+ackWnd1+data1+finWnd1), []byte{}, uint16(0))
	f.Add([]byte(pingSYN7+goAwayErr+bigDelta1+data1[:17]), []byte{4, 1}, uint16(3))
	f.Add([]byte(synWnd1+"\x01\x02\x00\x00\x03\x00\x00\x00"+"\x00\x00\x00\x00"), []byte{3}, uint16(9))
	f.Add([]byte("\x00\x09"+pingSYN7[2:]), []byte{255}, uint16(yamux.MaxSnaplen))

	f.Fuzz(func(t *testing.T, in, cuts []byte, snaplen uint16) {
		got := decode(t, int(snaplen), in, whole, false)
		want := model(in, int(snaplen))
		if d := got.diff(want); d != "" {
			t.Fatalf("whole input differs from the model: %s", d)
		}
		var framed int64
		for i, fr := range got.frames {
			if i > 0 && fr.Offset <= got.frames[i-1].Offset {
				t.Fatalf("frame %d at offset %d, after one at %d", i, fr.Offset, got.frames[i-1].Offset)
			}
			framed += yamux.HeaderSize + int64(fr.Header.PayloadLength())
		}
		if n := int64(len(in)); framed+got.unparsed+got.pending != n || got.offset != n {
			t.Fatalf("framed %d + unparsed %d + pending %d, Offset %d; want %d", framed, got.unparsed, got.pending, got.offset, n)
		}

		ended := decode(t, int(snaplen), in, whole, true)
		if n := int64(len(in)); framed+ended.unparsed != n || ended.pending != 0 {
			t.Fatalf("after End, framed %d + unparsed %d, pending %d; want %d and 0", framed, ended.unparsed, ended.pending, n)
		}
		if want.violation == nil && want.pending > 0 && (ended.violation == nil || ended.violation.Code != yamux.Truncated) {
			t.Fatalf("End with %d bytes pending returned %v, want TRUNCATED", want.pending, ended.violation)
		}

		chunked := decode(t, int(snaplen), in, chunking.FromCuts(cuts), true)
		if d := chunked.diff(ended); d != "" {
			t.Fatalf("chunks from %v, then End, differ from the whole input: %s", cuts, d)
		}
	})
}

// model decodes a whole input as yamux's recvLoop reads a connection:
// version 0 and a type up to 3, or the session ends.
func model(in []byte, snaplen int) result {
	snaplen = min(max(snaplen, 0), yamux.MaxSnaplen)
	r := result{offset: int64(len(in))}
	off := 0
	for len(in)-off >= yamux.HeaderSize {
		h := yamux.Header(in[off : off+yamux.HeaderSize])
		if in[off] != 0 || in[off+1] > 3 {
			code := yamux.BadVersion
			if in[off] == 0 {
				code = yamux.UnknownType
			}
			r.violation = &yamux.Violation{Code: code, Offset: int64(off), Header: h}
			r.unparsed = int64(len(in) - off)
			return r
		}
		size := yamux.HeaderSize
		if in[off+1] == 0 {
			size += int(binary.BigEndian.Uint32(in[off+8:]))
		}
		if size < yamux.HeaderSize || len(in)-off < size {
			break
		}
		p := in[off+yamux.HeaderSize : off+size]
		keep := min(len(p), snaplen)
		r.frames = append(r.frames, frameRec{Offset: int64(off), Header: h, Payload: string(p[:keep]), Truncated: keep < len(p)})
		off += size
	}
	r.pending = int64(len(in) - off)
	return r
}
