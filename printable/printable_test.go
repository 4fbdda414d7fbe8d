package printable

import (
	"fmt"
	"strings"
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

// BenchmarkAppendHex formats a snaplen's 256 bytes, as every bulk frame's
// line does.
func BenchmarkAppendHex(b *testing.B) {
	p := make([]byte, 256)
	for i := range p {
		p[i] = byte(i * 7)
	}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		buf = AppendHex(buf[:0], p)
	}
}

// TestAppendHexAndASCII checks the table-driven appenders against the
// obvious formatting, for every byte value, every length up to 300, onto
// prefixes with and without spare capacity, and that nothing past the
// result is written.
func TestAppendHexAndASCII(t *testing.T) {
	p := make([]byte, 300)
	for i := range p {
		p[i] = byte(i*151 + 7) // every byte value
	}
	for n := 0; n <= len(p); n++ {
		q := p[:n]
		want := fmt.Sprintf("% x", q)
		var ascii strings.Builder
		for _, c := range q {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			ascii.WriteByte(c)
		}
		for _, spare := range []int{0, 1, 2, 1000} {
			for _, ap := range []struct {
				name string
				fn   func([]byte, []byte) []byte
				want string
			}{{"AppendHex", AppendHex, want}, {"AppendASCII", AppendASCII, ascii.String()}} {
				prefix := "ab"
				buf := make([]byte, len(prefix), len(prefix)+spare)
				copy(buf, prefix)
				full := buf[:cap(buf)]
				for i := len(prefix); i < len(full); i++ {
					full[i] = '#'
				}
				got := ap.fn(buf, q)
				if string(got) != prefix+ap.want {
					t.Fatalf("%s(%d bytes, spare %d) = %q, want %q", ap.name, n, spare, got, prefix+ap.want)
				}
				if spare > len(ap.want) {
					for i := len(got); i < cap(buf); i++ {
						if full[i] != '#' {
							t.Fatalf("%s(%d bytes, spare %d) wrote byte %d, past its result", ap.name, n, spare, i)
						}
					}
				}
			}
		}
	}
}
