// Package printable renders bytes from the wire, and text that may quote
// them, for a terminal: as hex and printable ASCII only, so that no escape
// sequence on the wire can ever drive the user's terminal. It is the one
// place that decides what of such bytes and text is shown as it is: every
// front end renders through it.
package printable

import (
	"encoding/binary"
	"slices"
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendHex appends p as space-separated lower-case hex bytes.
func AppendHex(b, p []byte) []byte {
	if len(p) == 0 {
		return b
	}
	// A payload of snaplen bytes is the longest part of a record's line,
	// formatted for every frame: grow once, then store each byte but the
	// last as "xx " in one 4-byte word from a table, whose fourth byte
	// the next store overwrites; the last byte's two digits end it. No
	// byte past the result is written, as with append.
	n, m := len(b), 3*len(p)-1
	b = slices.Grow(b, m)[:n+m]
	out := b[n:]
	for _, c := range p[:len(p)-1] {
		binary.LittleEndian.PutUint32(out, hexSpaced[c])
		out = out[3:]
	}
	c := p[len(p)-1]
	out[0], out[1] = hexDigits[c>>4], hexDigits[c&15]
	return b
}

// hexSpaced holds, for each byte value, its two hex digits and a space,
// little-endian: the bytes AppendHex stores.
var hexSpaced = func() (t [256]uint32) {
	for c := range t {
		t[c] = uint32(hexDigits[c>>4]) | uint32(hexDigits[c&15])<<8 | ' '<<16
	}
	return t
}()

// Byte returns c if it is printable ASCII (0x20..0x7e), '.' otherwise.
func Byte(c byte) byte {
	if c < 0x20 || c > 0x7e {
		return '.'
	}
	return c
}

// AppendASCII appends p with every byte outside printable ASCII as '.'.
func AppendASCII(b, p []byte) []byte {
	n := len(b)
	b = slices.Grow(b, len(p))[:n+len(p)]
	out := b[n:]
	for i, c := range p {
		out[i] = asciiOf[c] // a table, not Byte's branches, which arbitrary bytes mispredict
	}
	return b
}

// asciiOf is Byte as a table.
var asciiOf = func() (t [256]byte) {
	for c := range t {
		t[c] = Byte(byte(c))
	}
	return t
}()

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
