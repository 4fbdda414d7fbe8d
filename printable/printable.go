// Package printable renders bytes from the wire, and text that may quote
// them, for a terminal: as hex and printable ASCII only, so that no escape
// sequence on the wire can ever drive the user's terminal. It is the one
// place that decides what of such bytes and text is shown as it is: every
// front end renders through it.
package printable

import (
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendHex appends p as space-separated lower-case hex bytes.
func AppendHex(b, p []byte) []byte {
	for i, c := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// Byte returns c if it is printable ASCII (0x20..0x7e), '.' otherwise.
func Byte(c byte) byte {
	if c < 0x20 || c > 0x7e {
		return '.'
	}
	return c
}

// AppendASCII appends p with every byte outside printable ASCII as '.'.
func AppendASCII(b, p []byte) []byte {
	for _, c := range p {
		b = append(b, Byte(c))
	}
	return b
}

// AppendText appends s with control characters (C0, DEL and C1) and
// invalid UTF-8 as '.': for text that is ours but may quote addresses,
// errors, notes and a caller's status line.
func AppendText(b []byte, s string) []byte {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = '.'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// Text returns s as AppendText renders it, without a copy when s has
// nothing to replace.
func Text(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return string(AppendText(make([]byte, 0, len(s)), s))
		}
	}
	return s
}
