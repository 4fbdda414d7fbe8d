package headless

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// lineWriter takes every write until it has taken one that ends a line,
// then nothing: a pipe whose reader stopped reading right after that
// line. held is closed as the write after it begins, and release ends it.
type lineWriter struct {
	took          []byte
	full          bool
	release, held chan struct{}
}

func (w *lineWriter) Write(b []byte) (int, error) {
	if !w.full {
		w.took = append(w.took, b...)
		w.full = bytes.HasSuffix(b, []byte("\n"))
		return len(b), nil
	}
	if w.held != nil {
		close(w.held)
		w.held = nil
	}
	<-w.release
	return 0, io.ErrClosedPipe
}

// TestRunBigLineTakenWhole: a record line longer than the printer's
// 64 KiB buffer (--snaplen 65535, a 65535-byte frame: its payload's hex
// alone is 192 KiB) goes to the output past the buffer, and where the
// output takes all of it and then nothing (the write after it never
// returns), it counts as written: the UnwrittenError's count is of the
// records after it. Before, its end was noted only after the write that
// took it, and looked at only after the next write returned, which never
// did: the count was one too high ("3 records not written, want 2").
func TestRunBigLineTakenWhole(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, f := range []Format{Plain, JSON} {
		t.Run(f.String(), func(t *testing.T) {
			reg := live.New(live.Config{Snaplen: 65535})
			s := reg.Open(live.SessionInfo{Client: "127.0.0.1:51234", Server: "127.0.0.1:9000"}, t0)
			var off int64
			record := func(cmd decoder.Cmd, payload []byte) {
				fr := &decoder.Frame{Offset: off, Header: decoder.MakeHeader(2, cmd, uint16(len(payload)), 3), Payload: payload}
				off += fr.Size()
				s.Record(live.ClientToServer, t0, fr)
			}
			record(decoder.SYN, nil)
			record(decoder.PSH, bytes.Repeat([]byte{0xab}, 65535))
			record(decoder.PSH, []byte("after"))
			record(decoder.FIN, nil)
			w := &lineWriter{release: make(chan struct{}), held: make(chan struct{})}
			held := w.held
			defer close(w.release)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, reg, w, Options{Format: f, Grace: 10 * time.Millisecond})
				done <- err
			}()
			select {
			case <-held:
			case <-time.After(30 * time.Second):
				t.Fatal("the output not held within 30 s")
			}
			cancel()
			var ue *UnwrittenError
			if err := <-done; !errors.As(err, &ue) {
				t.Fatalf("Run: %v, want an UnwrittenError", err)
			}
			lines := bytes.Split(w.took, []byte("\n"))
			if len(lines[len(lines)-2]) <= 64<<10 {
				t.Fatalf("the last line taken is %d bytes, not past the 64 KiB buffer: the test proves nothing", len(lines[len(lines)-2]))
			}
			whole := uint64(len(lines) - 1)
			if want := reg.History().Next - 1 - whole; ue.Records != want {
				t.Errorf("%d records not written, want %d: all but the %d whole lines of the %d bytes taken", ue.Records, want, whole, len(w.took))
			}
		})
	}
}
