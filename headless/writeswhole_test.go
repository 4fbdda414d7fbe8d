//go:build linux || darwin

package headless

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestWritesWhole checks which outputs the printer writes whole buffers
// to: those no reader can stop taking from (a file, /dev/null), and not
// a pipe, a socket or a terminal, where it cuts its writes to pipeBuf so
// that what the reader took is known to the byte when it gives up.
func TestWritesWhole(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "out.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sock, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	tests := []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a regular file", file, true},
		{"/dev/null", null, true},
		{"a pipe", pw, false},
		{"a socket", sock, false},
		{"a bytes.Buffer (no descriptor)", &bytes.Buffer{}, false},
	}
	// A terminal: the master side of a pseudo-terminal, where there is one.
	if ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err == nil {
		defer ptmx.Close()
		tests = append(tests, struct {
			name string
			w    io.Writer
			want bool
		}{"a terminal", ptmx, false})
	} else {
		t.Logf("no terminal checked: %v", err)
	}
	reg := live.New(live.Config{})
	for _, tt := range tests {
		if got := writesWhole(tt.w); got != tt.want {
			t.Errorf("%s: writesWhole = %v, want %v", tt.name, got, tt.want)
		}
		want := pipeBuf
		if tt.want {
			want = 0
		}
		if got := NewPrinter(reg, tt.w, JSON).out.chunk; got != want {
			t.Errorf("%s: the printer cuts its writes to %d bytes, want %d", tt.name, got, want)
		}
	}
}

// TestCutWriterChunks writes 10 000 bytes through a cutWriter cut to
// pipeBuf and through one that is not: three writes, and one.
func TestCutWriterChunks(t *testing.T) {
	for _, tt := range []struct {
		chunk int
		want  []int
	}{{pipeBuf, []int{4096, 4096, 1808}}, {0, []int{10000}}} {
		var sizes sizeLog
		c := &cutWriter{w: &sizes, chunk: tt.chunk}
		if n, err := c.Write(make([]byte, 10000)); n != 10000 || err != nil {
			t.Fatalf("chunk %d: Write = %d, %v", tt.chunk, n, err)
		}
		if got := []int(sizes); !slices.Equal(got, tt.want) {
			t.Errorf("chunk %d: writes of %v bytes, want %v", tt.chunk, got, tt.want)
		}
		if c.taken != 10000 {
			t.Errorf("chunk %d: taken %d, want 10000", tt.chunk, c.taken)
		}
	}
}

// sizeLog is a writer that logs the size of each write.
type sizeLog []int

func (s *sizeLog) Write(p []byte) (int, error) { *s = append(*s, len(p)); return len(p), nil }
