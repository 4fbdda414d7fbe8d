package pcapout_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestTapClosedFirstRead: a real smux session whose tapped client closes
// it (smux.Session.Close) while its server reads, and whose server
// closes its own only once it has read the end: the capture's first FIN
// is the client's, and read says the client closed first, as the tap's
// own registry has it (its end closed locally). The tap's Close closed
// the conn before telling the recorder, and the read that failed on it
// ended the server's direction first: "the server closed first".
func TestTapClosedFirstRead(t *testing.T) {
	mux := livecaptest.Muxes()[0]
	tcp := smuxtest.Transport{Name: "tcp", Conns: smuxtest.Conns}
	for _, tr := range append(smuxtest.Transports(), tcp) {
		if tr.Name == "message" {
			continue // KCP carries no close: the server never reads one
		}
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			file, w, ends, reg := endsRecording(t)
			cc, sc := tr.Conns(t)
			srv, err := mux.M.Server(sc)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := mux.M.Client(tap.Wrap(cc, live.Client, reg, mux.Name, tap.Record(ends)))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					s, err := srv.AcceptStream()
					if err != nil {
						srv.Close() // it read the client's end: now its own
						return
					}
					go func() {
						io.Copy(s, s)
						s.Close()
					}()
				}
			}()
			livecaptest.Streams(t, cli, 2, "closing")
			cli.Close()
			<-done
			// The client's read loop may still be in the tap's Read, which
			// tells the recorder as it returns: closing the writer before
			// would lose the close (Writer.EndsLost), not test it.
			select {
			case <-ends.told:
			case <-time.After(20 * time.Second):
				t.Fatal("the recorder was not told 20 s after the client's Close")
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			tapped := onlySession(t, "the tap", reg)
			tw := sessionEnded(reg)
			if len(tw) != 1 || tw[0].Reason != live.LocalClose {
				t.Fatalf("the tap's session-ended: %+v, want one, closed locally", tw)
			}
			want := tap.ClosedFirst(tapped.Info.Tap.String()).Error() // its own end closed first
			read, _ := readCapture(t, file.Bytes())
			got := onlySession(t, "read", read)
			rw := sessionEnded(read)
			if len(rw) != 1 {
				t.Fatalf("read's session-ended: %+v, want one", rw)
			}
			if d := anonymous(rw[0].Detail, got.Info); d != want {
				t.Errorf("read's session-ended says %q (%s), the tap's: %s closed locally, %q", d, rw[0].Reason, tapped.Info.Tap, want)
			}
		})
	}
}

// sessionEnded returns reg's session-ended records.
func sessionEnded(reg *live.Registry) []live.Record {
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var ended []live.Record
	for _, r := range recs {
		if r.Kind == live.SessionEnded {
			ended = append(ended, r)
		}
	}
	return ended
}
