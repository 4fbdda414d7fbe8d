package pcapout

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// writes keeps what it is given, write by write.
type writes [][]byte

func (w *writes) Write(p []byte) (int, error) {
	*w = append(*w, append([]byte(nil), p...))
	return len(p), nil
}

// TestBlockLargerThanBuffer: with a buffer smaller than a full segment's
// block, each such block goes to the file whole, in one write of its own,
// after what was buffered; smaller ones are gathered; every write ends
// at a block boundary.
func TestBlockLargerThanBuffer(t *testing.T) {
	var f writes
	const size = 8 << 10
	w, err := newWriter(&f, 0, size, FlushEvery, queueBytes)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	for i := range 40 {
		n := 100
		if i%3 == 0 {
			n = mss // a block of more than 32 KiB
		}
		c.Write(live.Dir(i%2), at, make([]byte, n))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	big := 0
	for i, p := range f {
		// Each write is whole blocks: walk their lengths.
		off := 0
		for off < len(p) {
			if len(p)-off < 12 {
				t.Fatalf("write %d: a partial block header at %d of %d", i, off, len(p))
			}
			n := int(binary.LittleEndian.Uint32(p[off+4:]))
			if n < 12 || off+n > len(p) {
				t.Fatalf("write %d (%d bytes): a block of %d at %d, cut by the write's end", i, len(p), n, off)
			}
			if n > size {
				big++
				if off != 0 || n != len(p) {
					t.Errorf("write %d: a %d-byte block, larger than the buffer, shares a write of %d bytes", i, n, len(p))
				}
			}
			off += n
		}
	}
	if big != 14 {
		t.Errorf("%d blocks larger than the buffer, want 14", big)
	}
}
