package pcapout_test

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// holdConn holds the Read that brings the bytes read to want or more
// until release closes: those bytes are out of the socket and not yet
// through the tap above it.
type holdConn struct {
	net.Conn
	want    int64
	got     int64         // read so far; the reader's own
	held    chan struct{} // closed as the Read holds
	release chan struct{}
}

func (h *holdConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if h.got < h.want {
		if h.got += int64(n); h.got >= h.want {
			close(h.held)
			<-h.release
		}
	}
	return n, err
}

// TestTapCloseDuringReadRecordsIt: a real session whose client closes it
// (Session.Close) while its mux's Read holds a whole frame, the server's
// answer, read from the socket and not yet through the tap. The tap
// counts the frame, its Read returning it after the Close began; the
// capture it records has it too, before the client's FIN, and read of
// the capture counts what the tap counted. The tap told the recorder of
// the close before the Read fed it, and the recorder dropped it: the
// capture lost the last frame of a session closed as its answer came (in
// CI: "read: 1050 frame records, the taps counted 1051 frames").
func TestTapCloseDuringReadRecordsIt(t *testing.T) {
	for _, mux := range livecaptest.Muxes() {
		t.Run(mux.Name, func(t *testing.T) {
			var file bytes.Buffer
			w, err := pcapout.New(&file, 0)
			if err != nil {
				t.Fatal(err)
			}
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			// All the server sends, its answer last: smux v1's PSH "pong";
			// v2's UPD (its stream's first read) and the PSH; yamux's
			// window update ACK (the accept) and its data frame.
			want := int64(8 + 4)
			switch {
			case mux.M.Yamux():
				want = 12 + 12 + 4
			case mux.M.Smux.Version == 2:
				want = 8 + 8 + 8 + 4
			}
			hc := &holdConn{Conn: cc, want: want, held: make(chan struct{}), release: make(chan struct{})}
			srv, err := mux.M.Server(sc)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cli, err := mux.M.Client(tap.Wrap(hc, live.Client, reg, mux.Name, tap.Record(w)))
			if err != nil {
				t.Fatal(err)
			}
			asked, answer := make(chan struct{}), make(chan struct{})
			go func() {
				s, err := srv.AcceptStream()
				if err != nil {
					return
				}
				io.ReadFull(s, make([]byte, 4))
				close(asked)
				<-answer
				io.WriteString(s, "pong")
			}()
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(st, "ping"); err != nil {
				t.Fatal(err)
			}
			<-asked
			close(answer)
			<-hc.held
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				cli.Close()
			}()
			smuxtest.Eventually(t, "the tap's Close under way", func() bool {
				return reg.Snapshot().Sessions[0].Ended
			})
			close(hc.release)
			<-closed
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			tapped := onlySession(t, "the tap", reg)
			answers := tapped.Counts.Frames[live.ServerToClient][decoder.PSH]
			if mux.M.Yamux() {
				answers = tapped.Counts.TypeFrames[live.ServerToClient][yamux.Data]
			}
			if answers != 1 {
				t.Fatalf("the tap counted %d data frames from the server, want its answer: %+v", answers, tapped.Counts)
			}
			read, _ := readCapture(t, file.Bytes())
			got := onlySession(t, "read", read)
			if got.Counts != tapped.Counts {
				t.Errorf("read counts %+v, the tap %+v", got.Counts, tapped.Counts)
			}
			first := tap.ClosedFirst(tapped.Info.Tap.String()).Error()
			if rw := sessionEnded(read); len(rw) != 1 || anonymous(rw[0].Detail, got.Info) != first {
				t.Errorf("read's session-ended: %+v, want one saying %q", rw, first)
			}
		})
	}
}
