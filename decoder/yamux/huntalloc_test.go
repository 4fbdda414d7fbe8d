package yamux

import (
	"runtime"
	"testing"
)

// TestResyncAllocJoin joins a transfer of Data frames of MaxResyncData
// bytes (yamux's default window) 10 bytes into its first frame and gives
// it whole: what the hunt allocates in all, the steps its buffer grew by
// included, stays within three times ResyncWindow (the resync doc: the
// buffer behind the ResyncWindow bytes held can grow to twice that).
func TestResyncAllocJoin(t *testing.T) {
	var in []byte
	for range 8 {
		h := MakeHeader(Data, 0, 3, MaxResyncData)
		in = append(in, h[:]...)
		in = append(in, make([]byte, MaxResyncData)...)
	}
	d := New(DefaultSnaplen)
	d.Resync()
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	for p := in[10:]; len(p) > 0; {
		n, _, _ := d.Next(p)
		p = p[n:]
	}
	runtime.ReadMemStats(&b)
	if got := b.TotalAlloc - a.TotalAlloc; got > 3*ResyncWindow {
		t.Fatalf("the hunt allocated %d bytes, ResyncWindow %d", got, ResyncWindow)
	}
}
