package live

import "unsafe"

// prefetch asks the CPU to bring the cache lines at p, p+64, q and q+64
// into cache, without waiting for them. Implemented in prefetch_amd64.s.
//
//go:noescape
func prefetch(p, q unsafe.Pointer)
