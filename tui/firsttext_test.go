package tui

import (
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestFirstTextOneRendering: the streams pane's →first column renders a
// direction's first bytes by the rules every other front end follows
// (live.FirstBytes.AppendQuoted), less the quotes: "(none sent)" where
// none came, … before them where the capture joined the stream and after
// them where they were cut, every byte outside printable ASCII a '.'.
// Before, the column had its own rules and said "-" for none sent.
func TestFirstTextOneRendering(t *testing.T) {
	fb := func(s string, cut, joined bool) *live.FirstBytes {
		var b live.FirstBytes
		b.N = uint8(copy(b.Data[:], s))
		b.Cut, b.Joined = cut, joined
		return &b
	}
	for _, tc := range []struct {
		name string
		b    *live.FirstBytes
		want string
	}{
		{"none sent", fb("", false, false), "(none sent)"},
		{"plain", fb(`GET "/x"`, false, false), `GET "/x"`},
		{"non-printable", fb("a\x00b\xffc\n", false, false), "a.b.c."},
		{"cut", fb("upload", true, false), "upload…"},
		{"cut, none seen", fb("", true, false), "…"},
		{"joined", fb("ad", false, true), "…ad"},
		{"joined, none since", fb("", true, true), "…"},
		{"joined and cut", fb("ad", true, true), "…ad…"},
	} {
		if got := firstText(tc.b); got != tc.want {
			t.Errorf("%s: column %q, want %q", tc.name, got, tc.want)
		}
		// The quoted rendering is the same but for its quotes.
		if q := string(tc.b.AppendQuoted(nil)); tc.b.N > 0 && q != "" {
			var unq []byte
			for i := 0; i < len(q); i++ {
				if q[i] == '\\' {
					i++
				} else if q[i] == '"' {
					continue
				}
				unq = append(unq, q[i])
			}
			if string(unq) != tc.want {
				t.Errorf("%s: quoted %q, unquoted %q, column %q", tc.name, q, unq, tc.want)
			}
		}
	}
}
