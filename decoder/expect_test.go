package decoder_test

import (
	"fmt"
	"testing"

	"github.com/muxtop/muxtop/decoder"
)

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
// consumed a byte.
func TestExpectIgnored(t *testing.T) {
	tests := []struct {
		name   string
		before func(d *decoder.Decoder)
	}{
		{"after part of a header", func(d *decoder.Decoder) { d.Next([]byte(v1SYN3[:3])) }},
		{"after a frame", func(d *decoder.Decoder) { d.Next([]byte(v1SYN3)) }},
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
