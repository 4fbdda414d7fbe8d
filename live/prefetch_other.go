//go:build !amd64

package live

import "unsafe"

// prefetch is a no-op where there is no assembly for it.
func prefetch(p, q unsafe.Pointer) {}
