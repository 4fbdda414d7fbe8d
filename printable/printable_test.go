package printable

import (
	"testing"
	"unicode/utf8"
)

func TestNothingRawReachesTheTerminal(t *testing.T) {
	wire := []byte("\x1b[2J\x1b]52;c;aGk=\x07\x9b31m\x00ok\x7f")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"hex", string(AppendHex(nil, []byte{0x00, 0x1b, 0xff})), "00 1b ff"},
		{"ascii", string(AppendASCII(nil, wire)), ".[2J.]52;c;aGk=..31m.ok."},
		{"text", string(AppendText(nil, "a → b\x1b[31m\u009b\xff")), "a → b.[31m.."},
		{"Text", Text("a → b\x1b[31m\u009b\xff\r\n"), "a → b.[31m...."},
		{"Text, clean", Text("127.0.0.1:9000 → é"), "127.0.0.1:9000 → é"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
		for _, r := range tt.got {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError {
				t.Errorf("%s: %q reached the output", tt.name, r)
			}
		}
	}
}

func TestTextDoesNotCopyCleanText(t *testing.T) {
	s := "attach: upstream 127.0.0.1:9000 refused the connection"
	if n := testing.AllocsPerRun(100, func() { _ = Text(s) }); n != 0 {
		t.Errorf("Text of clean ASCII: %v allocations, want 0", n)
	}
}
