// Package capperm lets tests that capture packets (AF_PACKET sockets:
// muxtop sniff) skip where the process may not, and fail instead where CI
// says it must.
package capperm

import (
	"os"
	"testing"
)

// Require is the environment variable that .ci/run sets: with it, a test
// that cannot capture fails rather than skips.
const Require = "MUXTOP_REQUIRE_CAPTURE"

// Missing skips t, which needs to capture packets and cannot (why: it
// needs root or CAP_NET_RAW), or fails it when Require is set.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(Require) == "1" {
		t.Fatalf("%s, and %s=1 (set by .ci/run) says it must run", why, Require)
	}
	t.Skip(why)
}
