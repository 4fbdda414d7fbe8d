//go:build !unix

package main

import (
	"os"
	"testing"
)

// nonBlocking: a descriptor's blocking mode is a Unix notion; where there
// is none, the check is not made.
func nonBlocking(t *testing.T, f *os.File) bool {
	t.Helper()
	t.Log("no O_NONBLOCK on this system: standard input's mode not checked")
	return false
}
