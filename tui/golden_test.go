package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata/")

// golden compares got with testdata/<TestName>/<name>.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.Split(t.Name(), "/")[0], name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("screen differs from %s (go test ./tui -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestGolden pins the screens of the fixture capture at 80×24 and 160×45:
// each case is the keys pressed from the start.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"sessions", nil},
		{"streams", []string{"enter"}},
		{"frames", []string{"enter", "enter"}},
		{"detail", []string{"enter", "j", "enter", "j", "enter"}},
		{"escapes", []string{"enter", "G", "enter", "G", "enter"}},
		{"upd", []string{"j", "enter", "enter", "g", "j", "j", "enter"}},
		{"truncated", []string{"j", "enter", "G", "enter", "G", "enter"}},
		{"violation", []string{"G", "enter", "k", "enter", "G", "k"}},
		{"leaks-first", []string{"enter", "s"}},
		{"filter", []string{"/", "c", "m", "d", ":", "f", "i", "n", "enter", "enter", "j", "enter"}},
		{"filter-error", []string{"/", "c", "d", "m", ":", "p", "s", "h", "enter"}},
		{"violations", []string{"v"}},
		{"help", []string{"?"}},
	}
	c := fixture()
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		for _, tc := range cases {
			name := tc.name + "-" + strconv.Itoa(size.w) + "x" + strconv.Itoa(size.h)
			t.Run(name, func(t *testing.T) {
				m := press(c.model(t, size.w, size.h), tc.keys...)
				checkFits(t, m, size.w, size.h)
				golden(t, name, screenOf(m)+"\n")
			})
		}
	}
}
