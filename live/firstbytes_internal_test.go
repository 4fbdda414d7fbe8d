package live

import (
	"bytes"
	"testing"
)

// TestFirstBytesAdd: a direction's first bytes fill across its frames
// until full, and a frame whose payload was not all seen (the snaplen cut
// it, or the capture lost part) before they were full marks them cut:
// what follows would not join what was kept.
func TestFirstBytesAdd(t *testing.T) {
	long := bytes.Repeat([]byte("y"), 40)
	for _, tc := range []struct {
		name   string
		frames [][]byte // payload seen
		length []uint32 // each frame's payload length
		want   string
		cut    bool
	}{
		{"one short frame", [][]byte{[]byte("GET /")}, []uint32{5}, "GET /", false},
		{"across frames", [][]byte{[]byte("GET /bad "), []byte("HTTP/1.1\r\n"), long}, []uint32{9, 10, 40}, "GET /bad HTTP/1.1\r\nyyyyyyyyyyyyy", false},
		{"cut before full", [][]byte{[]byte("GET"), []byte(" /b"), []byte("more")}, []uint32{3, 10, 4}, "GET /b", true},
		{"cut after full is no cut", [][]byte{long[:33]}, []uint32{100}, string(long[:32]), false},
	} {
		var b FirstBytes
		for i, p := range tc.frames {
			if b.N < FirstBytesLen && !b.Cut {
				b.add(p, tc.length[i])
			}
		}
		if got := string(b.Bytes()); got != tc.want || b.Cut != tc.cut {
			t.Errorf("%s: %q cut %v, want %q cut %v", tc.name, got, b.Cut, tc.want, tc.cut)
		}
	}
}
