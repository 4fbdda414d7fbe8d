package live

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// hugePageSize is the size of the kernel's transparent huge pages, or 0
// where it has none (no THP, or GODEBUG=disablethp=1, which asks the Go
// runtime to use none either).
var hugePageSize = sync.OnceValue(func() uintptr {
	for _, s := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if s == "disablethp=1" {
			return 0
		}
	}
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 || n&(n-1) != 0 {
		return 0
	}
	return uintptr(n)
})

// hugePageSlice returns make([]T, n), laid out for transparent huge
// pages where it spans at least one: it starts on a huge page boundary
// (its backing array one huge page longer: heap the garbage collector
// counts, which the slice never writes, so fresh from the OS it is never
// backed by memory), and the kernel is asked to back it with huge
// pages (madvise MADV_HUGEPAGE), as the Go runtime does for its own large
// tables. Where THP is left to madvise, the default of most distributions,
// it is not used otherwise.
//
// The history ring is written in order across tens of megabytes that
// the OS backs with memory as they are first written: with 4 KiB pages
// that is a page fault every 13 records of bulk traffic (a slot's 128
// bytes and 192 arena bytes a record; every 32 of small frames) for the
// whole first lap of the ring, each fault an entry into the kernel on the
// recording goroutine, which is a tapped program's reader or attach's
// forwarding loop. With 2 MiB pages the lap takes 512 times fewer faults
// (each zeroes a whole huge page) and the ring fewer TLB entries; aligned,
// no 4 KiB pages are left at its ends. The memory is what --history and
// --snaplen say (snaplen + 64 bytes a record), which a ring on small
// pages reaches too once its records are written whole; a huge page is
// backed whole at its first write, so where the records are written
// sparsely (long records' payloads cut short) it is reached sooner.
//
// The advice outlives the slice: memory the Go heap reuses there after
// it is freed comes in huge pages too (Config.HugePages says who may ask).
func hugePageSlice[T any](n int) []T {
	size := hugePageSize()
	elem := unsafe.Sizeof(*new(T))
	if size == 0 || elem == 0 || size%elem != 0 || uintptr(n)*elem < size {
		return make([]T, n)
	}
	s := make([]T, n+int(size/elem))
	gap := (size - uintptr(unsafe.Pointer(&s[0]))%size) % size
	if gap%elem != 0 { // not on an element boundary: advise it where it lies
		s = s[:n:n]
	} else {
		off := int(gap / elem)
		s = s[off : off+n : off+n]
	}
	p := unsafe.Pointer(&s[0])
	start := (uintptr(p) + size - 1) &^ (size - 1)
	end := (uintptr(p) + uintptr(n)*elem) &^ (size - 1)
	if start < end {
		// Best effort: a kernel that refuses leaves the ring on small
		// pages, as it was.
		syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start), syscall.MADV_HUGEPAGE)
	}
	return s
}

// adviseSmallPages asks the kernel to back b with small pages
// (MADV_NOHUGEPAGE), whatever advice an earlier user of its memory left.
func adviseSmallPages(b []byte) {
	pg := uintptr(os.Getpagesize())
	if uintptr(len(b)) < pg {
		return
	}
	p := unsafe.Pointer(&b[0])
	start := (uintptr(p) + pg - 1) &^ (pg - 1)
	end := (uintptr(p) + uintptr(len(b))) &^ (pg - 1)
	if start < end {
		syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start), syscall.MADV_NOHUGEPAGE)
	}
}
