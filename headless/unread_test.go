package headless

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// heldWriter takes its first take writes, then nothing: a reader of
// stdout that stopped reading. held is closed as the write after those
// begins, and release ends it.
type heldWriter struct {
	take          int
	took          []byte
	release, held chan struct{}
}

func newHeldWriter(take int) *heldWriter {
	return &heldWriter{take: take, release: make(chan struct{}), held: make(chan struct{})}
}

func (w *heldWriter) Write(b []byte) (int, error) {
	if w.take > 0 {
		w.take--
		w.took = append(w.took, b...)
		return len(b), nil
	}
	if w.take == 0 {
		w.take--
		close(w.held)
	}
	<-w.release
	return 0, io.ErrClosedPipe
}

// TestRunOutputTakesNothing: an output that takes nothing holds up
// neither the capture (frames go on being recorded while the printer is
// held in its write) nor the stop: once ctx is done, Run stops the
// watched system at once, gives the output its grace, and returns an
// UnwrittenError counting every record; its printer goroutine ends once
// the write returns. Before, Run stopped nothing until its write
// returned: "Stop not called within 30 s of the cancel".
func TestRunOutputTakesNothing(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{History: live.Exactly(1000)})
	f := newRandFeeder(reg)
	w := newHeldWriter(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, reg, w, Options{Format: JSON, Stop: func() { close(stopped) }, Grace: 10 * time.Millisecond})
		done <- err
	}()
	defer close(w.release) // ends the printer's write, and it
	for held := false; !held; {
		for range 64 {
			f.next()
		}
		select {
		case <-w.held:
			held = true
		default:
		}
	}
	// The data path goes on while the printer is held: 10 rings' worth.
	for range 10 * reg.Config().History {
		f.next()
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop not called within 30 s of the cancel")
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of the stop, its grace 10ms")
	}
	var ue *UnwrittenError
	if !errors.As(err, &ue) {
		t.Fatalf("Run: %v, want an UnwrittenError", err)
	}
	if want := reg.History().Next - 1; ue.Records != want {
		t.Errorf("%d records not written, want all %d: the output took none", ue.Records, want)
	}
	if ue.Grace != 10*time.Millisecond {
		t.Errorf("grace %v, want the 10ms given", ue.Grace)
	}
}

// TestRunOutputTakesSome: where the output took some records whole
// before it stopped taking any, only the others count as not written.
func TestRunOutputTakesSome(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	for _, f := range []Format{Plain, JSON} {
		t.Run(f.String(), func(t *testing.T) {
			reg := live.New(live.Config{History: live.Exactly(100_000)})
			feed := newRandFeeder(reg)
			w := newHeldWriter(5)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, reg, w, Options{Format: f, Grace: 10 * time.Millisecond})
				done <- err
			}()
			defer close(w.release)
			for held := false; !held; {
				for range 64 {
					feed.next()
				}
				select {
				case <-w.held:
					held = true
				default:
				}
			}
			cancel()
			var ue *UnwrittenError
			if err := <-done; !errors.As(err, &ue) {
				t.Fatalf("Run: %v, want an UnwrittenError", err)
			}
			whole := uint64(bytes.Count(w.took, []byte("\n")))
			if want := reg.History().Next - 1 - whole; ue.Records != want {
				t.Errorf("%d records not written, want %d: all but the %d whole lines of the %d bytes taken", ue.Records, want, whole, len(w.took))
			}
		})
	}
}

// slowWriter takes every write, each after a pause: a slow reader of
// stdout that still reads (| ssh … 'cat > x', a heavy jq).
type slowWriter struct {
	pause time.Duration
	took  bytes.Buffer
}

func (w *slowWriter) Write(b []byte) (int, error) {
	time.Sleep(w.pause)
	return w.took.Write(b)
}

// TestRunSlowOutputWaited: after the stop, an output that still takes
// records is waited for however long the rest takes; the grace counts
// only while it takes none. Here the rest takes over three times the
// grace (a write of at most 4 KiB every 10 ms), and all of it, the
// summary too, is written. Before, the grace was a deadline from the
// stop: "Run: stdout did not take the output within 1s of the stop:
// 6843 records not written, nor the summary, want nil".
func TestRunSlowOutputWaited(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{History: live.Exactly(100_000)})
	f := newRandFeeder(reg)
	for range 10_000 {
		f.next()
	}
	w := &slowWriter{pause: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped before the printer wrote a thing
	const grace = time.Second
	start := time.Now()
	_, err := Run(ctx, reg, w, Options{Format: JSON, Grace: grace})
	if err != nil {
		t.Fatalf("Run: %v, want nil", err)
	}
	if took := time.Since(start); took < 3*grace {
		t.Fatalf("the output took %v, not past the grace three times over: the test proves nothing", took)
	}
	if !bytes.Contains(w.took.Bytes(), []byte(`{"type":"summary"`)) {
		t.Errorf("no summary written")
	}
}

// TestRunCutBySecondSignal: Options.Cut, closed (a second signal) while
// the output takes nothing, ends the grace at once: Run returns an
// UnwrittenError that says so, however long the grace.
func TestRunCutBySecondSignal(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{History: live.Exactly(1000)})
	f := newRandFeeder(reg)
	w := newHeldWriter(0)
	defer close(w.release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, reg, w, Options{Format: JSON, Grace: time.Hour, Cut: cut})
		done <- err
	}()
	for held := false; !held; {
		f.next()
		select {
		case <-w.held:
			held = true
		default:
		}
	}
	cancel()
	close(cut)
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of the cut, its grace an hour")
	}
	var ue *UnwrittenError
	if !errors.As(err, &ue) || ue.Grace != 0 || ue.Records == 0 {
		t.Fatalf("Run: %#v, want an UnwrittenError of a cut", err)
	}
	if want := "a second signal cut the output short: "; !strings.HasPrefix(ue.Error(), want) {
		t.Errorf("%q, want it to begin %q", ue.Error(), want)
	}
}
