package decoder_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

var chunkSeed = flag.Uint64("chunkseed", 0, "seed of TestChunkingInvariance's random chunkings (0: a random one)")

// frameRec is a decoded frame with its payload copied, so that it outlives
// the call to Next and compares with ==.
type frameRec struct {
	Offset    int64
	Header    decoder.Header
	Payload   string
	Truncated bool
	Consumed  uint32
	Window    uint32
	Lost      int64
}

func (r frameRec) String() string {
	return fmt.Sprintf("{off %d %v payload %q truncated %v consumed %d window %d lost %d}",
		r.Offset, r.Header, r.Payload, r.Truncated, r.Consumed, r.Window, r.Lost)
}

func recOf(f *decoder.Frame) frameRec {
	return frameRec{f.Offset, f.Header, string(f.Payload), f.Truncated, f.Consumed, f.Window, f.Lost}
}

// result is everything a decoder yields for one input.
type result struct {
	frames     []frameRec
	violations []decoder.Violation
	offset     int64
	pending    int64
	unparsed   int64
	nframes    uint64
	version    uint8
}

// diff describes the first difference between two results, or returns "".
func (r result) diff(want result) string {
	for i := range min(len(r.frames), len(want.frames)) {
		if r.frames[i] != want.frames[i] {
			return fmt.Sprintf("frame %d: got %v, want %v", i, r.frames[i], want.frames[i])
		}
	}
	switch {
	case len(r.frames) != len(want.frames):
		return fmt.Sprintf("got %d frames, want %d", len(r.frames), len(want.frames))
	case !slices.Equal(r.violations, want.violations):
		return fmt.Sprintf("violations: got %+v, want %+v", r.violations, want.violations)
	case r.offset != want.offset || r.pending != want.pending || r.unparsed != want.unparsed:
		return fmt.Sprintf("offset/pending/unparsed: got %d/%d/%d, want %d/%d/%d",
			r.offset, r.pending, r.unparsed, want.offset, want.pending, want.unparsed)
	case r.nframes != want.nframes || r.version != want.version:
		return fmt.Sprintf("Frames/Version: got %d/%d, want %d/%d", r.nframes, r.version, want.nframes, want.version)
	}
	return ""
}

// decode feeds in to a new Decoder in chunks of the sizes chunk returns and
// collects what it yields. It fails t if Next breaks its contract.
func decode(t testing.TB, snaplen int, in []byte, chunk func() int) result {
	t.Helper()
	return decodeWith(t, opts{snaplen: snaplen, expect: noExpect}, in, chunk)
}

// opts says how decodeWith sets up and ends a Decoder.
type opts struct {
	snaplen int
	expect  int  // given to Expect, unless it is noExpect
	end     bool // call End after the input
}

const noExpect = -1

// decodeWith is decode with opts. A violation End returns is collected
// with those Next returns.
func decodeWith(t testing.TB, o opts, in []byte, chunk func() int) result {
	t.Helper()
	d := decoder.New(o.snaplen)
	if o.expect != noExpect {
		d.Expect(uint8(o.expect))
	}
	var r result
	for len(in) > 0 {
		c := min(max(chunk(), 1), len(in))
		p := in[:c]
		in = in[c:]
		for len(p) > 0 {
			n, f, err := d.Next(p)
			if n < 1 || n > len(p) {
				t.Fatalf("Next(%d bytes) consumed %d", len(p), n)
			}
			p = p[n:]
			if f != nil {
				if err != nil {
					t.Fatalf("Next returned a frame and %v", err)
				}
				r.frames = append(r.frames, recOf(f))
			}
			if err != nil {
				v, ok := errors.AsType[*decoder.Violation](err)
				if !ok {
					t.Fatalf("Next returned %T %v, want *decoder.Violation", err, err)
				}
				if v != d.Violation() {
					t.Fatalf("Next returned %p, Violation() %p: want the same", v, d.Violation())
				}
				r.violations = append(r.violations, *v)
			}
		}
	}
	if o.end {
		stopped, pending := d.Violation() != nil, d.Pending()
		v := d.End()
		switch {
		case v == nil && pending > 0 && !stopped:
			t.Fatalf("End with %d bytes pending returned nil", pending)
		case v != nil && (pending == 0 || stopped):
			t.Fatalf("End with %d bytes pending, after violation %v, returned %v; want nil", pending, stopped, v)
		case v != nil && v != d.Violation():
			t.Fatalf("End returned %p, Violation() %p: want the same", v, d.Violation())
		case d.Pending() != 0:
			t.Fatalf("Pending() = %d after End, want 0", d.Pending())
		}
		if v != nil {
			r.violations = append(r.violations, *v)
		}
	}
	r.offset, r.pending, r.unparsed = d.Offset(), d.Pending(), d.Unparsed()
	r.nframes, r.version = d.Frames(), d.Version()
	return r
}

// whole feeds the input in one chunk.
func whole() int { return 1 << 62 }

// bytewise feeds the input one byte at a time.
func bytewise() int { return 1 }

// sizes feeds chunks of the given sizes, then the rest.
func sizes(s ...int) func() int {
	return func() int {
		if len(s) == 0 {
			return 1 << 62
		}
		c := s[0]
		s = s[1:]
		return c
	}
}

// Wire bytes of a few frames, segmented as ver + cmd + length + sid.
const (
	v1SYN3   = "\x01" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00"
	v1RAND3  = "\x01" + "\x02" + "\x04\x00" + "\x03\x00\x00\x00" + "RAND"
	v1FIN3   = "\x01" + "\x01" + "\x00\x00" + "\x03\x00\x00\x00"
	v1NOP    = "\x01" + "\x03" + "\x00\x00" + "\x00\x00\x00\x00"
	v2SYN3   = "\x02" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00"
	v2UPD3   = "\x02" + "\x04" + "\x08\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00" + "\x00\x00\x01\x00"
	v1Answer = "\x01" + "\x02" + "\x08\x00" + "\x03\x00\x00\x00" + "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"
)

// TestNextLiterals decodes hand-written wire bytes, whole, byte by byte and
// split in two at every position.
func TestNextLiterals(t *testing.T) {
	h := decoder.MakeHeader
	big := strings.Repeat("x", decoder.MaxSnaplen)
	tests := []struct {
		name    string
		snaplen int
		in      string
		want    []frameRec
		pending int64
	}{
		{name: "empty", snaplen: 256},
		{
			name: "v1 RAND request", snaplen: 256,
			in: v1SYN3 + v1RAND3 + v1FIN3,
			want: []frameRec{
				{Offset: 0, Header: h(1, decoder.SYN, 0, 3)},
				{Offset: 8, Header: h(1, decoder.PSH, 4, 3), Payload: "RAND"},
				{Offset: 20, Header: h(1, decoder.FIN, 0, 3)},
			},
		},
		{
			name: "v1 RAND answer", snaplen: 256,
			in: v1Answer + v1FIN3,
			want: []frameRec{
				{Offset: 0, Header: h(1, decoder.PSH, 8, 3), Payload: "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"},
				{Offset: 16, Header: h(1, decoder.FIN, 0, 3)},
			},
		},
		{
			name: "keepalive NOP", snaplen: 256,
			in:   v1NOP + v1NOP,
			want: []frameRec{{Offset: 0, Header: h(1, decoder.NOP, 0, 0)}, {Offset: 8, Header: h(1, decoder.NOP, 0, 0)}},
		},
		{
			name: "v2 UPD", snaplen: 256,
			in: v2SYN3 + v2UPD3,
			want: []frameRec{
				{Offset: 0, Header: h(2, decoder.SYN, 0, 3)},
				{Offset: 8, Header: h(2, decoder.UPD, 8, 3), Payload: "\x04\x00\x00\x00\x00\x00\x01\x00", Consumed: 4, Window: 65536},
			},
		},
		{
			name: "v2 UPD with snaplen 0 still has consumed and window", snaplen: 0,
			in:   v2UPD3,
			want: []frameRec{{Offset: 0, Header: h(2, decoder.UPD, 8, 3), Truncated: true, Consumed: 4, Window: 65536}},
		},
		{
			name: "PSH of length 0", snaplen: 256,
			in:   "\x01" + "\x02" + "\x00\x00" + "\x05\x00\x00\x00",
			want: []frameRec{{Offset: 0, Header: h(1, decoder.PSH, 0, 5)}},
		},
		{
			name: "snaplen truncates", snaplen: 2,
			in: v1RAND3 + v1FIN3,
			want: []frameRec{
				{Offset: 0, Header: h(1, decoder.PSH, 4, 3), Payload: "RA", Truncated: true},
				{Offset: 12, Header: h(1, decoder.FIN, 0, 3)},
			},
		},
		{
			name: "snaplen equal to length", snaplen: 4,
			in:   v1RAND3,
			want: []frameRec{{Offset: 0, Header: h(1, decoder.PSH, 4, 3), Payload: "RAND"}},
		},
		{
			name: "fields are little-endian", snaplen: 256,
			in:   "\x01" + "\x02" + "\x01\x00" + "\x78\x56\x34\x12" + "x",
			want: []frameRec{{Offset: 0, Header: h(1, decoder.PSH, 1, 0x12345678), Payload: "x"}},
		},
		{
			name: "largest frame smux accepts", snaplen: decoder.MaxSnaplen,
			in: "\x01" + "\x02" + "\xff\xff" + "\x02\x00\x00\x00" + big + v1NOP,
			want: []frameRec{
				{Offset: 0, Header: h(1, decoder.PSH, 65535, 2), Payload: big},
				{Offset: 8 + 65535, Header: h(1, decoder.NOP, 0, 0)},
			},
		},
		{
			name: "header incomplete at the end", snaplen: 256,
			in:      v1SYN3 + "\x01\x02\x04\x00",
			want:    []frameRec{{Offset: 0, Header: h(1, decoder.SYN, 0, 3)}},
			pending: 4,
		},
		{
			name: "payload incomplete at the end", snaplen: 256,
			in:      v1SYN3 + v1RAND3[:10],
			want:    []frameRec{{Offset: 0, Header: h(1, decoder.SYN, 0, 3)}},
			pending: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			version := uint8(0)
			if len(tt.want) > 0 {
				version = tt.want[0].Header.Version()
			}
			want := result{
				frames:  tt.want,
				offset:  int64(len(in)),
				pending: tt.pending,
				nframes: uint64(len(tt.want)),
				version: version,
			}
			chunkings := map[string]func() int{"whole": whole, "bytewise": bytewise}
			// Every split in two, unless the input is the huge one.
			if len(in) < 1000 {
				for i := 1; i < len(in); i++ {
					chunkings[fmt.Sprintf("split at %d", i)] = sizes(i)
				}
			}
			for name, chunk := range chunkings {
				got := decode(t, tt.snaplen, in, chunk)
				if d := got.diff(want); d != "" {
					t.Errorf("%s: %s", name, d)
				}
			}
		})
	}
}

// violationCases hold one or more cases per violation Code: valid frames,
// then the offending header at offset, then whatever follows.
var violationCases = []struct {
	name   string
	expect uint8 // given to Expect
	in     string
	code   decoder.Code
	offset int64
	want   uint8  // Violation.Want, for VersionChanged and VersionMismatch
	detail string // what Detail must say
}{
	{name: "version 0", in: "\x00" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00", code: decoder.BadVersion, detail: "bad version 0"},
	{name: "version 3 after a frame", in: v1SYN3 + "\x03" + "\x02" + "\x04\x00" + "\x03\x00\x00\x00" + "RAND", code: decoder.BadVersion, offset: 8, detail: "bad version 3"},
	{name: "HTTP instead of smux", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", code: decoder.BadVersion, detail: "bad version 71"},
	{name: "version 1 to 2", in: v1SYN3 + v1RAND3 + v2SYN3, code: decoder.VersionChanged, offset: 20, want: 1, detail: "version changed from 1 to 2"},
	{name: "version 2 to 1", in: v2SYN3 + v1FIN3, code: decoder.VersionChanged, offset: 8, want: 2, detail: "version changed from 2 to 1"},
	{name: "cmd 5 in v1", in: "\x01" + "\x05" + "\x00\x00" + "\x03\x00\x00\x00", code: decoder.UnknownCmd, detail: "unknown cmd 5 in v1"},
	{name: "cmd 255 in v2", in: v2SYN3 + "\x02" + "\xff" + "\x00\x00" + "\x03\x00\x00\x00", code: decoder.UnknownCmd, offset: 8, detail: "unknown cmd 255 in v2"},
	{name: "UPD in v1", in: v1SYN3 + "\x01" + "\x04" + "\x08\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00" + "\x00\x00\x01\x00", code: decoder.UPDInV1, offset: 8, detail: "UPD in protocol version 1"},
	{name: "UPD in v1 with bad length", in: "\x01" + "\x04" + "\x04\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00", code: decoder.UPDInV1, detail: "UPD in protocol version 1"},
	{name: "SYN with length", in: "\x01" + "\x00" + "\x04\x00" + "\x03\x00\x00\x00" + "RAND", code: decoder.LengthNotZero, detail: "SYN with length 4"},
	{name: "FIN with length", in: v1SYN3 + v1RAND3 + "\x01" + "\x01" + "\x01\x00" + "\x03\x00\x00\x00" + "!", code: decoder.LengthNotZero, offset: 20, detail: "FIN with length 1"},
	{name: "NOP with length", in: v1NOP + "\x01" + "\x03" + "\xff\xff" + "\x00\x00\x00\x00", code: decoder.LengthNotZero, offset: 8, detail: "NOP with length 65535"},
	{name: "UPD with length 4", in: v2SYN3 + "\x02" + "\x04" + "\x04\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00", code: decoder.BadUPDLength, offset: 8, detail: "UPD with length 4"},
	{name: "UPD with length 0", in: "\x02" + "\x04" + "\x00\x00" + "\x03\x00\x00\x00", code: decoder.BadUPDLength, detail: "UPD with length 0"},
	{name: "UPD with length 16", in: v2UPD3 + "\x02" + "\x04" + "\x10\x00" + "\x03\x00\x00\x00" + strings.Repeat("\x00", 16), code: decoder.BadUPDLength, offset: 16, detail: "UPD with length 16"},
	{name: "v1 to an end that speaks v2", expect: 2, in: v1SYN3 + v1RAND3, code: decoder.VersionMismatch, want: 2, detail: "v1 frame to an end that speaks v2"},
	{name: "v1 after v2 to an end that speaks v2", expect: 2, in: v2SYN3 + v2UPD3 + v1FIN3, code: decoder.VersionMismatch, offset: 24, want: 2, detail: "v1 frame to an end that speaks v2"},
	{name: "v2 to an end that speaks v1", expect: 1, in: v1SYN3 + v2SYN3, code: decoder.VersionMismatch, offset: 8, want: 1, detail: "v2 frame to an end that speaks v1"},
	{name: "version 7 to an end that speaks v2", expect: 2, in: v2SYN3 + "\x07" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00", code: decoder.BadVersion, offset: 8, want: 2, detail: "bad version 7"},
	{name: "UPD to an end that speaks v1", expect: 1, in: "\x02" + "\x04" + "\x08\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00" + "\x00\x00\x01\x00", code: decoder.VersionMismatch, want: 1, detail: "v2 frame to an end that speaks v1"},
	{name: "v1 UPD to an end that speaks v1", expect: 1, in: "\x01" + "\x04" + "\x08\x00" + "\x03\x00\x00\x00" + "\x04\x00\x00\x00" + "\x00\x00\x01\x00", code: decoder.UPDInV1, want: 1, detail: "UPD in protocol version 1"},
}

// TestViolations feeds one input per violation case in several chunkings,
// the offending header split across calls among them, and checks the
// violation, the counters, and that everything after it is unparsed.
func TestViolations(t *testing.T) {
	covered := make(map[decoder.Code]bool)
	for _, tt := range violationCases {
		covered[tt.code] = true
		in := []byte(tt.in)
		wantHeader := decoder.Header(in[tt.offset:])
		wantFrames := decodeWith(t, opts{snaplen: 256, expect: int(tt.expect)}, in[:tt.offset], whole).frames
		chunkings := []struct {
			name  string
			chunk func() int
		}{
			{"whole", whole},
			{"bytewise", bytewise},
			// The offending header split across calls, at each of its bytes.
			{"header split 1+7", sizes(int(tt.offset) + 1)},
			{"header split 3+5", sizes(int(tt.offset) + 3)},
			{"header split 7+1", sizes(int(tt.offset) + 7)},
			{"header split 2+2+4", sizes(int(tt.offset)+2, 2)},
		}
		for _, c := range chunkings {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				d := decoder.New(256)
				d.Expect(tt.expect)
				var frames []frameRec
				var errs []error
				feed := func(p []byte, chunk func() int) {
					for len(p) > 0 {
						q := p[:min(chunk(), len(p))]
						p = p[len(q):]
						for len(q) > 0 {
							n, f, err := d.Next(q)
							q = q[n:]
							if f != nil {
								frames = append(frames, recOf(f))
							}
							if err != nil {
								errs = append(errs, err)
							}
						}
					}
				}
				feed(in, c.chunk)
				if len(errs) != 1 {
					t.Fatalf("Next returned %d errors %v, want the violation once", len(errs), errs)
				}
				v, ok := errors.AsType[*decoder.Violation](errs[0])
				if !ok {
					t.Fatalf("Next returned %T, want *decoder.Violation", errs[0])
				}
				if v != d.Violation() {
					t.Errorf("Violation() = %p, want the returned %p", d.Violation(), v)
				}
				if v.Code != tt.code || v.Offset != tt.offset || v.Header != wantHeader {
					t.Errorf("violation = %v at %d, header %v; want %v at %d, header %v",
						v.Code, v.Offset, v.Header, tt.code, tt.offset, wantHeader)
				}
				if (tt.code == decoder.VersionChanged || tt.code == decoder.VersionMismatch) && v.Want != tt.want {
					t.Errorf("Want = %d, want %d", v.Want, tt.want)
				}
				if !slices.Equal(frames, wantFrames) {
					t.Errorf("frames before the violation: got %v, want %v", frames, wantFrames)
				}
				if got, want := d.Frames(), uint64(len(wantFrames)); got != want {
					t.Errorf("Frames() = %d, want %d", got, want)
				}
				total := int64(len(in))
				if d.Offset() != total || d.Unparsed() != total-tt.offset || d.Pending() != 0 {
					t.Errorf("Offset/Unparsed/Pending = %d/%d/%d, want %d/%d/0",
						d.Offset(), d.Unparsed(), d.Pending(), total, total-tt.offset)
				}

				msg := v.Error()
				for _, want := range []string{"decoder: ", tt.detail, fmt.Sprintf("at offset %d", tt.offset), `"invalid protocol"`, "keepalive closes the session in 1-2 KeepAliveTimeouts (30-60 s by default)"} {
					if !strings.Contains(msg, want) {
						t.Errorf("Error() = %q, want it to contain %q", msg, want)
					}
				}
				if !strings.Contains(v.Detail(), tt.detail) {
					t.Errorf("Detail() = %q, want %q", v.Detail(), tt.detail)
				}
				if strings.HasPrefix(v.Code.String(), "UNKNOWN_CODE") {
					t.Errorf("Code.String() = %q, want a name", v.Code.String())
				}

				// Afterwards everything, even a valid frame, is unparsed.
				more := []byte(v1SYN3 + v1RAND3)
				for _, p := range [][]byte{more, more[:3], more[3:], nil} {
					n, f, err := d.Next(p)
					if n != len(p) || f != nil || err != nil {
						t.Errorf("after the violation, Next(%d bytes) = %d, %v, %v; want %d, nil, nil", len(p), n, f, err, len(p))
					}
				}
				total += 2 * int64(len(more))
				if d.Offset() != total || d.Unparsed() != total-tt.offset || d.Frames() != uint64(len(wantFrames)) {
					t.Errorf("after more input, Offset/Unparsed/Frames = %d/%d/%d, want %d/%d/%d",
						d.Offset(), d.Unparsed(), d.Frames(), total, total-tt.offset, len(wantFrames))
				}
				if d.Violation() != v {
					t.Errorf("Violation() changed to %v", d.Violation())
				}
			})
		}
	}
	for c := decoder.Code(1); c < decoder.NumCodes; c++ {
		if !covered[c] && c != decoder.Truncated { // End reports Truncated: see TestEnd
			t.Errorf("no case for %v", c)
		}
	}
}

// TestNames checks the String methods of Cmd, Code and Header.
func TestNames(t *testing.T) {
	tests := []struct {
		name string
		got  fmt.Stringer
		want string
	}{
		{"SYN", decoder.SYN, "SYN"},
		{"FIN", decoder.FIN, "FIN"},
		{"PSH", decoder.PSH, "PSH"},
		{"NOP", decoder.NOP, "NOP"},
		{"UPD", decoder.UPD, "UPD"},
		{"cmd 5", decoder.Cmd(5), "UNKNOWN_CMD_5"},
		{"BadVersion", decoder.BadVersion, "BAD_VERSION"},
		{"VersionChanged", decoder.VersionChanged, "VERSION_CHANGED"},
		{"UnknownCmd", decoder.UnknownCmd, "UNKNOWN_CMD"},
		{"UPDInV1", decoder.UPDInV1, "UPD_IN_V1"},
		{"LengthNotZero", decoder.LengthNotZero, "LENGTH_NOT_ZERO"},
		{"BadUPDLength", decoder.BadUPDLength, "BAD_UPD_LENGTH"},
		{"VersionMismatch", decoder.VersionMismatch, "VERSION_MISMATCH"},
		{"Truncated", decoder.Truncated, "TRUNCATED"},
		{"code 0", decoder.Code(0), "UNKNOWN_CODE_0"},
		{"code 9", decoder.Code(9), "UNKNOWN_CODE_9"},
		{"header", decoder.Header([]byte(v1RAND3)), "v1 PSH sid 3 len 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSmuxReaction checks what each code says smux does.
func TestSmuxReaction(t *testing.T) {
	const (
		mismatch = `the receiving end refuses every frame of the other version: ` +
			`smux stops reading ("invalid protocol") and keepalive closes the session in 1-2 KeepAliveTimeouts (30-60 s by default)`
		truncated = `smux stops reading the session: every stream's read fails with "unexpected EOF" ("EOF" when the cut falls between a header and its payload)`
	)
	tests := []struct {
		code decoder.Code
		want string
	}{
		{decoder.BadVersion, decoder.SmuxReaction},
		{decoder.VersionChanged, decoder.SmuxReaction},
		{decoder.UnknownCmd, decoder.SmuxReaction},
		// Checked only from a version on: before it, smux reads on.
		{decoder.UPDInV1, "smux v1.5.53 and later: " + decoder.SmuxReaction +
			"; v1.5.50 and older take the UPD and read on; muxtop, which cannot tell the version, frames no more of it"},
		{decoder.LengthNotZero, "smux v1.5.56 and later: " + decoder.SmuxReaction +
			"; v1.5.55 and older ignore the length and read the next header right after this one; muxtop, which cannot tell the version, frames no more of it"},
		{decoder.BadUPDLength, "smux v1.5.56 and later: " + decoder.SmuxReaction +
			"; v1.5.55 and older read 8 bytes of it whatever the length and read on; muxtop, which cannot tell the version, frames no more of it"},
		{decoder.VersionMismatch, mismatch},
		{decoder.Truncated, truncated},
		{0, ""},
		{decoder.NumCodes, ""},
		{255, ""},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			if got := tt.code.SmuxReaction(); got != tt.want {
				t.Errorf("SmuxReaction() = %q, want %q", got, tt.want)
			}
			v := decoder.Violation{Code: tt.code, Offset: 40, Header: decoder.MakeHeader(1, decoder.PSH, 4, 3), Want: 2, HeaderComplete: true, Got: 9}
			want := "decoder: " + v.Detail() + " at offset 40"
			if tt.want != "" {
				want += ": " + tt.want
			}
			if got := v.Error(); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

// TestParseCmd checks that ParseCmd reads back what Cmd.String writes.
func TestParseCmd(t *testing.T) {
	tests := []struct {
		in   string
		want decoder.Cmd
		ok   bool
	}{
		{"SYN", decoder.SYN, true},
		{"fin", decoder.FIN, true},
		{"Psh", decoder.PSH, true},
		{"nOp", decoder.NOP, true},
		{"upd", decoder.UPD, true},
		{"", 0, false},
		{"PS", 0, false},
		{"PSHX", 0, false},
		{"UNKNOWN_CMD_5", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := decoder.ParseCmd(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseCmd(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestHeader checks the field accessors of Header and Frame against
// little-endian wire bytes, and MakeHeader against them.
func TestHeader(t *testing.T) {
	h := decoder.Header([]byte("\x02" + "\x04" + "\x08\x01" + "\x04\x03\x02\x01"))
	if h.Version() != 2 || h.Cmd() != decoder.UPD || h.Length() != 0x0108 || h.StreamID() != 0x01020304 {
		t.Errorf("fields = %d %v %#x %#x, want 2 UPD 0x108 0x1020304", h.Version(), h.Cmd(), h.Length(), h.StreamID())
	}
	if m := decoder.MakeHeader(2, decoder.UPD, 0x0108, 0x01020304); m != h {
		t.Errorf("MakeHeader = %q, want %q", m[:], h[:])
	}
	f := decoder.Frame{Header: h}
	if f.Version() != 2 || f.Cmd() != decoder.UPD || f.Length() != 0x0108 || f.StreamID() != 0x01020304 || f.Size() != 8+0x0108 {
		t.Errorf("Frame fields = %d %v %#x %#x size %d, want 2 UPD 0x108 0x1020304 size 272", f.Version(), f.Cmd(), f.Length(), f.StreamID(), f.Size())
	}
}

// TestNew checks snaplen clamping and the state of a new Decoder.
func TestNew(t *testing.T) {
	tests := []struct {
		snaplen, want int
	}{
		{-1, 0}, {0, 0}, {decoder.DefaultSnaplen, decoder.DefaultSnaplen},
		{decoder.MaxSnaplen, decoder.MaxSnaplen}, {1 << 20, decoder.MaxSnaplen},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.snaplen), func(t *testing.T) {
			d := decoder.New(tt.snaplen)
			if got := d.Snaplen(); got != tt.want {
				t.Errorf("Snaplen() = %d, want %d", got, tt.want)
			}
			if d.Offset() != 0 || d.Frames() != 0 || d.Pending() != 0 || d.Unparsed() != 0 || d.Version() != 0 || d.Violation() != nil {
				t.Errorf("new decoder is not empty: %+v", d)
			}
			if n, f, err := d.Next(nil); n != 0 || f != nil || err != nil {
				t.Errorf("Next(nil) = %d, %v, %v; want 0, nil, nil", n, f, err)
			}
		})
	}
}

// A recording is one scenario of real smux traffic from testdata/.
type recording struct {
	exp      *expectation
	c2s, s2c []byte
}

func loadRecordings(t testing.TB) []recording {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no recordings in testdata; run go test -run TestRecord -record")
	}
	var recs []recording
	for _, name := range names {
		js, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var r recording
		if err := json.Unmarshal(js, &r.exp); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		base := strings.TrimSuffix(name, ".expect.json")
		if r.c2s, err = os.ReadFile(base + ".c2s.bin"); err != nil {
			t.Fatal(err)
		}
		if r.s2c, err = os.ReadFile(base + ".s2c.bin"); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func loadRecording(t testing.TB, scenario string) recording {
	t.Helper()
	for _, r := range loadRecordings(t) {
		if r.exp.Scenario == scenario {
			return r
		}
	}
	t.Fatalf("no recording %s in testdata", scenario)
	return recording{}
}

// TestRecordings checks the decoded frames of the real smux traffic in
// testdata/ against what the applications did.
func TestRecordings(t *testing.T) {
	for _, r := range loadRecordings(t) {
		t.Run(r.exp.Scenario, func(t *testing.T) {
			checkRecording(t, r.exp, r.c2s, r.s2c)
		})
	}
}

// checkRecording decodes both directions of a recording and checks the
// frames against what the smux applications did.
func checkRecording(t *testing.T, exp *expectation, c2s, s2c []byte) {
	t.Helper()
	if exp.versionOf(client) != exp.versionOf(server) {
		checkMismatch(t, exp, c2s, s2c)
		return
	}
	dirs := []struct {
		name           string
		in             []byte
		sender         string
		senderConfig   sideConfig
		sent, received func(streamRecord) transfer
	}{
		{"c2s", c2s, client, exp.Client, func(s streamRecord) transfer { return s.C2S }, func(s streamRecord) transfer { return s.S2C }},
		{"s2c", s2c, server, exp.Server, func(s streamRecord) transfer { return s.S2C }, func(s streamRecord) transfer { return s.C2S }},
	}
	for _, dir := range dirs {
		t.Run(dir.name, func(t *testing.T) {
			r := decode(t, decoder.MaxSnaplen, dir.in, whole)
			if len(r.violations) != 0 {
				t.Fatalf("violation in real traffic: %v", &r.violations[0])
			}
			if r.offset != int64(len(dir.in)) || r.pending != 0 || r.unparsed != 0 || r.nframes != uint64(len(r.frames)) {
				t.Errorf("Offset/Pending/Unparsed/Frames = %d/%d/%d/%d, want %d/0/0/%d",
					r.offset, r.pending, r.unparsed, r.nframes, len(dir.in), len(r.frames))
			}
			if r.version != uint8(exp.Version) {
				t.Errorf("Version() = %d, want %d", r.version, exp.Version)
			}

			var count [decoder.NumCmds]int
			byStream := make(map[uint32][]frameRec)
			var synIDs []uint32
			for _, f := range r.frames {
				h := f.Header
				if h.Version() != uint8(exp.Version) {
					t.Errorf("frame at %d has version %d, want %d", f.Offset, h.Version(), exp.Version)
				}
				count[h.Cmd()]++
				if h.Cmd() == decoder.NOP {
					if h.StreamID() != 0 || h.Length() != 0 {
						t.Errorf("NOP at %d has sid %d len %d, want 0 and 0", f.Offset, h.StreamID(), h.Length())
					}
					continue
				}
				if h.Cmd() == decoder.SYN {
					synIDs = append(synIDs, h.StreamID())
				}
				byStream[h.StreamID()] = append(byStream[h.StreamID()], f)
			}

			if dir.senderConfig.KeepAlive {
				if count[decoder.NOP] < exp.MinNOP {
					t.Errorf("%d NOPs, want at least %d", count[decoder.NOP], exp.MinNOP)
				}
			} else if count[decoder.NOP] != 0 {
				t.Errorf("%d NOPs with keepalive disabled, want 0", count[decoder.NOP])
			}
			if exp.Version == 1 && count[decoder.UPD] != 0 {
				t.Errorf("%d UPDs in v1, want 0", count[decoder.UPD])
			}

			// The sender's stream ids: odd from 3 for a client, even from 2
			// for a server, in the order smux allocated them.
			var wantIDs []uint32
			for _, s := range exp.Streams {
				if s.OpenedBy == dir.sender {
					wantIDs = append(wantIDs, s.ID)
				}
			}
			slices.Sort(synIDs)
			if !slices.Equal(synIDs, wantIDs) {
				t.Errorf("SYN stream ids %v, want the opened %v", synIDs, wantIDs)
			}
			first := uint32(3)
			if dir.sender == server {
				first = 2
			}
			for i, id := range synIDs {
				if want := first + 2*uint32(i); id != want {
					t.Errorf("SYN #%d of the %s has sid %d, want %d", i, dir.sender, id, want)
					break
				}
			}

			known := make(map[uint32]bool)
			for _, s := range exp.Streams {
				known[s.ID] = true
				checkStream(t, exp, s, byStream[s.ID], dir.sender, dir.senderConfig, dir.sent(s), dir.received(s))
			}
			for id, frames := range byStream {
				if !known[id] {
					t.Errorf("%d frames for stream %d, which no application saw", len(frames), id)
				}
			}
		})
	}
}

// checkStream checks the frames of one stream in one direction. sent is what
// the sender wrote; received is what it read (its UPDs acknowledge that).
func checkStream(t *testing.T, exp *expectation, s streamRecord, frames []frameRec, sender string, cfg sideConfig, sent, received transfer) {
	t.Helper()
	var syns, fins int
	var payload []byte
	var lengths []int
	var consumed []uint32
	for i, f := range frames {
		h := f.Header
		switch h.Cmd() {
		case decoder.SYN:
			syns++
			if i != 0 {
				t.Errorf("stream %d: SYN at %d is frame %d of the stream, want the first", s.ID, f.Offset, i)
			}
		case decoder.PSH:
			if fins > 0 {
				t.Errorf("stream %d: PSH at %d after FIN", s.ID, f.Offset)
			}
			if f.Truncated || len(f.Payload) != int(h.Length()) {
				t.Errorf("stream %d: PSH at %d has %d of %d bytes (truncated %v) with snaplen MaxSnaplen",
					s.ID, f.Offset, len(f.Payload), h.Length(), f.Truncated)
			}
			payload = append(payload, f.Payload...)
			lengths = append(lengths, int(h.Length()))
		case decoder.FIN:
			fins++
		case decoder.UPD:
			consumed = append(consumed, f.Consumed)
			if f.Window != uint32(cfg.MaxStreamBuffer) {
				t.Errorf("stream %d: UPD at %d has window %d, want the %s's MaxStreamBuffer %d",
					s.ID, f.Offset, f.Window, sender, cfg.MaxStreamBuffer)
			}
		}
	}
	if wantSYN := b2i(s.OpenedBy == sender); syns != wantSYN {
		t.Errorf("stream %d: %d SYNs from the %s, want %d (opened by the %s)", s.ID, syns, sender, wantSYN, s.OpenedBy)
	}
	if fins != sent.FINs {
		t.Errorf("stream %d: %d FINs from the %s, want the %d it sent", s.ID, fins, sender, sent.FINs)
	}

	sum := sha256.Sum256(payload)
	if len(payload) != sent.written() || hex.EncodeToString(sum[:]) != sent.SHA256 {
		t.Errorf("stream %d: PSH payloads are %d bytes with sha256 %x, want the %d bytes written with sha256 %s",
			s.ID, len(payload), sum, sent.written(), sent.SHA256)
	}
	// Each Write is split into frames of at most MaxFrameSize; in v2 the
	// window may split a Write further.
	want := splitWrites(sent.Writes, cfg.MaxFrameSize)
	switch {
	case exp.Version == 1 && !slices.Equal(lengths, want):
		t.Errorf("stream %d: PSH lengths %v, want %v (writes %v, MaxFrameSize %d)", s.ID, lengths, want, sent.Writes, cfg.MaxFrameSize)
	case exp.Version == 2 && (len(lengths) < len(want) || slices.Max(append(lengths, 0)) > cfg.MaxFrameSize):
		t.Errorf("stream %d: PSH lengths %v, want at least %d frames of at most %d bytes", s.ID, lengths, len(want), cfg.MaxFrameSize)
	}

	if !slices.IsSorted(consumed) {
		t.Errorf("stream %d: UPD consumed values %v decrease", s.ID, consumed)
	}
	if exp.Version == 2 {
		if want := windowUpdates(received.Reads, cfg.MaxStreamBuffer); !slices.Equal(consumed, want) {
			t.Errorf("stream %d: UPD consumed values %v, want %v for reads %v", s.ID, consumed, want, received.Reads)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// splitWrites returns the PSH lengths smux v1 sends for the writes.
func splitWrites(writes []int, maxFrameSize int) []int {
	var lengths []int
	for _, w := range writes {
		for ; w > maxFrameSize; w -= maxFrameSize {
			lengths = append(lengths, maxFrameSize)
		}
		if w > 0 {
			lengths = append(lengths, w)
		}
	}
	return lengths
}

// windowUpdates returns the consumed values of the UPDs smux v2 sends for
// the reads: on the first read, then whenever half the buffer has been
// read since the last update (stream.tryReadV2).
func windowUpdates(reads []int, maxStreamBuffer int) []uint32 {
	threshold := uint32(maxStreamBuffer / 2)
	var consumed []uint32
	var numRead, incr uint32
	for _, n := range reads {
		numRead += uint32(n)
		incr += uint32(n)
		if incr >= threshold || numRead == uint32(n) {
			consumed = append(consumed, numRead)
			incr = 0
		}
	}
	return consumed
}

// TestChunkingInvariance feeds every recording, and inputs with violations,
// in random chunkings and checks that the decoder yields exactly what it
// yields for the whole input, with and without Expect, and with and
// without End.
func TestChunkingInvariance(t *testing.T) {
	seed := *chunkSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	type input struct {
		name   string
		in     []byte
		expect int // given to Expect, unless noExpect
	}
	var inputs []input
	for _, r := range loadRecordings(t) {
		name := r.exp.Scenario
		cv, sv := r.exp.versionOf(client), r.exp.versionOf(server)
		inputs = append(inputs,
			input{name + ".c2s", r.c2s, noExpect},
			input{name + ".s2c", r.s2c, noExpect},
			// To the receiving end's version: the same frames, but for the
			// recording of two versions, which is refused from its start.
			input{name + ".c2s to the server", r.c2s, sv},
			input{name + ".s2c to the client", r.s2c, cv},
		)
		// The same traffic with a violation after its first half, and with
		// a frame of the other version there, which is a VersionChanged, or
		// a VersionMismatch to the receiving end. End meets the first half
		// incomplete, unless it ends on a frame boundary.
		half := r.c2s[:len(r.c2s)/2]
		res := decode(t, 0, half, whole)
		end := len(half) - int(res.pending)
		other := decoder.MakeHeader(3-r.c2s[0], decoder.SYN, 0, 99)
		inputs = append(inputs,
			input{name + ".c2s+violation", slices.Concat(r.c2s[:end], []byte("\x07"+v1RAND3[1:]), r.c2s[end:]), noExpect},
			input{name + ".c2s+other version", slices.Concat(r.c2s[:end], other[:], r.c2s[end:]), noExpect},
			input{name + ".c2s+other version to the server", slices.Concat(r.c2s[:end], other[:], r.c2s[end:]), sv},
			input{name + ".c2s first half", half, sv},
		)
	}
	for _, v := range violationCases {
		inputs = append(inputs, input{"violation " + v.name, []byte(v.in), int(v.expect)})
	}

	maxChunks := []int{2, 9, 17, 100, 1000, 4096, 40000, 70000}
	for _, in := range inputs {
		for _, snaplen := range []int{0, 4, 256, decoder.MaxSnaplen} {
			t.Run(fmt.Sprintf("%s/snaplen=%d", in.name, snaplen), func(t *testing.T) {
				h := fnv.New64a()
				fmt.Fprint(h, in.name, snaplen)
				rng := rand.New(rand.NewPCG(seed, h.Sum64()))
				o := opts{snaplen: snaplen, expect: in.expect}
				ended := o
				ended.end = true
				want, wantEnded := decodeWith(t, o, in.in, whole), decodeWith(t, ended, in.in, whole)
				if got := decodeWith(t, o, in.in, bytewise); got.diff(want) != "" {
					t.Fatalf("bytewise: %s", got.diff(want))
				}
				if got := decodeWith(t, ended, in.in, bytewise); got.diff(wantEnded) != "" {
					t.Fatalf("bytewise, then End: %s", got.diff(wantEnded))
				}
				for round := range 20 {
					limit := maxChunks[round%len(maxChunks)]
					chunk := func() int { return 1 + rng.IntN(limit) }
					o, want, then := o, want, ""
					if round%2 == 1 {
						o, want, then = ended, wantEnded, ", then End"
					}
					if d := decodeWith(t, o, in.in, chunk).diff(want); d != "" {
						t.Fatalf("round %d, chunks of 1 to %d bytes%s: %s\nrerun with -chunkseed=%d", round, limit, then, d, seed)
					}
				}
			})
		}
	}
}

// feed decodes in, in chunks of chunk bytes, as a tap would.
func feed(d *decoder.Decoder, in []byte, chunk int) (frames int) {
	for len(in) > 0 {
		p := in[:min(chunk, len(in))]
		in = in[len(p):]
		for len(p) > 0 {
			n, f, _ := d.Next(p)
			p = p[n:]
			if f != nil {
				frames++
			}
		}
	}
	return frames
}

// bigFrames returns n PSH frames of length bytes each.
func bigFrames(n, length int) []byte {
	var b []byte
	payload := bytes.Repeat([]byte{0xa5}, length)
	for i := range n {
		h := decoder.MakeHeader(1, decoder.PSH, uint16(length), uint32(3+2*i))
		b = append(b, h[:]...)
		b = append(b, payload...)
	}
	return b
}

// randMix returns both directions of the recorded RAND traffic, which are
// valid together as one v1 byte stream.
func randMix(t testing.TB) []byte {
	r := loadRecording(t, "v1-rand")
	return slices.Concat(r.c2s, r.s2c)
}

// TestNextAllocs asserts that decoding allocates nothing, on the fast path
// (whole frames) and on the split path (frames straddling chunks), with and
// without Expect.
func TestNextAllocs(t *testing.T) {
	rnd := randMix(t)
	big := bigFrames(8, 32768)
	tests := []struct {
		name    string
		in      []byte
		chunk   int
		snaplen int
		expect  uint8 // given to Expect
	}{
		{"RAND", rnd, len(rnd), decoder.DefaultSnaplen, 0},
		{"RAND bytewise", rnd, 1, decoder.DefaultSnaplen, 0},
		{"RAND Expect(1)", rnd, len(rnd), decoder.DefaultSnaplen, 1},
		{"RAND bytewise Expect(1)", rnd, 1, decoder.DefaultSnaplen, 1},
		{"32K fast path", big, len(big), decoder.DefaultSnaplen, 0},
		{"32K fast path Expect(1)", big, len(big), decoder.DefaultSnaplen, 1},
		{"32K split path", big, 32768, decoder.DefaultSnaplen, 0},
		{"32K split path MaxSnaplen", big, 32768, decoder.MaxSnaplen, 0},
		{"32K bytewise", big[:2*32776], 1, decoder.MaxSnaplen, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder.New(tt.snaplen)
			d.Expect(tt.expect)
			want := feed(d, tt.in, tt.chunk)
			allocs := testing.AllocsPerRun(20, func() {
				if got := feed(d, tt.in, tt.chunk); got != want {
					t.Fatalf("decoded %d frames, want %d", got, want)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per run, want 0", allocs)
			}
		})
	}
}
