package decoder_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

// frameStarts walks well-formed smux frames, independently of the decoder,
// and returns the offset of each whole frame and of the bytes after them.
func frameStarts(b []byte) (starts []int, end int) {
	for len(b)-end >= decoder.HeaderSize {
		size := decoder.HeaderSize + int(binary.LittleEndian.Uint16(b[end+2:]))
		if len(b)-end < size {
			break
		}
		starts = append(starts, end)
		end += size
	}
	return starts, end
}

// allSplits returns the chunkings whole, bytewise and every split in two.
func allSplits(n int) map[string]func() int {
	chunkings := map[string]func() int{"whole": whole, "bytewise": bytewise}
	for i := 1; i < n; i++ {
		chunkings[fmt.Sprintf("split at %d", i)] = sizes(i)
	}
	return chunkings
}

// TestExpect decodes hand-written wire bytes for a receiving end of a known
// version, whole, byte by byte and split in two at every position.
func TestExpect(t *testing.T) {
	h := decoder.MakeHeader
	tests := []struct {
		name      string
		expect    int // given to Expect, unless noExpect
		in        string
		want      []frameRec
		violation *decoder.Violation
		version   uint8 // Version() afterwards
	}{
		{
			name: "v1 to an end that speaks v2", expect: 2,
			in:        v1SYN3 + v1RAND3,
			violation: &decoder.Violation{Code: decoder.VersionMismatch, Offset: 0, Header: h(1, decoder.SYN, 0, 3), Want: 2},
			version:   2,
		},
		{
			name: "v2 to an end that speaks v1", expect: 1,
			in:        v2UPD3 + v2SYN3,
			violation: &decoder.Violation{Code: decoder.VersionMismatch, Offset: 0, Header: h(2, decoder.UPD, 8, 3), Want: 1},
			version:   1,
		},
		{
			name: "v2 frames, then v1, to an end that speaks v2", expect: 2,
			in: v2SYN3 + v2UPD3 + v1FIN3 + v2SYN3,
			want: []frameRec{
				{Offset: 0, Header: h(2, decoder.SYN, 0, 3)},
				{Offset: 8, Header: h(2, decoder.UPD, 8, 3), Payload: "\x04\x00\x00\x00\x00\x00\x01\x00", Consumed: 4, Window: 65536},
			},
			violation: &decoder.Violation{Code: decoder.VersionMismatch, Offset: 24, Header: h(1, decoder.FIN, 0, 3), Want: 2},
			version:   2,
		},
		{
			name: "v1 frames to an end that speaks v1", expect: 1,
			in:      v1SYN3 + v1RAND3,
			want:    []frameRec{{Offset: 0, Header: h(1, decoder.SYN, 0, 3)}, {Offset: 8, Header: h(1, decoder.PSH, 4, 3), Payload: "RAND"}},
			version: 1,
		},
		{
			name: "version 7 is a bad version, not a mismatch", expect: 2,
			in:        v2SYN3 + "\x07" + "\x02" + "\x04\x00" + "\x03\x00\x00\x00" + "RAND",
			want:      []frameRec{{Offset: 0, Header: h(2, decoder.SYN, 0, 3)}},
			violation: &decoder.Violation{Code: decoder.BadVersion, Offset: 8, Header: h(7, decoder.PSH, 4, 3), Want: 2},
			version:   2,
		},
		{
			name: "version 0 is a bad version, not a mismatch", expect: 1,
			in:        "\x00" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00",
			violation: &decoder.Violation{Code: decoder.BadVersion, Offset: 0, Header: h(0, decoder.SYN, 0, 3), Want: 1},
			version:   1,
		},
		{
			name: "the expected version's rules apply from the first frame", expect: 1,
			in:        "\x01" + "\x04" + "\x08\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00" + "\x00\x00\x01\x00",
			violation: &decoder.Violation{Code: decoder.UPDInV1, Offset: 0, Header: h(1, decoder.UPD, 8, 3), Want: 1},
			version:   1,
		},
		{name: "nothing to an end that speaks v2", expect: 2, version: 2},
		{
			name: "Expect(0) adopts the first version", expect: 0,
			in:        v1SYN3 + v2SYN3,
			want:      []frameRec{{Offset: 0, Header: h(1, decoder.SYN, 0, 3)}},
			violation: &decoder.Violation{Code: decoder.VersionChanged, Offset: 8, Header: h(2, decoder.SYN, 0, 3), Want: 1},
			version:   1,
		},
		{
			name: "Expect(3) is ignored: no end speaks v3", expect: 3,
			in:        v2SYN3 + v1SYN3,
			want:      []frameRec{{Offset: 0, Header: h(2, decoder.SYN, 0, 3)}},
			violation: &decoder.Violation{Code: decoder.VersionChanged, Offset: 8, Header: h(1, decoder.SYN, 0, 3), Want: 2},
			version:   2,
		},
		{name: "Expect(0), nothing", expect: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			want := result{frames: tt.want, offset: int64(len(in)), nframes: uint64(len(tt.want)), version: tt.version}
			if tt.violation != nil {
				want.violations = []decoder.Violation{*tt.violation}
				want.unparsed = int64(len(in)) - tt.violation.Offset
			}
			for name, chunk := range allSplits(len(in)) {
				got := decodeWith(t, opts{snaplen: 256, expect: tt.expect}, in, chunk)
				if d := got.diff(want); d != "" {
					t.Errorf("%s: %s", name, d)
				}
			}
			// A version no end speaks changes nothing: today's behaviour.
			if tt.expect != 1 && tt.expect != 2 {
				if d := decode(t, 256, in, whole).diff(want); d != "" {
					t.Errorf("without Expect: %s", d)
				}
			}
		})
	}
}

// TestExpectIgnored checks that Expect changes nothing once Next has
// consumed a byte, or after End.
func TestExpectIgnored(t *testing.T) {
	tests := []struct {
		name   string
		before func(d *decoder.Decoder)
	}{
		{"after part of a header", func(d *decoder.Decoder) { d.Next([]byte(v1SYN3[:3])) }},
		{"after a frame", func(d *decoder.Decoder) { d.Next([]byte(v1SYN3)) }},
		{"after End", func(d *decoder.Decoder) { d.End() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder.New(256)
			tt.before(d)
			off := d.Offset()
			d.Expect(2)
			if d.Version() == 2 {
				t.Errorf("Version() = 2 after a late Expect(2), want it ignored")
			}
			rest := []byte(v1SYN3 + v1RAND3)[off:]
			for len(rest) > 0 {
				n, _, err := d.Next(rest)
				rest = rest[n:]
				if err != nil {
					t.Fatalf("Next = %v, want no violation: the late Expect(2) is ignored", err)
				}
			}
		})
	}
	t.Run("after Next(nil)", func(t *testing.T) {
		d := decoder.New(256)
		d.Next(nil)
		d.Expect(2)
		if _, _, err := d.Next([]byte(v1SYN3)); err == nil {
			t.Errorf("Next(v1 SYN) = nil error, want VERSION_MISMATCH: Next(nil) consumed nothing")
		}
	})
}

// TestExpectFastPath checks that with Expect the first frame already takes
// the fast path, which frames the payload in place in the input.
func TestExpectFastPath(t *testing.T) {
	in := []byte(v1RAND3 + v1RAND3)
	for _, expect := range []int{noExpect, 1} {
		d := decoder.New(256)
		if expect != noExpect {
			d.Expect(uint8(expect))
		}
		_, f, err := d.Next(in)
		if f == nil || err != nil {
			t.Fatalf("Expect %d: Next = %v, %v; want the first frame", expect, f, err)
		}
		if inPlace := &f.Payload[0] == &in[decoder.HeaderSize]; inPlace != (expect != noExpect) {
			t.Errorf("Expect %d: payload in place in the input: %v, want %v", expect, inPlace, expect != noExpect)
		}
	}
}

// TestReject turns a frame Next returned into a violation, in every
// chunking, and checks the violation, the counters and the accounting.
func TestReject(t *testing.T) {
	h := decoder.MakeHeader
	tests := []struct {
		name    string
		snaplen int
		in      string
		reject  int // index of the frame to reject
		code    decoder.Code
		want    uint8
		header  decoder.Header
		offset  int64
		detail  string
	}{
		{
			name: "first frame, of the other direction's version", snaplen: 256,
			in: v2SYN3 + v2UPD3, reject: 0, code: decoder.VersionMismatch, want: 1,
			header: h(2, decoder.SYN, 0, 3), offset: 0, detail: "v2 frame to an end that speaks v1",
		},
		{
			name: "UPD in the middle", snaplen: 256,
			in: v2SYN3 + v2UPD3 + v2SYN3, reject: 1, code: decoder.VersionMismatch, want: 1,
			header: h(2, decoder.UPD, 8, 3), offset: 8, detail: "v2 frame to an end that speaks v1",
		},
		{
			name: "last frame", snaplen: 256,
			in: v1SYN3 + v1RAND3, reject: 1, code: decoder.VersionMismatch, want: 2,
			header: h(1, decoder.PSH, 4, 3), offset: 8, detail: "v1 frame to an end that speaks v2",
		},
		{
			name: "PSH longer than snaplen", snaplen: 2,
			in: v1SYN3 + v1Answer + v1FIN3, reject: 1, code: decoder.VersionMismatch, want: 2,
			header: h(1, decoder.PSH, 8, 3), offset: 8, detail: "v1 frame to an end that speaks v2",
		},
		{
			name: "another code", snaplen: 256,
			in: v1NOP + v1NOP, reject: 1, code: decoder.UnknownCmd, want: 1,
			header: h(1, decoder.NOP, 0, 0), offset: 8, detail: "unknown cmd 3 in v1",
		},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		for name, chunk := range allSplits(len(in)) {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				d := decoder.New(tt.snaplen)
				var framed int64 // wire bytes of the frames before the rejected one
				var v *decoder.Violation
				nframes := 0
				for p := in; len(p) > 0; {
					q := p[:min(chunk(), len(p))]
					p = p[len(q):]
					for len(q) > 0 {
						n, f, err := d.Next(q)
						q = q[n:]
						if err != nil {
							t.Fatalf("Next: %v", err)
						}
						if f == nil {
							continue
						}
						if v != nil {
							t.Fatalf("Next returned a frame at %d after Reject", f.Offset)
						}
						if nframes == tt.reject {
							if v = d.Reject(f, tt.code, tt.want); v == nil {
								t.Fatalf("Reject(frame at %d) = nil, want a violation", f.Offset)
							}
							continue
						}
						nframes++
						framed += f.Size()
					}
				}
				want := decoder.Violation{Code: tt.code, Offset: tt.offset, Header: tt.header, Want: tt.want}
				if v == nil || *v != want {
					t.Fatalf("Reject = %+v, want %+v", v, want)
				}
				if d.Violation() != v {
					t.Errorf("Violation() = %p, want the returned %p", d.Violation(), v)
				}
				total := int64(len(in))
				if d.Offset() != total || d.Unparsed() != total-tt.offset || d.Pending() != 0 || d.Frames() != uint64(tt.reject) {
					t.Errorf("Offset/Unparsed/Pending/Frames = %d/%d/%d/%d, want %d/%d/0/%d",
						d.Offset(), d.Unparsed(), d.Pending(), d.Frames(), total, total-tt.offset, tt.reject)
				}
				if framed+d.Unparsed() != d.Offset() {
					t.Errorf("framed %d + Unparsed %d = %d, want Offset %d", framed, d.Unparsed(), framed+d.Unparsed(), d.Offset())
				}
				if !strings.Contains(v.Error(), tt.detail) || !strings.Contains(v.Error(), tt.code.SmuxReaction()) {
					t.Errorf("Error() = %q, want it to contain %q and %q", v.Error(), tt.detail, tt.code.SmuxReaction())
				}

				// Afterwards everything, even a valid frame, is unparsed.
				more := []byte(v1SYN3 + v1RAND3)
				if n, f, err := d.Next(more); n != len(more) || f != nil || err != nil {
					t.Errorf("after Reject, Next(%d bytes) = %d, %v, %v; want %d, nil, nil", len(more), n, f, err, len(more))
				}
				if d.Unparsed() != total+int64(len(more))-tt.offset || d.Violation() != v {
					t.Errorf("after more input, Unparsed = %d, Violation() = %v; want %d, %v",
						d.Unparsed(), d.Violation(), total+int64(len(more))-tt.offset, v)
				}
				if again := d.Reject(&decoder.Frame{}, tt.code, tt.want); again != nil {
					t.Errorf("second Reject = %v, want nil", again)
				}
			})
		}
	}
}

// TestRejectIgnored checks that Reject does nothing unless it is given the
// frame the last Next returned, of a decoder that has not stopped.
func TestRejectIgnored(t *testing.T) {
	syn, rnd := []byte(v1SYN3), []byte(v1RAND3)
	tests := []struct {
		name  string
		setup func(d *decoder.Decoder) *decoder.Frame // returns what to reject
		code  decoder.Code
	}{
		{"nil frame", func(d *decoder.Decoder) *decoder.Frame {
			d.Next(syn)
			return nil
		}, decoder.VersionMismatch},
		{"code 0", func(d *decoder.Decoder) *decoder.Frame {
			_, f, _ := d.Next(syn)
			return f
		}, 0},
		{"no frame yet", func(d *decoder.Decoder) *decoder.Frame {
			d.Next(syn[:3])
			return &decoder.Frame{}
		}, decoder.VersionMismatch},
		{"Next consumed part of the next frame since", func(d *decoder.Decoder) *decoder.Frame {
			_, f, _ := d.Next(syn)
			d.Next(rnd[:3])
			return f
		}, decoder.VersionMismatch},
		{"an earlier frame", func(d *decoder.Decoder) *decoder.Frame {
			_, f, _ := d.Next(syn)
			earlier := *f
			d.Next(rnd)
			return &earlier
		}, decoder.VersionMismatch},
		{"after a violation", func(d *decoder.Decoder) *decoder.Frame {
			_, f, _ := d.Next(syn)
			earlier := *f
			d.Next([]byte("\x07" + v1SYN3[1:]))
			return &earlier
		}, decoder.VersionMismatch},
		{"after End", func(d *decoder.Decoder) *decoder.Frame {
			_, f, _ := d.Next(syn)
			d.End()
			return f
		}, decoder.VersionMismatch},
	}
	type state struct {
		v                      *decoder.Violation
		frames                 uint64
		off, unparsed, pending int64
	}
	stateOf := func(d *decoder.Decoder) state {
		return state{d.Violation(), d.Frames(), d.Offset(), d.Unparsed(), d.Pending()}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder.New(256)
			f := tt.setup(d)
			before := stateOf(d)
			if v := d.Reject(f, tt.code, 2); v != nil {
				t.Fatalf("Reject = %v, want nil", v)
			}
			if after := stateOf(d); after != before {
				t.Errorf("Reject changed the decoder from %+v to %+v", before, after)
			}
		})
	}
}

// TestMismatchRecording decodes the recorded traffic of a v1 client and a
// v2 server: each direction alone is valid, and refused from its first
// frame by the receiving end, which speaks the other version.
func TestMismatchRecording(t *testing.T) {
	r := loadRecording(t, "v1-client-v2-server")
	h := decoder.MakeHeader
	tests := []struct {
		name      string
		in        []byte
		expect    int // the receiving end's version, or noExpect
		violation *decoder.Violation
		version   uint8
	}{
		{
			name: "c2s to the v2 server", in: r.c2s, expect: 2,
			violation: &decoder.Violation{Code: decoder.VersionMismatch, Offset: 0, Header: h(1, decoder.SYN, 0, 3), Want: 2},
			version:   2,
		},
		{
			name: "s2c to the v1 client", in: r.s2c, expect: 1,
			violation: &decoder.Violation{Code: decoder.VersionMismatch, Offset: 0, Header: h(2, decoder.NOP, 0, 0), Want: 1},
			version:   1,
		},
		{name: "c2s without Expect", in: r.c2s, expect: noExpect, version: 1},
		{name: "s2c without Expect", in: r.s2c, expect: noExpect, version: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeWith(t, opts{snaplen: 256, expect: tt.expect, end: true}, tt.in, whole)
			switch {
			case tt.violation == nil && len(got.violations) != 0:
				t.Errorf("violation %v, want none", &got.violations[0])
			case tt.violation == nil && (got.unparsed != 0 || len(got.frames) == 0):
				t.Errorf("%d frames, %d bytes unparsed; want frames and nothing unparsed", len(got.frames), got.unparsed)
			case tt.violation != nil && (len(got.violations) != 1 || got.violations[0] != *tt.violation):
				t.Errorf("violations %+v, want %+v", got.violations, *tt.violation)
			case tt.violation != nil && (len(got.frames) != 0 || got.unparsed != int64(len(tt.in))):
				t.Errorf("%d frames, %d bytes unparsed; want none and %d", len(got.frames), got.unparsed, len(tt.in))
			}
			if got.version != tt.version || got.offset != int64(len(tt.in)) {
				t.Errorf("Version/Offset = %d/%d, want %d/%d", got.version, got.offset, tt.version, len(tt.in))
			}
		})
	}
}

// checkMismatch checks a recording of runMismatch, whose sides speak
// different versions: each direction is valid traffic of its sender's
// version, the receiving end refuses it from the first frame of the other
// version on, and each side's last call failed with ErrInvalidProtocol.
func checkMismatch(t *testing.T, exp *expectation, c2s, s2c []byte) {
	t.Helper()
	for _, side := range []string{client, server} {
		calls := exp.Calls[side]
		if len(calls) == 0 || calls[len(calls)-1].Err != "smux.ErrInvalidProtocol" {
			t.Errorf("%s calls %+v, want the last to fail with smux.ErrInvalidProtocol", side, calls)
		}
	}
	dirs := []struct {
		name             string
		in               []byte
		sender, receiver string
	}{
		{"c2s", c2s, client, server},
		{"s2c", s2c, server, client},
	}
	for _, dir := range dirs {
		t.Run(dir.name, func(t *testing.T) {
			sent, recv := uint8(exp.versionOf(dir.sender)), uint8(exp.versionOf(dir.receiver))

			// Alone, a direction is valid traffic of its sender's version.
			alone := decode(t, decoder.MaxSnaplen, dir.in, whole)
			if len(alone.violations) != 0 || alone.pending != 0 || alone.version != sent || len(alone.frames) == 0 {
				t.Fatalf("without Expect: violations %v, %d pending, version %d, %d frames; want none, 0, %d, some",
					alone.violations, alone.pending, alone.version, len(alone.frames), sent)
			}

			// The receiving end refuses the first frame of the other version.
			starts, _ := frameStarts(dir.in)
			k := 0
			for k < len(starts) && dir.in[starts[k]] == recv {
				k++
			}
			if k == len(starts) {
				t.Fatalf("no frame of another version than the receiver's %d", recv)
			}
			off := int64(starts[k])
			bad := decoder.Violation{Code: decoder.VersionMismatch, Offset: off, Header: decoder.Header(dir.in[off:]), Want: recv}
			want := result{
				frames:     alone.frames[:k],
				violations: []decoder.Violation{bad},
				offset:     int64(len(dir.in)),
				unparsed:   int64(len(dir.in)) - off,
				nframes:    uint64(k),
				version:    recv,
			}
			if d := decodeWith(t, opts{snaplen: decoder.MaxSnaplen, expect: int(recv)}, dir.in, whole).diff(want); d != "" {
				t.Errorf("with Expect(%d): %s", recv, d)
			}

			// Rejecting that frame, as one does on seeing that the two
			// directions disagree, gives the same violation.
			d := decoder.New(decoder.MaxSnaplen)
			var v *decoder.Violation
			for p := dir.in; len(p) > 0 && v == nil; {
				n, f, _ := d.Next(p)
				p = p[n:]
				if f != nil && f.Offset == off {
					v = d.Reject(f, decoder.VersionMismatch, recv)
				}
			}
			if v == nil || *v != bad || d.Frames() != uint64(k) || d.Unparsed() != d.Offset()-off {
				t.Errorf("Reject = %+v with Frames/Unparsed/Offset %d/%d/%d, want %+v with %d/%d/%d",
					v, d.Frames(), d.Unparsed(), d.Offset(), bad, k, d.Offset()-off, d.Offset())
			}
		})
	}

	// What the applications sent: the client's SYN and PSH "RAND" on the
	// stream OpenStream returned, the server's keepalive NOPs.
	var sid uint32
	if calls := exp.Calls[client]; len(calls) > 0 {
		sid = uint32(calls[0].N)
	}
	h := decoder.MakeHeader
	wantC2S := []frameRec{
		{Offset: 0, Header: h(1, decoder.SYN, 0, sid)},
		{Offset: 8, Header: h(1, decoder.PSH, 4, sid), Payload: "RAND"},
	}
	if got := decode(t, decoder.MaxSnaplen, c2s, whole).frames; !slices.Equal(got, wantC2S) {
		t.Errorf("c2s frames %v, want %v", got, wantC2S)
	}
	nops := 0
	for _, f := range decode(t, decoder.MaxSnaplen, s2c, whole).frames {
		if f.Header != h(2, decoder.NOP, 0, 0) {
			t.Errorf("s2c frame %v, want only v2 NOPs", f)
		}
		nops++
	}
	if nops < exp.MinNOP {
		t.Errorf("%d NOPs s2c, want at least %d", nops, exp.MinNOP)
	}
}

// TestRejectWhileReplaying rejects the first frame a resynchronisation
// found, as the tap's feeder does when a capture joined a session whose
// two directions speak different versions: the bytes the hunt still holds
// after it are unparsed, and Buffered is 0, or a caller framing while
// Buffered is above 0 (tap.Feeder.Feed) loops forever on a stopped
// decoder. (muxtop read spun at 100% CPU on a capture of --fault
// mismatch begun mid-session.)
func TestRejectWhileReplaying(t *testing.T) {
	var b []byte
	for range 4 {
		h := decoder.MakeHeader(1, decoder.NOP, 0, 0)
		b = append(b, h[:]...)
	}
	d := decoder.New(256)
	d.Resync()
	n, f, err := d.Next(b)
	if f == nil || err != nil {
		t.Fatalf("Next = %d, %v, %v: want the first NOP", n, f, err)
	}
	if v := d.Reject(f, decoder.VersionMismatch, 2); v == nil {
		t.Fatal("Reject = nil, want a violation")
	}
	for i := 0; d.Buffered() > 0; i++ {
		if i == 10 {
			t.Fatalf("Buffered() = %d after Reject, and Next frames none of it", d.Buffered())
		}
		d.Next(nil)
	}
	d.Next(b[n:])
	if got, want := d.Offset(), int64(len(b)); got != want {
		t.Errorf("Offset = %d, want %d", got, want)
	}
	if got, want := d.Unparsed(), int64(len(b)); got != want {
		t.Errorf("Unparsed = %d, want %d (the rejected frame and every byte after it)", got, want)
	}
}
