package smuxdiff

import (
	"bytes"
	"testing"
)

// TestWalk checks the oracle's own header walker on hand-made bytes: the
// suite is only as good as its independent count.
func TestWalk(t *testing.T) {
	syn := Encode(2, SYN, 3, nil)
	psh := Encode(2, PSH, 3, []byte("hello"))
	upd := EncodeUPD(3, 5, 65536)
	clean := bytes.Join([][]byte{syn, psh, Encode(2, PSH, 3, nil), upd, Encode(2, NOP, 0, nil), Encode(2, FIN, 3, nil)}, nil)

	w := WalkBytes(clean, 2)
	if w.Stop != Clean || len(w.Frames) != 6 || w.Valid != len(clean) {
		t.Fatalf("clean bytes: %+v", w)
	}
	if f := w.Frames[1]; f.Off != 8 || f.Cmd != PSH || f.Sid != 3 || string(f.Payload) != "hello" {
		t.Errorf("PSH: %+v", f)
	}
	if c, win := w.Frames[3].UPD(); c != 5 || win != 65536 {
		t.Errorf("UPD: consumed %d window %d", c, win)
	}
	if f := w.Frames[2]; f.Len != 0 || f.Cmd != PSH {
		t.Errorf("empty PSH: %+v", f)
	}

	for cut := 1; cut < len(psh); cut++ {
		b := append(append([]byte(nil), syn...), psh[:cut]...)
		w := WalkBytes(b, 2)
		var want [HeaderLen]byte
		copy(want[:], psh[:min(cut, HeaderLen)])
		if w.Stop != Cut || w.At != len(syn) || w.Valid != len(syn) || len(w.Frames) != 1 || w.Header != want {
			t.Errorf("cut %d: %+v", cut, w)
		}
	}

	for _, tc := range []struct {
		name    string
		frame   []byte
		version byte
		why     string
	}{
		{"other version", Encode(1, SYN, 3, nil), 2, "version"},
		{"bad version", Encode(7, SYN, 3, nil), 2, "version"},
		{"SYN with a length", EncodeLen(2, SYN, 3, 4, []byte("abcd")), 2, "length"},
		{"FIN with a length", EncodeLen(2, FIN, 3, 1, []byte("a")), 2, "length"},
		{"NOP with a length", EncodeLen(2, NOP, 0, 1, nil), 2, "length"},
		{"UPD in v1", EncodeLen(1, UPD, 3, 8, make([]byte, 8)), 1, "upd in v1"},
		{"UPD of 4", EncodeLen(2, UPD, 3, 4, make([]byte, 4)), 2, "upd length"},
		{"unknown cmd", Encode(2, 9, 3, nil), 2, "cmd"},
	} {
		b := append(append([]byte(nil), syn...), tc.frame...)
		b[0] = tc.version
		w := WalkBytes(b, tc.version)
		if w.Stop != Invalid || w.At != len(syn) || w.Why != tc.why || len(w.Frames) != 1 || !bytes.Equal(w.Header[:], tc.frame[:HeaderLen]) {
			t.Errorf("%s: %+v", tc.name, w)
		}
	}
}
