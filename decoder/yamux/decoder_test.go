package yamux_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
)

// Wire bytes of hand-written frames, as segmented literals:
// version, type, flags, stream id, length.
const (
	synData1  = "\x00" + "\x00" + "\x00\x01" + "\x00\x00\x00\x01" + "\x00\x00\x00\x04" + "RAND"
	synWnd1   = "\x00" + "\x01" + "\x00\x01" + "\x00\x00\x00\x01" + "\x00\x00\x00\x00"
	ackWnd1   = "\x00" + "\x01" + "\x00\x02" + "\x00\x00\x00\x01" + "\x00\x00\x00\x00"
	finWnd1   = "\x00" + "\x01" + "\x00\x04" + "\x00\x00\x00\x01" + "\x00\x00\x00\x00"
	rstWnd3   = "\x00" + "\x01" + "\x00\x08" + "\x00\x00\x00\x03" + "\x00\x00\x00\x00"
	data1     = "\x00" + "\x00" + "\x00\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x08" + "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"
	empty1    = "\x00" + "\x00" + "\x00\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x00"
	pingSYN7  = "\x00" + "\x02" + "\x00\x01" + "\x00\x00\x00\x00" + "\x00\x00\x00\x07"
	pingACK7  = "\x00" + "\x02" + "\x00\x02" + "\x00\x00\x00\x00" + "\x00\x00\x00\x07"
	goAwayErr = "\x00" + "\x03" + "\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x01"
	// A window update whose delta is far above any payload: it has none.
	bigDelta1 = "\x00" + "\x01" + "\x00\x00" + "\x00\x00\x00\x01" + "\xff\xff\xff\xff"
)

// frameRec is a Frame with its payload copied, for comparing.
type frameRec struct {
	Offset    int64
	Header    yamux.Header
	Payload   string
	Truncated bool
	Lost      int64
}

func (r frameRec) String() string {
	return fmt.Sprintf("{%d %s %q trunc=%v lost=%d}", r.Offset, r.Header, r.Payload, r.Truncated, r.Lost)
}

func recOf(f *yamux.Frame) frameRec {
	return frameRec{Offset: f.Offset, Header: f.Header, Payload: string(f.Payload), Truncated: f.Truncated, Lost: f.Lost}
}

// result is everything a decoder said about one input.
type result struct {
	frames    []frameRec
	violation *yamux.Violation
	offset    int64
	unparsed  int64
	pending   int64
}

func (r result) diff(want result) string {
	var d []string
	if !slices.Equal(r.frames, want.frames) {
		d = append(d, fmt.Sprintf("frames\n got %v\nwant %v", r.frames, want.frames))
	}
	switch {
	case (r.violation == nil) != (want.violation == nil):
		d = append(d, fmt.Sprintf("violation %v, want %v", r.violation, want.violation))
	case r.violation != nil && *r.violation != *want.violation:
		d = append(d, fmt.Sprintf("violation %+v, want %+v", *r.violation, *want.violation))
	}
	if r.offset != want.offset || r.unparsed != want.unparsed || r.pending != want.pending {
		d = append(d, fmt.Sprintf("offset/unparsed/pending %d/%d/%d, want %d/%d/%d",
			r.offset, r.unparsed, r.pending, want.offset, want.unparsed, want.pending))
	}
	return strings.Join(d, "; ")
}

// decode feeds in to a new decoder in chunks whose sizes chunk returns,
// then calls End if end is set.
func decode(t testing.TB, snaplen int, in []byte, chunk func() int, end bool) result {
	t.Helper()
	d := yamux.New(snaplen)
	var r result
	for len(in) > 0 {
		c := in[:min(len(in), max(chunk(), 1))]
		in = in[len(c):]
		for len(c) > 0 {
			n, f, err := d.Next(c)
			if n == 0 {
				t.Fatalf("Next consumed nothing of %d bytes", len(c))
			}
			c = c[n:]
			if f != nil {
				r.frames = append(r.frames, recOf(f))
			}
			if err != nil {
				v, ok := err.(*yamux.Violation)
				if !ok || r.violation != nil {
					t.Fatalf("Next returned %v after %v", err, r.violation)
				}
				r.violation = v
			}
		}
	}
	if end {
		if v := d.End(); v != nil {
			r.violation = v
		}
	}
	if v := d.Violation(); v != r.violation && (v == nil || r.violation == nil || *v != *r.violation) {
		t.Fatalf("Violation() = %v, Next and End returned %v", v, r.violation)
	}
	r.offset, r.unparsed, r.pending = d.Offset(), d.Unparsed(), d.Pending()
	if uint64(len(r.frames)) != d.Frames() {
		t.Fatalf("Frames() = %d, Next returned %d", d.Frames(), len(r.frames))
	}
	return r
}

func whole() int    { return 1 << 62 }
func bytewise() int { return 1 }

// allSplits returns the chunkings whole, bytewise and every split in two.
func allSplits(n int) map[string]func() int {
	c := map[string]func() int{"whole": whole, "bytewise": bytewise}
	for i := 1; i < n; i++ {
		first := true
		c[fmt.Sprintf("split at %d", i)] = func() int {
			if first {
				first = false
				return i
			}
			return 1 << 62
		}
	}
	return c
}

// TestNext decodes hand-written wire bytes whole, byte by byte and split in
// two at every position, with and without End.
func TestNext(t *testing.T) {
	h := yamux.MakeHeader
	bad := func(b string, i int, c byte) string { return b[:i] + string(c) + b[i+1:] }
	tests := []struct {
		name      string
		in        string
		snaplen   int
		want      []frameRec
		violation *yamux.Violation // after the input
		ended     *yamux.Violation // after End
		unparsed  int64
	}{
		{
			name: "open with data, answer, FIN",
			in:   synData1 + ackWnd1 + data1 + finWnd1,
			want: []frameRec{
				{0, h(yamux.Data, yamux.SYN, 1, 4), "RAND", false, 0},
				{16, h(yamux.WindowUpdate, yamux.ACK, 1, 0), "", false, 0},
				{28, h(yamux.Data, 0, 1, 8), "\x0b\x5e\x9a\x13\x77\x02\xc1\xaa", false, 0},
				{48, h(yamux.WindowUpdate, yamux.FIN, 1, 0), "", false, 0},
			},
		},
		{
			name: "control frames carry no payload whatever their length",
			in:   synWnd1 + pingSYN7 + pingACK7 + bigDelta1 + rstWnd3 + goAwayErr,
			want: []frameRec{
				{0, h(yamux.WindowUpdate, yamux.SYN, 1, 0), "", false, 0},
				{12, h(yamux.Ping, yamux.SYN, 0, 7), "", false, 0},
				{24, h(yamux.Ping, yamux.ACK, 0, 7), "", false, 0},
				{36, h(yamux.WindowUpdate, 0, 1, 0xffffffff), "", false, 0},
				{48, h(yamux.WindowUpdate, yamux.RST, 3, 0), "", false, 0},
				{60, h(yamux.GoAway, 0, 0, 1), "", false, 0},
			},
		},
		{
			name: "empty data frame",
			in:   empty1 + synWnd1,
			want: []frameRec{{0, h(yamux.Data, 0, 1, 0), "", false, 0}, {12, h(yamux.WindowUpdate, yamux.SYN, 1, 0), "", false, 0}},
		},
		{
			name: "snaplen cuts the payload", in: synData1 + data1, snaplen: 3,
			want: []frameRec{{0, h(yamux.Data, yamux.SYN, 1, 4), "RAN", true, 0}, {16, h(yamux.Data, 0, 1, 8), "\x0b\x5e\x9a", true, 0}},
		},
		{
			name: "snaplen 0", in: synData1, snaplen: -1,
			want: []frameRec{{0, h(yamux.Data, yamux.SYN, 1, 4), "", true, 0}},
		},
		{
			name: "unknown flags are framed: yamux ignores them",
			in:   "\x00" + "\x01" + "\x80\x10" + "\x00\x00\x00\x02" + "\x00\x00\x00\x00",
			want: []frameRec{{0, h(yamux.WindowUpdate, 0x8010, 2, 0), "", false, 0}},
		},
		{
			name:      "smux v1 SYN is a bad version",
			in:        synWnd1 + "\x01\x00\x00\x00\x03\x00\x00\x00" + "\x00\x00\x00\x00",
			want:      []frameRec{{0, h(yamux.WindowUpdate, yamux.SYN, 1, 0), "", false, 0}},
			violation: &yamux.Violation{Code: yamux.BadVersion, Offset: 12, Header: yamux.Header([]byte("\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00"))},
			unparsed:  12,
		},
		{
			name:      "type 4 is unknown",
			in:        pingSYN7 + bad(pingSYN7, 1, 4) + synData1,
			want:      []frameRec{{0, h(yamux.Ping, yamux.SYN, 0, 7), "", false, 0}},
			violation: &yamux.Violation{Code: yamux.UnknownType, Offset: 12, Header: h(4, yamux.SYN, 0, 7)},
			unparsed:  12 + 16,
		},
		{
			name:     "cut inside a payload",
			in:       synData1 + data1[:15],
			want:     []frameRec{{0, h(yamux.Data, yamux.SYN, 1, 4), "RAND", false, 0}},
			ended:    &yamux.Violation{Code: yamux.Truncated, Offset: 16, Header: h(yamux.Data, 0, 1, 8), HeaderComplete: true, Got: 15},
			unparsed: 15,
		},
		{
			name:     "cut inside a header",
			in:       pingSYN7 + pingACK7[:5],
			want:     []frameRec{{0, h(yamux.Ping, yamux.SYN, 0, 7), "", false, 0}},
			ended:    &yamux.Violation{Code: yamux.Truncated, Offset: 12, Header: yamux.Header([]byte("\x00\x02\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00")), Got: 5},
			unparsed: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snaplen := tc.snaplen
			if snaplen == 0 {
				snaplen = yamux.DefaultSnaplen
			}
			n := int64(len(tc.in))
			var framed int64
			for _, f := range tc.want {
				framed += yamux.HeaderSize + int64(f.Header.PayloadLength())
			}
			want := result{frames: tc.want, violation: tc.violation, offset: n, unparsed: tc.unparsed}
			if tc.violation == nil {
				want.unparsed, want.pending = 0, n-framed
			}
			ended := want
			ended.pending = 0
			if tc.ended != nil {
				ended.violation, ended.unparsed = tc.ended, tc.unparsed
			}
			for cname, chunk := range allSplits(len(tc.in)) {
				if d := decode(t, snaplen, []byte(tc.in), chunk, false).diff(want); d != "" {
					t.Errorf("%s: %s", cname, d)
				}
			}
			for cname, chunk := range allSplits(len(tc.in)) {
				if d := decode(t, snaplen, []byte(tc.in), chunk, true).diff(ended); d != "" {
					t.Errorf("%s, then End: %s", cname, d)
				}
			}
		})
	}
}

// TestViolationText pins what a user reads for each violation.
func TestViolationText(t *testing.T) {
	h := yamux.MakeHeader
	tests := []struct {
		v      yamux.Violation
		detail string
	}{
		{yamux.Violation{Code: yamux.BadVersion, Header: yamux.Header([]byte("\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00"))}, "bad version 1 (yamux speaks 0)"},
		{yamux.Violation{Code: yamux.UnknownType, Header: h(9, 0, 0, 0)}, "unknown type 9 (yamux knows 0-3)"},
		{yamux.Violation{Code: yamux.Truncated, Got: 1}, "stream ended 1 byte into a frame header"},
		{yamux.Violation{Code: yamux.Truncated, Got: 7}, "stream ended 7 bytes into a frame header"},
		{yamux.Violation{Code: yamux.Truncated, Header: h(yamux.Data, 0, 3, 100), HeaderComplete: true, Got: 20}, "stream ended 20 of 112 bytes into a DATA frame (sid 3)"},
	}
	for _, tc := range tests {
		if got := tc.v.Detail(); got != tc.detail {
			t.Errorf("Detail() = %q, want %q", got, tc.detail)
		}
		if r := tc.v.Code.YamuxReaction(); r == "" || !strings.HasSuffix(tc.v.Error(), r) || !strings.HasPrefix(tc.v.Error(), "yamux decoder: "+tc.detail) {
			t.Errorf("Error() = %q: want the detail and the reaction %q", tc.v.Error(), r)
		}
	}
	for c := yamux.Code(1); c < yamux.NumCodes; c++ {
		if c.YamuxReaction() == "" || strings.HasPrefix(c.String(), "UNKNOWN_CODE") {
			t.Errorf("code %d has no name or reaction", c)
		}
	}
	if got := yamux.Code(yamux.NumCodes).String(); got != "UNKNOWN_CODE_4" {
		t.Errorf("unknown code: %q", got)
	}
}

func TestNames(t *testing.T) {
	h := yamux.MakeHeader
	for _, tc := range []struct{ got, want string }{
		{h(yamux.Data, yamux.SYN|yamux.ACK, 3, 4).String(), "DATA SYN|ACK sid 3 len 4"},
		{h(yamux.WindowUpdate, yamux.FIN, 2, 65536).String(), "WINDOW_UPDATE FIN sid 2 delta 65536"},
		// go-yamux's ResetWithError(42): the code in the length (v5.1.0 stream.go:257).
		{h(yamux.WindowUpdate, yamux.RST, 5, 42).String(), "WINDOW_UPDATE RST sid 5 code 42"},
		{h(yamux.Ping, yamux.ACK, 0, 7).String(), "PING ACK value 7"},
		{h(yamux.GoAway, 0, 0, 1).String(), "GO_AWAY code 1 (protocol error)"},
		{h(yamux.GoAway, 0, 0, 9).String(), "GO_AWAY code 9 (unknown code 9)"},
		{h(7, 0, 5, 1).String(), "UNKNOWN_TYPE_7 sid 5 len 1"},
		{(yamux.RST | yamux.SYN | 0x30).String(), "SYN|RST|0x30"},
		{yamux.Flags(0).String(), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, s := range []string{"data", "WINDOW_UPDATE", "windowupdate", "wnd", "Ping", "go_away", "goaway"} {
		if _, ok := yamux.ParseType(s); !ok {
			t.Errorf("ParseType(%q) failed", s)
		}
	}
	if _, ok := yamux.ParseType("psh"); ok {
		t.Error("ParseType(psh) succeeded")
	}
	// Names are what ParseType takes, each type's own first.
	for ty := range yamux.Type(yamux.NumTypes) {
		names := ty.Names()
		if len(names) == 0 || names[0] != ty.String() {
			t.Errorf("%v.Names() = %q", ty, names)
		}
		for _, n := range names {
			if got, ok := yamux.ParseType(n); !ok || got != ty {
				t.Errorf("ParseType(%q), a name of %v, = %v, %v", n, ty, got, ok)
			}
		}
	}
	if got := yamux.WindowUpdate.Names(); strings.Join(got, " ") != "WINDOW_UPDATE WND UPDATE" {
		t.Errorf("WindowUpdate.Names() = %q", got)
	}
	for i, s := range []string{"syn", "ACK", "fin", "Rst"} {
		if f, ok := yamux.ParseFlag(s); !ok || f != 1<<i {
			t.Errorf("ParseFlag(%q) = %v, %v", s, f, ok)
		}
	}
}

// wireFrame is a frame as walk finds it, independently of the decoder.
type wireFrame struct {
	off         int
	typ         uint8
	flags       uint16
	sid, length uint32
	payload     []byte // all of it
	version     uint8
}

// walk parses well-formed yamux frames with nothing but encoding/binary,
// and returns them and how many trailing bytes make no whole frame.
func walk(b []byte) (frames []wireFrame, rest int) {
	off := 0
	for len(b)-off >= 12 {
		f := wireFrame{off: off, version: b[off], typ: b[off+1], flags: binary.BigEndian.Uint16(b[off+2:]),
			sid: binary.BigEndian.Uint32(b[off+4:]), length: binary.BigEndian.Uint32(b[off+8:])}
		size := 12
		if f.typ == 0 {
			size += int(f.length)
		}
		if len(b)-off < size {
			break
		}
		f.payload = b[off+12 : off+size]
		frames = append(frames, f)
		off += size
	}
	return frames, len(b) - off
}

type recording struct {
	exp      *expectation
	c2s, s2c []byte
}

func loadRecordings(t testing.TB) []recording {
	t.Helper()
	names, err := filepath.Glob("testdata/*.expect.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no recordings in testdata (%v): run go generate", err)
	}
	var recs []recording
	for _, n := range names {
		base := strings.TrimSuffix(n, ".expect.json")
		var r recording
		js, err := os.ReadFile(n)
		if err == nil {
			r.exp = new(expectation)
			err = json.Unmarshal(js, r.exp)
		}
		if err == nil {
			r.c2s, err = os.ReadFile(base + ".c2s.bin")
		}
		if err == nil {
			r.s2c, err = os.ReadFile(base + ".s2c.bin")
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestRecordings checks the decoder against the recordings in testdata.
func TestRecordings(t *testing.T) {
	for _, r := range loadRecordings(t) {
		t.Run(r.exp.Scenario, func(t *testing.T) { checkRecording(t, r.exp, r.c2s, r.s2c) })
	}
}

// checkRecording decodes both directions and checks the frames against the
// independent walk and against what the applications did.
func checkRecording(t *testing.T, exp *expectation, c2s, s2c []byte) {
	t.Helper()
	wire := map[string][]wireFrame{}
	for _, dir := range []struct {
		name string
		b    []byte
	}{{"c2s", c2s}, {"s2c", s2c}} {
		frames, rest := walk(dir.b)
		if rest != 0 {
			t.Fatalf("%s: %d bytes after the last whole frame", dir.name, rest)
		}
		wire[dir.name] = frames
		got := decode(t, yamux.MaxSnaplen, dir.b, whole, true)
		if got.violation != nil || got.unparsed != 0 || got.offset != int64(len(dir.b)) {
			t.Fatalf("%s: violation %v, unparsed %d, offset %d of %d", dir.name, got.violation, got.unparsed, got.offset, len(dir.b))
		}
		if len(got.frames) != len(frames) {
			t.Fatalf("%s: decoded %d frames, the walk found %d", dir.name, len(got.frames), len(frames))
		}
		for i, f := range frames {
			g := got.frames[i]
			p := f.payload[:min(len(f.payload), yamux.MaxSnaplen)]
			if g.Offset != int64(f.off) || g.Header.Version() != 0 || uint8(g.Header.Type()) != f.typ ||
				uint16(g.Header.Flags()) != f.flags || g.Header.StreamID() != f.sid || g.Header.Length() != f.length ||
				g.Payload != string(p) || g.Truncated != (len(p) < len(f.payload)) {
				t.Fatalf("%s frame %d: decoded %v, walked the header at %d", dir.name, i, g, f.off)
			}
		}
	}

	pingsOf := func(dir string, flag uint16) []uint32 {
		var v []uint32
		for _, f := range wire[dir] {
			if f.typ == 2 && f.flags == flag {
				v = append(v, f.length)
			}
		}
		return v
	}
	for side, dir := range map[string]string{client: "c2s", server: "s2c"} {
		other := "s2c"
		if dir == "s2c" {
			other = "c2s"
		}
		asked, answered := pingsOf(dir, 1), pingsOf(other, 2)
		if len(asked) != exp.Pings[side] || !slices.Equal(asked, answered) {
			t.Errorf("%s made %d pings: %v asked, %v answered", side, exp.Pings[side], asked, answered)
		}
	}

	goAways := 0
	for _, f := range wire["s2c"] {
		if f.typ == 3 && f.length == 0 {
			goAways++
		}
	}
	wantGoAway := 0
	for _, c := range exp.Calls[client] {
		if c.Err == "yamux.ErrRemoteGoAway" {
			wantGoAway = 1
		}
	}
	if goAways != wantGoAway {
		t.Errorf("s2c carries %d GoAway frames, want %d", goAways, wantGoAway)
	}

	for _, s := range exp.Streams {
		opener, acceptor := "c2s", "s2c"
		if s.OpenedBy == server {
			opener, acceptor = acceptor, opener
		}
		of := func(dir string) []wireFrame {
			var fs []wireFrame
			for _, f := range wire[dir] {
				if f.sid == s.ID && f.typ < 2 {
					fs = append(fs, f)
				}
			}
			return fs
		}
		op, ac := of(opener), of(acceptor)
		if len(op) == 0 || op[0].flags&1 == 0 || (s.ID%2 == 1) != (s.OpenedBy == client) {
			t.Errorf("stream %d: opened by %s, whose first of %d frames has no SYN", s.ID, s.OpenedBy, len(op))
			continue
		}
		if s.Reset {
			if len(ac) != 1 || ac[0].flags != 8 || ac[0].typ != 1 {
				t.Errorf("stream %d: reset, but the acceptor sent %d frames, not one RST", s.ID, len(ac))
			}
			continue
		}
		// yamux ACKs with the acceptor's first frame, but only while the
		// stream is in SYNReceived: once the opener's FIN arrived it sends
		// none, and the opener's OpenStream had returned long before.
		openerFIN := s.C2S.FIN
		if s.OpenedBy == server {
			openerFIN = s.S2C.FIN
		}
		if len(ac) == 0 || (ac[0].flags&2 == 0 && !openerFIN) {
			t.Errorf("stream %d: the acceptor sent %d frames, the first without ACK, before the opener's FIN", s.ID, len(ac))
		}
		window := map[string]int64{"c2s": yamux.InitialWindow, "s2c": yamux.InitialWindow}
		for dir, fs := range map[string][]wireFrame{opener: op, acceptor: ac} {
			for _, f := range fs {
				if f.typ == 1 {
					window[reverse(dir)] += int64(f.length)
				}
			}
		}
		for dir, x := range map[string]transfer{"c2s": s.C2S, "s2c": s.S2C} {
			fs := op
			if dir == acceptor {
				fs = ac
			}
			var data []byte
			fins := 0
			for _, f := range fs {
				if f.typ == 0 {
					data = append(data, f.payload...)
				}
				if f.flags&4 != 0 {
					fins++
				}
			}
			sum := sha256.Sum256(data)
			if len(data) != x.Bytes || hex.EncodeToString(sum[:]) != x.SHA256 {
				t.Errorf("stream %d %s: %d data bytes on the wire, the applications moved %d", s.ID, dir, len(data), x.Bytes)
			}
			if fins != b2i(x.FIN) {
				t.Errorf("stream %d %s: %d FINs, want %d", s.ID, dir, fins, b2i(x.FIN))
			}
			// A sender never has more in flight than the receiver granted.
			if int64(len(data)) > window[dir] {
				t.Errorf("stream %d %s: %d data bytes exceed the %d the receiver granted", s.ID, dir, len(data), window[dir])
			}
		}
		if w := exp.Server.MaxStreamWindow; s.OpenedBy == client && w > yamux.InitialWindow && ac[0].length != w-yamux.InitialWindow {
			t.Errorf("stream %d: the server's first frame grants %d, want %d", s.ID, ac[0].length, w-yamux.InitialWindow)
		}
	}
}

func reverse(dir string) string {
	if dir == "c2s" {
		return "s2c"
	}
	return "c2s"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestChunkingInvariance decodes every recording in chunks of many sizes
// and checks that the frames equal those of the whole input.
func TestChunkingInvariance(t *testing.T) {
	for _, r := range loadRecordings(t) {
		for _, in := range [][]byte{r.c2s, r.s2c} {
			want := decode(t, 100, in, whole, true)
			for _, size := range []int{1, 2, 3, 5, 11, 12, 13, 17, 100, 4096, 65536} {
				if d := decode(t, 100, in, func() int { return size }, true).diff(want); d != "" {
					t.Fatalf("%s, chunks of %d: %s", r.exp.Scenario, size, d)
				}
			}
		}
	}
}

// TestNextAllocs asserts that decoding allocates nothing, whole and split.
func TestNextAllocs(t *testing.T) {
	in := []byte(strings.Repeat(synData1+ackWnd1+data1+finWnd1+pingSYN7, 20))
	d := yamux.New(yamux.DefaultSnaplen)
	for _, chunk := range []int{len(in), 5} {
		if a := testing.AllocsPerRun(100, func() { feed(d, in, chunk) }); a != 0 {
			t.Errorf("chunks of %d: %v allocations per run", chunk, a)
		}
	}
}

// feed decodes in with d in chunks of size and returns the frames.
func feed(d *yamux.Decoder, in []byte, size int) (frames int) {
	for len(in) > 0 {
		c := in[:min(size, len(in))]
		in = in[len(c):]
		for len(c) > 0 {
			n, f, _ := d.Next(c)
			c = c[n:]
			if f != nil {
				frames++
			}
		}
	}
	return frames
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-5, 0}, {0, 0}, {10, 10}, {1 << 20, yamux.MaxSnaplen}} {
		if got := yamux.New(tc.in).Snaplen(); got != tc.want {
			t.Errorf("New(%d).Snaplen() = %d, want %d", tc.in, got, tc.want)
		}
	}
}
