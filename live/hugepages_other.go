//go:build !linux

package live

// hugePageSlice returns make([]T, n): there is no madvise(MADV_HUGEPAGE)
// here.
func hugePageSlice[T any](n int) []T { return make([]T, n) }

// adviseSmallPages does nothing where there is no madvise.
func adviseSmallPages([]byte) {}
