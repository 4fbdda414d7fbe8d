package live

import (
	"testing"
	"unsafe"
)

func TestSlotSize(t *testing.T) {
	if s := unsafe.Sizeof(slot{}); s != 64 {
		t.Errorf("slot is %d bytes, want one 64-byte cache line", s)
	}
}
