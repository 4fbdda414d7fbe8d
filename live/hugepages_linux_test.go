package live

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/muxtop/muxtop/decoder"
)

// vmFlags returns the VmFlags of the mapping of /proc/self/smaps that
// holds addr.
func vmFlags(t testing.TB, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no mapping in /proc/self/smaps holds %#x", addr)
	return nil
}

// ringParts are the two large arrays of h, as address and length.
func ringParts(h *history) []struct {
	name string
	p    unsafe.Pointer
	n    uintptr
} {
	return []struct {
		name string
		p    unsafe.Pointer
		n    uintptr
	}{
		{"slots", unsafe.Pointer(&h.slots[0]), uintptr(len(h.slots)) * unsafe.Sizeof(h.slots[0])},
		{"arena", unsafe.Pointer(&h.arena[0]), uintptr(len(h.arena))},
	}
}

// TestHistoryAsksForHugePages checks that a default ring's slots and
// arena start on a huge page boundary and lie in memory advised
// MADV_HUGEPAGE ("hg" among the mapping's VmFlags).
func TestHistoryAsksForHugePages(t *testing.T) {
	size := hugePageSize()
	if size == 0 {
		t.Skip("the kernel has no transparent huge pages (or GODEBUG=disablethp=1): nothing to ask for")
	}
	h := newHistory(DefaultHistory, DefaultSnaplen, true)
	for _, part := range ringParts(h) {
		if off := uintptr(part.p) % size; off != 0 {
			t.Errorf("%s: starts %d bytes into a huge page, want on its boundary: its first pages are small ones", part.name, off)
		}
		first := (uintptr(part.p) + size - 1) &^ (size - 1) // the first whole huge page in it
		last := (uintptr(part.p)+part.n)&^(size-1) - 1      // the last byte of the last one
		for _, at := range []uintptr{first, last} {
			if flags := vmFlags(t, at); !slices.Contains(flags, "hg") {
				t.Errorf("%s: the mapping at %#x is not advised MADV_HUGEPAGE: VmFlags %v", part.name, at, flags)
			}
		}
	}
	runtime.KeepAlive(h)
}

// BenchmarkHistoryFirstLap records one lap of a fresh default ring with
// bulk frames (each keeping 256 payload bytes, the default snaplen), as
// the first 100 000 frames of a capture do: every slot and arena byte is
// written for the first time, so the OS backs the ring with memory as it
// goes. pages=4k is the ring on small pages (its huge-page advice
// withdrawn), pages=huge as newHistory leaves it; run side by side, the
// ratio is what the advice saves. faults/record counts the process's
// minor page faults.
func BenchmarkHistoryFirstLap(b *testing.B) {
	if hugePageSize() == 0 {
		b.Skip("the kernel has no transparent huge pages: both variants would be the same")
	}
	payload := make([]byte, 32<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	d := slotData{session: 1, header: decoder.MakeHeader(1, decoder.PSH, 32768, 3), kind: FrameRecord}
	for _, huge := range []bool{false, true} {
		name := "pages=4k"
		if huge {
			name = "pages=huge"
		}
		b.Run(name, func(b *testing.B) {
			var faults int64
			var records int
			var spent time.Duration
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				debug.FreeOSMemory() // the next ring's memory is new to the process
				h := newHistory(DefaultHistory, DefaultSnaplen, true)
				if !huge {
					for _, part := range ringParts(h) {
						syscall.Madvise(unsafe.Slice((*byte)(part.p), part.n), syscall.MADV_NOHUGEPAGE)
					}
				}
				before := minorFaults(b)
				start := time.Now()
				b.StartTimer()
				for i := range len(h.slots) {
					d.at, d.offset = int64(i), int64(i)*(decoder.HeaderSize+32768)
					h.addFrameData(d, payload, true)
				}
				b.StopTimer()
				spent += time.Since(start)
				faults += minorFaults(b) - before
				records += len(h.slots)
				b.StartTimer()
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(records), "ns/record")
			b.ReportMetric(float64(faults)/float64(records), "faults/record")
		})
	}
}

// minorFaults returns the process's minor page faults so far.
func minorFaults(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return int64(ru.Minflt) // an int32 on 32-bit Linux
}

// TestHistorySparseArenaStaysSmall records one lap of 1000-byte frames
// into a ring of a large snaplen: each record writes 936 bytes of its
// 65 471-byte share of the arena, one or two small pages, and the arena
// must keep no more than those resident. On huge pages the kernel backed
// all of it (124 of 125 MiB against 9): the arena of a snaplen above
// 4160 stays on small pages.
func TestHistorySparseArenaStaysSmall(t *testing.T) {
	const capacity, snaplen = 2000, 65535
	h := newHistory(capacity, snaplen, true) // asked for, and refused for a sparse arena
	// The runtime zeroes a large allocation of memory the heap used
	// before, writing all of it: a test process that made rings before
	// this one gets an arena resident before a record (CI's race run).
	// Dropped, it is zero and unbacked again, as fresh from the OS.
	dropPages(t, h.arena)
	payload := make([]byte, 1000)
	d := slotData{session: 1, header: decoder.MakeHeader(1, decoder.PSH, 1000, 3), kind: FrameRecord}
	for i := range capacity {
		d.at, d.offset = int64(i), int64(i)*(decoder.HeaderSize+1000)
		h.addFrameData(d, payload, false)
	}
	page := int64(os.Getpagesize())
	if got, most := resident(t, h.arena), 2*capacity*page; got > most {
		t.Errorf("the arena keeps %d MiB resident after one lap of 1000-byte frames, want at most %d MiB (two small pages a record) of its %d MiB",
			got>>20, most>>20, len(h.arena)>>20)
	}
	runtime.KeepAlive(h)
}

// dropPages gives the kernel back the whole small pages of b
// (MADV_DONTNEED): they read as zeros, unbacked until written.
func dropPages(t *testing.T, b []byte) {
	t.Helper()
	pg := uintptr(os.Getpagesize())
	p := unsafe.Pointer(&b[0])
	start := (uintptr(p) + pg - 1) &^ (pg - 1)
	end := (uintptr(p) + uintptr(len(b))) &^ (pg - 1)
	if err := syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start), syscall.MADV_DONTNEED); err != nil {
		t.Skipf("madvise(MADV_DONTNEED): %v", err)
	}
	if got := resident(t, b); got > int64(2*pg) {
		t.Fatalf("%d bytes resident after MADV_DONTNEED, want none but the ends", got)
	}
}

// resident returns how many bytes of b the kernel backs with memory
// (mincore).
func resident(t *testing.T, b []byte) int64 {
	t.Helper()
	pg := uintptr(os.Getpagesize())
	p := unsafe.Pointer(&b[0])
	lo := uintptr(p) &^ (pg - 1)
	n := (uintptr(p)+uintptr(len(b))+pg-1)&^(pg-1) - lo
	vec := make([]byte, n/pg)
	_, _, e := syscall.Syscall(syscall.SYS_MINCORE, lo, n, uintptr(unsafe.Pointer(&vec[0])))
	runtime.KeepAlive(b)
	if e != 0 {
		t.Skipf("mincore: %v", e)
	}
	var in int64
	for _, v := range vec {
		if v&1 != 0 {
			in += int64(pg)
		}
	}
	return in
}
