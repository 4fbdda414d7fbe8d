package pcapout_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// sizes is a file that keeps what it is given and the size of each write.
type sizes struct {
	mu     sync.Mutex
	data   []byte
	writes []int
}

func (s *sizes) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = append(s.data, p...)
	s.writes = append(s.writes, len(p))
	return len(p), nil
}

// blockEnds returns the offsets at which the pcapng blocks of b end.
func blockEnds(t *testing.T, b []byte) map[int]bool {
	t.Helper()
	ends := map[int]bool{}
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("a partial block header at %d of %d", off, len(b))
		}
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || off+n > len(b) {
			t.Fatalf("a block of length %d at %d of %d", n, off, len(b))
		}
		off += n
		ends[off] = true
	}
	return ends
}

// TestWritesEndAtBlocks writes about 4 MB, much more than the writer's
// buffer holds, within one FlushEvery: every write the file gets must end
// at a block boundary, so that a kill -9 between two writes leaves a file
// of whole blocks, not a last block cut in two.
func TestWritesEndAtBlocks(t *testing.T) {
	f := &sizes{}
	w, err := pcapout.New(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	// Sizes that are no multiple of anything the buffer is, some
	// above mss so that one Write becomes more than one packet.
	for i := range 400 {
		p := make([]byte, 1+(i*7919)%40000)
		c.Write(live.Dir(i%2), at, p)
	}
	c.End(live.ClientToServer, at)
	c.End(live.ServerToClient, at)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Dropped() != 0 {
		t.Fatalf("%d bytes dropped", w.Dropped())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ends := blockEnds(t, f.data)
	if len(f.writes) < 8 {
		t.Fatalf("%d writes to the file; want the buffer to have filled many times", len(f.writes))
	}
	off := 0
	for i, n := range f.writes {
		off += n
		if !ends[off] {
			t.Fatalf("write %d of %d (%d bytes) ends at %d, inside a block", i+1, len(f.writes), n, off)
		}
	}
}
