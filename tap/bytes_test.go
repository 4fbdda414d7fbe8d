package tap

import "testing"

// TestBytes: the byte counts the tap's details say are singular at 1.
func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 2: "2 bytes"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := JoinedDetail(1, 1); got != "the capture began inside the connection: 1 byte before the first frame boundary, the end of a frame sent before, skipped; what was sent before it is not counted" {
		t.Errorf("JoinedDetail(1, 1) = %q", got)
	}
}
