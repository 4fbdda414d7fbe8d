package decoder_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

// truncatedAt returns the violation End reports for a stream that ends
// after the first got bytes of the frame at off in b.
func truncatedAt(b []byte, off, got int, want uint8) decoder.Violation {
	var h decoder.Header
	copy(h[:], b[off:off+min(got, decoder.HeaderSize)])
	return decoder.Violation{
		Code: decoder.Truncated, Offset: int64(off), Header: h, Want: want,
		HeaderComplete: got >= decoder.HeaderSize, Got: int64(got),
	}
}

// checkEnded checks the decoder after End: the accounting, and that Next
// consumes everything without framing it.
func checkEnded(t *testing.T, d *decoder.Decoder, framed int64) {
	t.Helper()
	if d.Pending() != 0 || framed+d.Unparsed() != d.Offset() {
		t.Errorf("after End, Pending %d, framed %d + Unparsed %d = %d; want 0 and Offset %d",
			d.Pending(), framed, d.Unparsed(), framed+d.Unparsed(), d.Offset())
	}
	more := []byte(v1SYN3 + v1RAND3)
	off, unparsed, v := d.Offset(), d.Unparsed(), d.Violation()
	if n, f, err := d.Next(more); n != len(more) || f != nil || err != nil {
		t.Errorf("after End, Next(%d bytes) = %d, %v, %v; want %d, nil, nil", len(more), n, f, err, len(more))
	}
	if d.Offset() != off+int64(len(more)) || d.Unparsed() != unparsed+int64(len(more)) || d.Violation() != v {
		t.Errorf("after End and more input, Offset/Unparsed = %d/%d, Violation() %v; want %d/%d, %v",
			d.Offset(), d.Unparsed(), d.Violation(), off+int64(len(more)), unparsed+int64(len(more)), v)
	}
	if again := d.End(); again != nil {
		t.Errorf("second End = %v, want nil", again)
	}
}

// TestEnd ends hand-written streams, whole and split at every position,
// and checks End's violation and what it says.
func TestEnd(t *testing.T) {
	h := decoder.MakeHeader
	tests := []struct {
		name      string
		expect    int // given to Expect, unless noExpect
		in        string
		violation *decoder.Violation // nil: End returns nil
		frames    int                // frames before the end
		detail    string
	}{
		{name: "nothing", expect: noExpect},
		{name: "a complete stream", expect: noExpect, in: v1SYN3 + v1RAND3 + v1FIN3, frames: 3},
		{
			name: "1 byte of a header", expect: noExpect,
			in:        v1SYN3 + v1RAND3[:1],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 8, Header: decoder.Header([]byte("\x01" + "\x00" + "\x00\x00" + "\x00\x00\x00\x00")), Want: 1, Got: 1},
			frames:    1, detail: "stream ended 1 byte into a frame header",
		},
		{
			name: "3 bytes of the first header", expect: noExpect,
			in:        v1RAND3[:3],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 0, Header: decoder.Header([]byte("\x01" + "\x02" + "\x04\x00" + "\x00\x00\x00\x00")), Got: 3},
			detail:    "stream ended 3 bytes into a frame header",
		},
		{
			name: "7 bytes of a header", expect: noExpect,
			in:        v1SYN3 + v1RAND3[:7],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 8, Header: decoder.Header([]byte("\x01" + "\x02" + "\x04\x00" + "\x03\x00\x00\x00")), Want: 1, Got: 7},
			frames:    1, detail: "stream ended 7 bytes into a frame header",
		},
		{
			name: "a PSH header without its payload", expect: noExpect,
			in:        v1SYN3 + v1RAND3[:8],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 8, Header: h(1, decoder.PSH, 4, 3), Want: 1, HeaderComplete: true, Got: 8},
			frames:    1, detail: "stream ended 8 of 12 bytes into a PSH frame (sid 3)",
		},
		{
			name: "3 of 4 payload bytes", expect: noExpect,
			in:        v1SYN3 + v1RAND3[:11],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 8, Header: h(1, decoder.PSH, 4, 3), Want: 1, HeaderComplete: true, Got: 11},
			frames:    1, detail: "stream ended 11 of 12 bytes into a PSH frame (sid 3)",
		},
		{
			name: "a UPD, to an end that speaks v2", expect: 2,
			in:        v2UPD3[:13],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 0, Header: h(2, decoder.UPD, 8, 3), Want: 2, HeaderComplete: true, Got: 13},
			detail:    "stream ended 13 of 16 bytes into a UPD frame (sid 3)",
		},
		{
			// smux reads the whole header before it checks the version.
			name: "part of a header with a bad version", expect: 2,
			in:        v2SYN3 + "\x07" + v1RAND3[1:6],
			violation: &decoder.Violation{Code: decoder.Truncated, Offset: 8, Header: decoder.Header([]byte("\x07" + "\x02" + "\x04\x00" + "\x03\x00" + "\x00\x00")), Want: 2, Got: 6},
			frames:    1, detail: "stream ended 6 bytes into a frame header",
		},
		{name: "after a violation", expect: noExpect, in: v1SYN3 + "\x07" + v1RAND3[1:] + v1SYN3[:3], frames: 1},
		{name: "after a mismatch", expect: 2, in: v1SYN3 + v1RAND3[:5], frames: 0},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		for name, chunk := range allSplits(len(in)) {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				d := decoder.New(256)
				if tt.expect != noExpect {
					d.Expect(uint8(tt.expect))
				}
				var framed int64
				frames := 0
				for p := in; len(p) > 0; {
					q := p[:min(chunk(), len(p))]
					p = p[len(q):]
					for len(q) > 0 {
						n, f, _ := d.Next(q)
						q = q[n:]
						if f != nil {
							frames++
							framed += f.Size()
						}
					}
				}
				stopped := d.Violation()
				v := d.End()
				switch {
				case tt.violation == nil && v != nil:
					t.Fatalf("End = %v, want nil", v)
				case tt.violation != nil && (v == nil || *v != *tt.violation):
					t.Fatalf("End = %+v, want %+v", v, *tt.violation)
				case v != nil && d.Violation() != v:
					t.Errorf("Violation() = %p, want End's %p", d.Violation(), v)
				case v == nil && d.Violation() != stopped:
					t.Errorf("Violation() = %v after End, want %v", d.Violation(), stopped)
				}
				if frames != tt.frames || d.Frames() != uint64(tt.frames) {
					t.Errorf("%d frames, Frames() = %d; want %d", frames, d.Frames(), tt.frames)
				}
				if v != nil {
					if v.Detail() != tt.detail {
						t.Errorf("Detail() = %q, want %q", v.Detail(), tt.detail)
					}
					want := fmt.Sprintf("decoder: %s at offset %d: %s", tt.detail, tt.violation.Offset, decoder.Truncated.SmuxReaction())
					if v.Error() != want {
						t.Errorf("Error() = %q, want %q", v.Error(), want)
					}
					if d.Unparsed() != int64(len(in))-v.Offset {
						t.Errorf("Unparsed() = %d, want the %d bytes of the frame", d.Unparsed(), int64(len(in))-v.Offset)
					}
				}
				checkEnded(t, d, framed)
			})
		}
	}
}

// TestEndEveryCut ends a stream of v2 frames after every byte, with and
// without Expect(2): between frames End returns nil, inside one a Truncated
// violation at its offset.
func TestEndEveryCut(t *testing.T) {
	in := []byte(v2SYN3 + v2UPD3 + "\x02" + "\x02" + "\x05\x00" + "\x03\x00\x00\x00" + "hello" + v2SYN3)
	starts, end := frameStarts(in)
	if end != len(in) {
		t.Fatalf("the stream has %d bytes after its frames", len(in)-end)
	}
	for cut := 0; cut <= len(in); cut++ {
		// The last frame that starts before the cut, and how much of it is
		// before the cut: if the cut is not at the end, all of it is not.
		i := len(starts) - 1
		for i > 0 && starts[i] > cut {
			i--
		}
		off, got := starts[i], cut-starts[i]
		for _, expect := range []int{noExpect, 2} {
			var want *decoder.Violation
			if got > 0 && cut < len(in) {
				// Without Expect, the version is known from the first whole header on.
				ver := uint8(2)
				if expect == noExpect && cut < decoder.HeaderSize {
					ver = 0
				}
				v := truncatedAt(in, off, got, ver)
				want = &v
			}
			for _, chunking := range []struct {
				name  string
				chunk func() int
			}{{"whole", whole}, {"bytewise", bytewise}} {
				t.Run(fmt.Sprintf("cut at %d/expect %d/%s", cut, expect, chunking.name), func(t *testing.T) {
					r := decodeWith(t, opts{snaplen: 256, expect: expect, end: true}, in[:cut], chunking.chunk)
					var framed int64
					for _, f := range r.frames {
						framed += decoder.HeaderSize + int64(f.Header.Length())
					}
					switch {
					case want == nil && len(r.violations) != 0:
						t.Errorf("End = %v, want nil", &r.violations[0])
					case want != nil && (len(r.violations) != 1 || r.violations[0] != *want):
						t.Errorf("violations %+v, want %+v", r.violations, *want)
					case framed+r.unparsed != r.offset || r.offset != int64(cut):
						t.Errorf("framed %d + unparsed %d, Offset %d; want %d", framed, r.unparsed, r.offset, cut)
					}
				})
			}
		}
	}
}

// TestEndRecording cuts real smux traffic inside frames, at several points
// of a header and of a payload, and checks End's violation.
func TestEndRecording(t *testing.T) {
	tests := []struct {
		scenario, dir string
		cmd           decoder.Cmd // cut inside the nth frame of cmd, from 0
		nth           int
	}{
		{scenario: "v1-rand", dir: "c2s", cmd: decoder.PSH, nth: 0},
		{scenario: "v1-rand", dir: "s2c", cmd: decoder.PSH, nth: 3},
		{scenario: "v1-big", dir: "s2c", cmd: decoder.PSH, nth: 1},
		{scenario: "v2-upd", dir: "s2c", cmd: decoder.UPD, nth: 2},
		{scenario: "v2-upd", dir: "c2s", cmd: decoder.FIN, nth: 0},
	}
	for _, tt := range tests {
		r := loadRecording(t, tt.scenario)
		in := r.c2s
		if tt.dir == "s2c" {
			in = r.s2c
		}
		starts, _ := frameStarts(in)
		var ofCmd []int
		for _, off := range starts {
			if decoder.Cmd(in[off+1]) == tt.cmd {
				ofCmd = append(ofCmd, off)
			}
		}
		if tt.nth >= len(ofCmd) {
			t.Fatalf("%s.%s has %d %v frames, want a #%d", tt.scenario, tt.dir, len(ofCmd), tt.cmd, tt.nth)
		}
		off := ofCmd[tt.nth]
		size := decoder.HeaderSize + int(decoder.Header(in[off:]).Length())
		cuts := []int{1, 4, decoder.HeaderSize - 1}
		if size > decoder.HeaderSize {
			cuts = append(cuts, decoder.HeaderSize, decoder.HeaderSize+1, (decoder.HeaderSize+size)/2, size-1)
		}
		prefix := decode(t, 256, in[:off], whole)
		for _, got := range slices.Compact(cuts) {
			name := fmt.Sprintf("%s.%s/%v at %d/%d of %d bytes", tt.scenario, tt.dir, decoder.Header(in[off:]).Cmd(), off, got, size)
			t.Run(name, func(t *testing.T) {
				want := truncatedAt(in, off, got, uint8(r.exp.Version))
				for _, c := range []struct {
					name  string
					chunk func() int
				}{{"whole", whole}, {"in 1000-byte reads", func() int { return 1000 }}} {
					res := decodeWith(t, opts{snaplen: 256, expect: r.exp.Version, end: true}, in[:off+got], c.chunk)
					if len(res.violations) != 1 || res.violations[0] != want {
						t.Fatalf("%s: violations %+v, want %+v", c.name, res.violations, want)
					}
					if !slices.Equal(res.frames, prefix.frames) || res.unparsed != int64(got) || res.offset != int64(off+got) {
						t.Errorf("%s: %d frames, unparsed %d, Offset %d; want the %d frames before, %d, %d",
							c.name, len(res.frames), res.unparsed, res.offset, len(prefix.frames), got, off+got)
					}
				}
				h := decoder.Header(in[off:])
				detail := fmt.Sprintf("stream ended %d of %d bytes into a %v frame (sid %d)", got, size, h.Cmd(), h.StreamID())
				if got < decoder.HeaderSize {
					detail = fmt.Sprintf("stream ended %d bytes into a frame header", got)
				}
				if got == 1 {
					detail = "stream ended 1 byte into a frame header"
				}
				if want.Detail() != detail || !strings.HasSuffix(want.Error(), `: smux stops reading the session: every stream's read fails with "unexpected EOF" ("EOF" when the cut falls between a header and its payload)`) {
					t.Errorf("Detail() = %q, Error() = %q; want %q and smux's reaction", want.Detail(), want.Error(), detail)
				}
			})
		}
	}
}
