package yamux_test

import (
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
)

// TestFlushNothingHeldThenBytes: Flush at once after Resync, before any
// byte, holds nothing to decide on; Next given bytes then must consume
// one or yield a frame, as its doc says.
func TestFlushNothingHeldThenBytes(t *testing.T) {
	in := []byte(synData1 + ackWnd1 + data1 + finWnd1)
	d := yamux.New(yamux.DefaultSnaplen)
	d.Resync()
	d.Flush()
	if n, f, err := d.Next(in); n == 0 && f == nil && err == nil {
		t.Fatalf("Next(%d bytes) after Resync and Flush consumed nothing and yielded nothing", len(in))
	}
}
