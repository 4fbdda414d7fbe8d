package pcapout_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// hookWriter is a pcapout.Writer whose connections run hook once the tap
// has told them it closed the conn (tap.ClosingRecorder), after the
// recording's ends: what a writer racing the tap's Close does then.
type hookWriter struct {
	*pcapout.Writer
	hook func()
}

func (w hookWriter) ConnOver(client, server, transport string, at time.Time) tap.ConnRecorder {
	return hookConn{w.Writer.ConnOver(client, server, transport, at).(tap.ClosingRecorder), w.hook}
}

// ConnTold is what the tap calls (tap.ToldRecorder): the Writer's own
// would pass ConnOver by.
func (w hookWriter) ConnTold(client, server, transport string, told tap.Told, at time.Time) tap.ConnRecorder {
	return hookConn{w.Writer.ConnTold(client, server, transport, told, at).(tap.ClosingRecorder), w.hook}
}

type hookConn struct {
	tap.ClosingRecorder
	hook func()
}

func (c hookConn) Closed(dir live.Dir, at time.Time) {
	c.ClosingRecorder.Closed(dir, at)
	c.hook()
}

// v1Push is an smux v1 PSH frame of stream sid carrying s.
func v1Push(sid uint32, s string) []byte {
	b := []byte{1, byte(decoder.PSH), 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(s)))
	binary.LittleEndian.PutUint32(b[4:], sid)
	return append(b, s...)
}

// TestTapWriteRacingCloseTold: a Write that comes once the tap's Close
// has told the recorder of the close (a mux's writer racing Close) either
// fails on the closed conn, and neither the tap nor its capture counts its
// frame, or goes out, and the capture has it: read of the capture counts
// what the tap counted, and the tap what the peer got (the peer's own
// count of the bytes it read). TestTapWriteRacingClose writes once the
// conn is closed, when the code before 28e2af9 (179a620) had told the
// recorder too: it passes there. This one writes where 179a620 told the
// recorder and had not yet closed the conn: the Write went out, the tap
// counted it, and the closed recorder dropped it.
func TestTapWriteRacingCloseTold(t *testing.T) {
	var file bytes.Buffer
	pw, err := pcapout.New(&file, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	defer sc.Close()
	var tc *tap.Conn
	wrote := make(chan error, 1)
	w := hookWriter{Writer: pw, hook: func() {
		_, err := tc.Write(v1Push(3, "late"))
		wrote <- err
	}}
	tc = tap.Wrap(cc, live.Client, reg, "x", tap.Record(w))
	if _, err := tc.Write([]byte{1, byte(decoder.SYN), 0, 0, 3, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	werr := <-wrote
	got, err := io.ReadAll(sc) // until the client's close
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	tapped := onlySession(t, "the tap", reg)
	read, _ := readCapture(t, file.Bytes())
	rs := onlySession(t, "read", read)
	peer := uint64(0) // PSH frames the server got
	if len(got) == 8+8+4 {
		peer = 1
	}
	t.Logf("the late Write: %v; the server got %d bytes", werr, len(got))
	if rs.Counts != tapped.Counts || tapped.Counts.Frames[live.ClientToServer][decoder.PSH] != peer {
		t.Errorf("read counts %+v, the tap %+v; the server got %d PSH frames (%d bytes)", rs.Counts, tapped.Counts, peer, len(got))
	}
}
