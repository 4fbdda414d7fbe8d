package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestReadJoinedServerDataBeforeLonePingReal: the server's direction of
// TestReadJoinedDataBeforeLonePingReal. A real hashicorp/yamux session,
// keepalive off, recorded at its tapped server, whose capture begins
// just before the server's answer on a stream the client opened before:
// hashicorp/yamux writes the answer's Data frame header and payload
// apart, then the server's Session.Ping, a lone ping packet. Read, the
// server's direction begins at the Data frame, nothing skipped: the
// frames before the lone ping chain up to it exactly; the first frame
// of the server read is the answer, the ping after it.
//
// smux has no such case: a lone NOP decides nothing in a joined capture
// (capture/lone.go: an 8-byte NOP is not taken as a frame boundary).
func TestReadJoinedServerDataBeforeLonePingReal(t *testing.T) {
	buf, w, cli, srv, port := lonePingPair(t, live.Server)
	a, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("FIRST")); err != nil {
		t.Fatal(err)
	}
	sa, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sa, make([]byte, len("FIRST"))); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Write([]byte("FIRST-ANSWER")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, len("FIRST-ANSWER"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	if _, err := sa.Write([]byte("SECOND-ANSWER-0")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Ping(); err != nil { // its SYN right after the answer's frame; the client's ACK
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, len("SECOND-ANSWER-0"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readCut(t, buf, cut, port)
	var s2c []*live.Record
	resynced := false
	for i := range recs {
		r := &recs[i]
		if r.Kind == live.ResyncRecord && r.Dir == live.ServerToClient {
			resynced = true
			if !strings.Contains(r.Detail, "nothing skipped") {
				t.Errorf("the server's direction: %q; want it to begin at the answer's frame", r.Detail)
			}
		}
		if r.Kind == live.FrameRecord && r.Dir == live.ServerToClient {
			s2c = append(s2c, r)
		}
	}
	if !resynced {
		t.Error("no resync record of the server's direction: want one saying it began at a frame boundary, nothing skipped")
	}
	if len(s2c) != 2 || string(s2c[0].Payload) != "SECOND-ANSWER-0" || s2c[0].Offset != 0 || s2c[1].Offset != 12+int64(len("SECOND-ANSWER-0")) {
		var got []string
		for _, r := range s2c {
			got = append(got, fmt.Sprintf("offset %d payload %q", r.Offset, r.Payload))
		}
		t.Errorf("the server's frames read: %q; want the Data frame of SECOND-ANSWER-0 at 0, then the ping", got)
	}
}
