package live

import "unsafe"

// prefetch asks the CPU to bring the two cache lines at p and p+64 into
// cache, without waiting for them. Implemented in prefetch_amd64.s.
//
//go:noescape
func prefetch(p unsafe.Pointer)
