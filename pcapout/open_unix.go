//go:build unix

package pcapout

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// openFile opens path to write it, creating or truncating a regular
// file. It opens it write-only: a FIFO opened to read and write as well
// (os.Create's O_RDWR) has the writer for one of its readers, so when
// the real reader leaves the writes never fail with EPIPE and block for
// good. A FIFO with no reader yet is waited for (checked every
// fifoPoll): noReader is called once as the wait begins, and the wait
// ends with ctx, in ErrNoReader.
func openFile(ctx context.Context, path string, noReader func()) (*os.File, error) {
	told := false
	for {
		// O_NONBLOCK: a FIFO's open fails at once (ENXIO) while it has
		// no reader, rather than blocking where no signal ends it.
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o666)
		if err == nil {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				return nil, &os.PathError{Op: "open", Path: path, Err: err}
			}
			if st.Mode&unix.S_IFMT != unix.S_IFIFO {
				// A FIFO's writes stay non-blocking, for Go's poller to
				// wait on (a Close ends them); a file's do not.
				if err := unix.SetNonblock(fd, false); err != nil {
					unix.Close(fd)
					return nil, &os.PathError{Op: "open", Path: path, Err: err}
				}
			}
			return os.NewFile(uintptr(fd), path), nil
		}
		var st unix.Stat_t
		if !errors.Is(err, unix.ENXIO) || unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			// ENXIO of a unix socket, or of a device with no driver, is
			// no FIFO waiting for its reader: nothing would end the wait.
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		if !told && noReader != nil {
			noReader()
		}
		told = true
		select {
		case <-ctx.Done():
			return nil, ErrNoReader
		case <-time.After(fifoPoll):
		}
	}
}

// fifoPoll is how often openFile tries a FIFO again for a reader.
const fifoPoll = 50 * time.Millisecond
