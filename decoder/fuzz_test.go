package decoder_test

import (
	"encoding/binary"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/internal/chunking"
)

// FuzzDecoder feeds arbitrary bytes, whole and in chunks whose sizes come
// from cuts, and checks the decoder against a plain model of smux's receive
// rules, before and after End. expect picks what Expect is given: nothing
// when it is 0, else expect%4 (0 unknown, 1 or 2, or 3, which no end
// speaks). Crashers are kept in testdata/fuzz/FuzzDecoder.
func FuzzDecoder(f *testing.F) {
	for _, r := range loadRecordings(f) {
		for _, in := range [][]byte{r.c2s, r.s2c} {
			f.Add(in[:min(len(in), 4096)], []byte{0, 7, 255, 3}, uint16(decoder.DefaultSnaplen), uint8(0))
			f.Add(in[:min(len(in), 1000)], []byte{1, 4}, uint16(decoder.DefaultSnaplen), uint8(r.exp.versionOf(client)))
		}
	}
	for _, v := range violationCases {
		f.Add([]byte(v.in), []byte{2}, uint16(4), v.expect)
	}
	f.Add([]byte(v1SYN3+v1RAND3+v1FIN3), []byte{}, uint16(0), uint8(4))
	f.Add([]byte(v2SYN3+v2UPD3+v2UPD3[:11]), []byte{4, 1}, uint16(3), uint8(2))
	f.Add([]byte(v2SYN3+v1SYN3+v1RAND3[:5]), []byte{3}, uint16(3), uint8(1))
	f.Add([]byte("\x01\x02\xff\xff\x03\x00\x00\x00"), []byte{255}, uint16(decoder.MaxSnaplen), uint8(3))

	f.Fuzz(func(t *testing.T, in, cuts []byte, snaplen uint16, expect uint8) {
		o := opts{snaplen: int(snaplen), expect: int(expect % 4)}
		if expect == 0 {
			o.expect = noExpect
		}
		got := decodeWith(t, o, in, whole)
		want := model(in, o.snaplen, o.expect)
		if d := got.diff(want); d != "" {
			t.Fatalf("whole input differs from the model: %s", d)
		}

		// Offsets strictly increase, and every byte is in exactly one place.
		var framed int64
		for i, fr := range got.frames {
			if i > 0 && fr.Offset <= got.frames[i-1].Offset {
				t.Fatalf("frame %d at offset %d, after one at %d", i, fr.Offset, got.frames[i-1].Offset)
			}
			framed += decoder.HeaderSize + int64(fr.Header.Length())
		}
		if n := int64(len(in)); framed+got.unparsed+got.pending != n || got.offset != n {
			t.Fatalf("framed %d + unparsed %d + pending %d, Offset %d; want %d",
				framed, got.unparsed, got.pending, got.offset, n)
		}

		// End leaves nothing pending: the frame it cuts is unparsed.
		ended := o
		ended.end = true
		gotEnded := decodeWith(t, ended, in, whole)
		if d := gotEnded.diff(modelEnd(in, want)); d != "" {
			t.Fatalf("whole input, then End, differs from the model: %s", d)
		}
		if n := int64(len(in)); framed+gotEnded.unparsed != n || gotEnded.pending != 0 {
			t.Fatalf("after End, framed %d + unparsed %d, pending %d; want %d and 0", framed, gotEnded.unparsed, gotEnded.pending, n)
		}

		chunked := decodeWith(t, ended, in, chunking.FromCuts(cuts))
		if d := chunked.diff(gotEnded); d != "" {
			t.Fatalf("chunks from %v, then End, differ from the whole input: %s", cuts, d)
		}
	})
}

// model decodes a whole input as smux's recvLoop reads a connection whose
// receiving end speaks version expect (1 or 2; noExpect or another value:
// unknown), with the decoder's one addition: without an expected version,
// the first valid version is the connection's.
func model(in []byte, snaplen, expect int) result {
	var r result
	if expect == 1 || expect == 2 {
		r.version = uint8(expect)
	}
	expected := r.version != 0
	off := 0
	for len(in)-off >= decoder.HeaderSize {
		h := decoder.Header(in[off:])
		code := decoder.Code(0)
		ver, cmd, length := in[off], in[off+1], int(binary.LittleEndian.Uint16(in[off+2:]))
		switch {
		case ver != 1 && ver != 2:
			code = decoder.BadVersion
		case expected && ver != r.version:
			code = decoder.VersionMismatch
		case r.version != 0 && ver != r.version:
			code = decoder.VersionChanged
		}
		if code == 0 {
			r.version = ver
			switch {
			case cmd > 4:
				code = decoder.UnknownCmd
			case cmd == 4 && ver != 2:
				code = decoder.UPDInV1
			case cmd == 4 && length != 8:
				code = decoder.BadUPDLength
			case cmd != 2 && cmd != 4 && length != 0:
				code = decoder.LengthNotZero
			}
		}
		if code != 0 {
			r.violations = []decoder.Violation{{Code: code, Offset: int64(off), Header: h, Want: r.version}}
			r.unparsed = int64(len(in) - off)
			off = len(in)
			break
		}
		if len(in)-off < decoder.HeaderSize+length {
			break
		}
		body := in[off+decoder.HeaderSize : off+decoder.HeaderSize+length]
		fr := frameRec{
			Offset:    int64(off),
			Header:    h,
			Payload:   string(body[:min(length, snaplen)]),
			Truncated: length > snaplen,
		}
		if cmd == 4 {
			fr.Consumed = binary.LittleEndian.Uint32(body)
			fr.Window = binary.LittleEndian.Uint32(body[4:])
		}
		r.frames = append(r.frames, fr)
		off += decoder.HeaderSize + length
	}
	r.pending = int64(len(in) - off)
	r.offset = int64(len(in))
	r.nframes = uint64(len(r.frames))
	return r
}

// modelEnd returns what the model r of in becomes when the stream ends: an
// incomplete last frame is a Truncated violation, its bytes unparsed.
func modelEnd(in []byte, r result) result {
	if r.pending == 0 {
		return r
	}
	off := len(in) - int(r.pending)
	var h decoder.Header
	copy(h[:], in[off:])
	r.violations = []decoder.Violation{{
		Code: decoder.Truncated, Offset: int64(off), Header: h, Want: r.version,
		HeaderComplete: r.pending >= decoder.HeaderSize, Got: r.pending,
	}}
	r.unparsed, r.pending = r.pending, 0
	return r
}
