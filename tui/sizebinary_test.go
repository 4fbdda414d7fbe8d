package tui

import "testing"

// TestSizeBinary: amounts of bytes, windows and the bytes in flight against them among them, read in
// the binary units the findings word them in, in six cells at most: the
// streams pane said ← 262kB/65.5kB STALLED beside a WINDOW_STALL finding's
// "255.9 KiB in flight … against the 64 KiB window".
func TestSizeBinary(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0KiB"}, {9728, "9.5KiB"}, {65535, "64KiB"}, {65536, "64KiB"},
		{262044, "256KiB"}, {262144, "256KiB"}, {1023 << 10, "1.0MiB"}, {16 << 20, "16MiB"}, {1 << 62, "4.0EiB"},
	} {
		got := size(tc.n)
		if got != tc.want {
			t.Errorf("size(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if width(got) > 6 {
			t.Errorf("size(%d) = %q, %d cells; want at most 6", tc.n, got, width(got))
		}
	}
}
