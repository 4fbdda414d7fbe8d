package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// noInputOf returns the no_input field of status, or nil.
func noInputOf(status live.Status) any {
	for _, f := range status {
		if f.Key == "no_input" {
			return f.Value
		}
	}
	return nil
}

// pipedHalf is a real capture (base-v2) of which a pipe has brought the
// first half to read -, which opened it.
type pipedHalf struct {
	pr    *io.PipeReader
	pw    *io.PipeWriter
	cr    *countingReader // on the test's clock
	file  *pcap.File
	half  int64
	rest  []byte        // the capture's second half, not yet written
	wrote chan struct{} // closed once the first half's write returned
}

// pipeHalf starts writing the first half of base-v2 down a pipe, opens
// the capture from its counting reader, on a clock the test moves, and
// returns them.
func pipeHalf(t *testing.T) (*testClock, *pipedHalf) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)}
	pr, pw := io.Pipe()
	half := len(data) / 2
	p := &pipedHalf{pr: pr, pw: pw, cr: newCountingReader(pr, clock.Now), half: int64(half), rest: data[half:], wrote: make(chan struct{})}
	go func() {
		pw.Write(data[:half])
		close(p.wrote)
	}()
	if p.file, err = pcap.Open(p.cr); err != nil {
		t.Fatal(err)
	}
	return clock, p
}

// waiting waits until the read has read the first half and waits for
// the rest.
func (p *pipedHalf) waiting(t *testing.T) {
	t.Helper()
	smuxtest.Eventually(t, "the read to wait for the rest", func() bool { return p.cr.n.Load() == p.half && p.cr.waiting.Load() != 0 })
}

// idle is how long no input has come to sys, as read - says it.
func (p *pipedHalf) idle(sys *readSystem) func() time.Duration {
	return func() time.Duration {
		finished := sys.finished.Load()
		return p.cr.quiet(finished, sys.stopped.Load())
	}
}

// TestReadNoInput: read - from a pipe that stalls in the middle of a
// capture (the pipe the test writes, the wall clock one it moves) says,
// in its status, for how long no input came, the capture's clock standing
// still meanwhile; not before noInputAfter, and no longer once the rest
// of the capture comes. Before, nothing said so, and the rates of the
// last packet looked current.
func TestReadNoInput(t *testing.T) {
	clock, p := pipeHalf(t)
	reg := live.New(live.Config{})
	rd := pcap.NewReader(pcap.Config{Registry: reg})
	sys := newReadSystem(context.Background(), rd, p.file, false, nil, nil)
	defer sys.Close()
	status := func() live.Status { return readStatus(rd, sys, p.cr.n.Load(), 0, p.idle(sys)) }
	<-p.wrote
	p.waiting(t)

	if v := noInputOf(status()); v != nil {
		t.Errorf("the read waits, but no time passed, and the status says no input for %v", v)
	}
	clock.add(noInputAfter - time.Millisecond)
	if v := noInputOf(status()); v != nil {
		t.Errorf("no input for less than %v, and the status says no input for %v", noInputAfter, v)
	}
	clock.add(14*time.Second - noInputAfter + 300*time.Millisecond)
	if v := noInputOf(status()); v != 14*time.Second {
		t.Errorf("no input for 14.3 s: the status says no input for %v, want 14s; status %v", v, status())
	}

	p.pw.Write(p.rest) // the input resumes: its read returns
	smuxtest.Eventually(t, "the status to say no more that no input comes", func() bool { return noInputOf(status()) == nil })
	p.pw.Close()
	if err := sys.Wait(); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	if v := noInputOf(status()); v != nil {
		t.Errorf("the capture read whole, and the status says no input for %v", v)
	}
}

// TestSayNoInput: with plain and JSON output, read - says on stderr when
// its input stops coming and when it resumes, once each, at the ticks
// (a channel the test fires, not a time).
func TestSayNoInput(t *testing.T) {
	ticks := make(chan time.Time)
	var idle struct {
		sync.Mutex
		d time.Duration
	}
	set := func(d time.Duration) {
		idle.Lock()
		idle.d = d
		idle.Unlock()
	}
	var out syncBuffer
	stop := sayNoInput(ticks, "read -", func() time.Duration {
		idle.Lock()
		defer idle.Unlock()
		return idle.d
	}, nil, nil, nil, &out)
	tick := func(d time.Duration) {
		set(d)
		ticks <- time.Time{}
		ticks <- time.Time{} // the tick before has been acted on
	}
	tick(0)
	if out.String() != "" {
		t.Fatalf("input coming, and read said %q", out.String())
	}
	tick(3 * time.Second)
	tick(14 * time.Second)
	const quiet = "muxtop: read -: no input for 3s: the capture's clock, packet time, stands still until the next packet\n"
	if out.String() != quiet {
		t.Fatalf("input stopped: read said %q, want %q once", out.String(), quiet)
	}
	tick(0)
	stop()
	if want := quiet + "muxtop: read -: input resumed after 14s or more of silence\n"; out.String() != want {
		t.Fatalf("input resumed: read said %q, want %q", out.String(), want)
	}
	if strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("read said %q", out.String())
	}
}

// TestReadNoInputStopped: read - stopped (q, an interrupt, --duration)
// while its pipe gave nothing says, in the summary's status, for how long
// no input had come, beside "stopped early".
func TestReadNoInputStopped(t *testing.T) {
	clock, p := pipeHalf(t)
	rd := pcap.NewReader(pcap.Config{Registry: live.New(live.Config{})})
	sys := newReadSystem(context.Background(), rd, p.file, false, func() { p.pr.CloseWithError(os.ErrDeadlineExceeded) }, nil)
	p.waiting(t)
	clock.add(5 * time.Second)
	sys.Close()
	status := readStatus(rd, sys, p.cr.n.Load(), 0, p.idle(sys))
	if status[0].Value != "stopped early" || noInputOf(status) != 5*time.Second {
		t.Errorf("stopped after 5 s without input: status %v, want stopped early and no input for 5s", status)
	}
}

// TestSayNoInputResolvedAtStop: input that resumes and ends within one
// tick of the notice that none came (head -c 2000 cap; sleep 5; tail …)
// still gets its resolution, said as the run stops.
func TestSayNoInputResolvedAtStop(t *testing.T) {
	ticks := make(chan time.Time)
	idles := make(chan time.Duration, 1) // what each call of idle finds, in turn
	var out syncBuffer
	stop := sayNoInput(ticks, "read -", func() time.Duration {
		select {
		case d := <-idles:
			return d
		case <-time.After(5 * time.Second):
			t.Error("idle called more often than the test expects")
			return 0
		}
	}, nil, nil, nil, &out)
	idles <- 4 * time.Second
	ticks <- time.Time{}
	idles <- 0 // once the tick's 4s was taken: the rest came, and the read finished, before another tick
	stop()
	const want = "muxtop: read -: no input for 4s: the capture's clock, packet time, stands still until the next packet\n" +
		"muxtop: read -: input resumed after 4s or more of silence\n"
	if out.String() != want {
		t.Fatalf("input resumed and ended before a tick: read said %q, want %q", out.String(), want)
	}
}

// noInput3s is what read - says of input that stopped for 3s.
const noInput3s = "muxtop: read -: no input for 3s: the capture's clock, packet time, stands still until the next packet\n"

// noInputRig is sayNoInput run on ticks the test fires, finding the idle
// time, the bytes read and the read's end in what the test stores, and
// saying to out; stop stops it.
type noInputRig struct {
	ticks      chan time.Time
	idle, read atomic.Int64
	over       atomic.Bool
	out        syncBuffer
	stop       func()
}

// noInputFor3s starts a noInputRig, 2000 bytes read, and fires a tick
// that finds the input idle 3s. idle, if not nil, is what each call of
// sayNoInput's idle returns, given the rig and the idle time stored.
func noInputFor3s(idle func(r *noInputRig, d time.Duration) time.Duration) *noInputRig {
	r := &noInputRig{ticks: make(chan time.Time)}
	r.stop = sayNoInput(r.ticks, "read -", func() time.Duration {
		d := time.Duration(r.idle.Load())
		if idle != nil {
			return idle(r, d)
		}
		return d
	}, nil, r.read.Load, r.over.Load, &r.out)
	r.read.Store(2000)
	r.idle.Store(int64(3 * time.Second))
	r.ticks <- time.Time{}
	// The tick is taken as it is sent, and acted on after: a test that
	// ends the wait (idle 0) before then finds no notice at all.
	for end := time.Now().Add(10 * time.Second); r.out.String() == "" && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	return r
}

// TestSayNoInputEnded: input that stopped and then ended with no byte
// more (the writer closed the pipe) is said to have ended, not resumed,
// in a whole sentence: the line, the last of such a run, ended on
// "without" ("input ended, after 3s or more without").
func TestSayNoInputEnded(t *testing.T) {
	r := noInputFor3s(nil)
	r.ticks <- time.Time{} // the tick before has been acted on; this one finds 3s again
	r.idle.Store(0)        // EOF: the read is over, nothing more came
	r.over.Store(true)
	r.stop()
	const want = noInput3s + "muxtop: read -: input ended after 3s or more of silence\n"
	if r.out.String() != want {
		t.Fatalf("input ended after a silence: read said %q, want %q", r.out.String(), want)
	}
}

// TestSayNoInputByteAfterIdle: a byte that comes right after the tick's
// idle found the silence (here, as idle returns) is input after the
// notice: once no read waits, the input resumed. Before, the notice took
// its count after idle and after saying it, counting that byte as before
// the notice, and the next quiet tick said the input ended while it
// still came:
//
//	read said "…input ended, after 3s or more without\n", want "…input resumed…"
func TestSayNoInputByteAfterIdle(t *testing.T) {
	r := noInputFor3s(func(r *noInputRig, d time.Duration) time.Duration {
		if d > 0 {
			r.read.CompareAndSwap(2000, 2100) // the pipe's next bytes, just after idle looked
		}
		return d
	})
	r.idle.Store(0) // the read that waited returned, with those bytes
	r.ticks <- time.Time{}
	r.ticks <- time.Time{} // the tick before has been acted on
	r.stop()
	const want = noInput3s + "muxtop: read -: input resumed after 3s or more of silence\n"
	if r.out.String() != want {
		t.Fatalf("bytes came right after the notice's idle: read said %q, want %q", r.out.String(), want)
	}
}

// TestSayNoInputUndecided: a tick that finds no read waiting and no byte
// more, the read not over (the read that waited has returned, its bytes
// or its end not yet counted), says nothing: a later tick says resumed
// once the bytes are counted, or ended once the read is over. Before, it
// said "input ended" at once, while the input still came.
func TestSayNoInputUndecided(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  bool
		want string
	}{{"resumed", false, "resumed"}, {"ended", true, "ended"}} {
		t.Run(tc.name, func(t *testing.T) {
			r := noInputFor3s(nil)
			r.idle.Store(0) // the wait ended; nothing counted yet
			r.ticks <- time.Time{}
			r.ticks <- time.Time{} // the tick before has been acted on
			if r.out.String() != noInput3s {
				t.Fatalf("no read waits, nothing counted, the read not over: read said %q, want only %q", r.out.String(), noInput3s)
			}
			if tc.end {
				r.over.Store(true)
			} else {
				r.read.Store(2100)
			}
			r.ticks <- time.Time{}
			r.ticks <- time.Time{} // the tick before has been acted on
			want := noInput3s + "muxtop: read -: input " + tc.want + " after 3s or more of silence\n"
			if r.out.String() != want {
				t.Fatalf("read said %q, want %q", r.out.String(), want)
			}
			r.stop()
			if r.out.String() != want {
				t.Fatalf("after stop, read said %q, want %q", r.out.String(), want)
			}
		})
	}
}

// TestSayNoInputBeating: where the capture's producer sent heartbeats
// (a Live's, read URL) and no input comes, not even those, the notice
// says so: its clock stands still until they or a packet come.
func TestSayNoInputBeating(t *testing.T) {
	ticks := make(chan time.Time)
	var out syncBuffer
	var idle atomic.Int64
	stop := sayNoInput(ticks, "read URL", func() time.Duration { return time.Duration(idle.Load()) },
		func() bool { return true }, nil, nil, &out)
	idle.Store(int64(3 * time.Second))
	ticks <- time.Time{}
	stop()
	const want = "muxtop: read URL: no input for 3s, not even the producer's heartbeats: the capture's clock stands still until they or a packet come (a stalled stream, or a stopped program)\n"
	if out.String() != want {
		t.Fatalf("a capture with heartbeats stopped: read said %q, want %q", out.String(), want)
	}
}
