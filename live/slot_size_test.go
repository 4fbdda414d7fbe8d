package live

import (
	"testing"
	"unsafe"
)

// TestSlotSize checks the layout history's comment explains: a slot is two
// 64-byte cache lines, the record with its lock in the first and the
// inline payload filling the second.
func TestSlotSize(t *testing.T) {
	if s := unsafe.Sizeof(slot{}); s != 128 {
		t.Errorf("slot is %d bytes, want two 64-byte cache lines", s)
	}
	if o := unsafe.Offsetof(slot{}.inline); o != 64 {
		t.Errorf("inline payload at offset %d, want 64: the second cache line", o)
	}
	// The ring's slots start on a 128-byte boundary, so no slot straddles
	// more than its two lines.
	h := newHistory(DefaultHistory, DefaultSnaplen, false)
	if a := uintptr(unsafe.Pointer(&h.slots[0])); a%128 != 0 {
		t.Errorf("ring at %#x, want a 128-byte boundary", a)
	}
}

// TestStreamSize pins a stream's size: a session holds one per stream
// open, and fields the engine adds fill the padding where they can
// (NO_REPLY's calling and answers in streamWatch's; DATA_AFTER_CLOSE's
// run in stream's, leakAtEnd moved to streamWatch's for it); smux v1's
// readBy found none and adds 16: 496 bytes; NO_REPLY's pushQuiet and
// ackDelay (what its words say of a request that followed a push) add 8:
// 504 bytes, still in Go's 512-byte size class, 32 bytes more a stream
// than 480; end, where the bytes that fill each direction's window end
// (a tapped end's writer is held by its window only once they have
// left it), adds the last 8: 512, the size class still, no byte more a
// stream allocated.
func TestStreamSize(t *testing.T) {
	if s := unsafe.Sizeof(stream{}); s != 512 {
		t.Errorf("stream is %d bytes, want 512", s)
	}
}
