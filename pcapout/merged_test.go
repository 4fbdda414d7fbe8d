package pcapout_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestMergedWritersKeepEachSession: two programs, each its own Writer,
// each tapping one smux session over a conn with no IP address (a unix
// socket, a net.Pipe), 3 streams each; their two files read as one
// capture, merged by time, as muxtop read of several files does, show
// both sessions with their exact counts. Each Writer made up the ends of
// its first conn, and the same ones in both files (and the same ISNs)
// made the second session read as retransmissions of the first, with no
// notice.
func TestMergedWritersKeepEachSession(t *testing.T) {
	mux := livecaptest.Muxes()[1]
	for _, tr := range smuxtest.Transports() {
		if tr.Name != "unix" && tr.Name != "pipe" {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			// At once, as two programs run: each session opens before
			// the other's streams, and ends after them.
			a, b := startTapped(t, tr, mux), startTapped(t, tr, mux)
			livecaptest.Streams(t, a.cli, 3, "first")
			livecaptest.Streams(t, b.cli, 3, "second")
			files := []*capture.File{a.end(t), b.end(t)}
			clock := new(capture.Clock)
			m := capture.Merge(files...)
			clock.Set(m.Start())
			reg := live.New(live.Config{Clock: clock.Now})
			if err := capture.NewReader(capture.Config{Registry: reg, Clock: clock}).Run(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			snap := reg.Snapshot()
			if len(snap.Sessions) != 2 || snap.StreamsTotal != 6 {
				t.Errorf("the merged capture: %d sessions, %d streams; want 2 sessions, 6 streams", len(snap.Sessions), snap.StreamsTotal)
			}
			for _, s := range snap.Sessions {
				if s.Info.Transport != tr.Name {
					t.Errorf("session %d runs over %q, want %q", s.ID, s.Info.Transport, tr.Name)
				}
			}
		})
	}
}

// tapped is a session whose client's conn a Writer of its own records.
type tapped struct {
	cli, srv smuxtest.Session
	w        *pcapout.Writer
	buf      bytes.Buffer
	done     chan struct{}
}

// startTapped starts a session of m over tr, its client tapped into a
// Writer of its own, its server echoing every stream.
func startTapped(t *testing.T, tr smuxtest.Transport, m livecaptest.Mux) *tapped {
	t.Helper()
	x := &tapped{done: make(chan struct{})}
	var err error
	if x.w, err = pcapout.New(&x.buf, 0); err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	cc, sc := tr.Conns(t)
	if x.srv, err = m.M.Server(sc); err != nil {
		t.Fatal(err)
	}
	if x.cli, err = m.M.Client(tap.Wrap(cc, live.Client, reg, m.Name, tap.Record(x.w))); err != nil {
		t.Fatal(err)
	}
	go func() { // ends with the server's session
		defer close(x.done)
		for {
			s, err := x.srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()
	return x
}

// end closes x's session and its Writer, and returns the Writer's file
// opened for reading.
func (x *tapped) end(t *testing.T) *capture.File {
	t.Helper()
	x.cli.Close()
	x.srv.Close()
	<-x.done
	if err := x.w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := capture.Open(bytes.NewReader(x.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
