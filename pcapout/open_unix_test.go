//go:build unix

package pcapout_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/pcapout"
)

// TestCreateSocketPathFails: a unix socket's path fails its open with
// ENXIO, as a FIFO with no reader does, but no reader will come: Create
// fails at once, one error, rather than waiting for a FIFO's reader (the
// rereading review: "waiting for a reader of the FIFO" until a signal).
func TestCreateSocketPathFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("a unix socket: %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waited := false
	w, err := pcapout.CreateWaiting(ctx, path, 0, func() { waited = true })
	if err == nil {
		w.Close()
	}
	if !errors.Is(err, unix.ENXIO) || waited {
		t.Fatalf("CreateWaiting of a unix socket's path: %v, waited for a reader %v; want ENXIO at once", err, waited)
	}
}
