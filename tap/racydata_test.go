package tap

import (
	"fmt"
	"io"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxDataAfterOwnFINLastReal: a raw client (a frame script:
// hashicorp's yamux writes nothing after its Close) opens stream 1 on a
// real hashicorp/yamux v0.1.2 server and closes it; the server reads to
// the end and closes it too, its FIN the second, its Close held between
// sending that FIN and removing the stream (finGate). The client sends 5
// bytes of DATA on stream 1, then opens stream 3: once the server
// has stream 3, its recv loop has read the DATA, into stream 1,
// which it still has. Let go, the server's Close returns, and its Read on
// the stream reads those bytes. muxtop must count them on stream 1 (a
// PSH_AFTER_FIN: its sender had sent its FIN), not as untracked bytes of
// a stream yamux no longer has. Before, they were untracked. (Arriving
// after the removal, the server discards them, "Discarding data for
// stream": racy, as the wire cannot tell; where the server's FIN came
// first, always discarded, and untracked:
// TestYamuxDataAfterBothFINsUntrackedReal.)
func TestYamuxDataAfterOwnFINLastReal(t *testing.T) {
	reg := live.New(live.Config{History: 64})
	cc, sc := smuxtest.Conns(t)
	gate := &finGate{Conn: sc, sid: 1, closed: make(chan struct{}), release: make(chan struct{})}
	read := make(chan string, 1)
	done := make(chan struct{})
	defer close(done)
	srv, log := yamuxServer(t, gate, func(st *hyamux.Stream) {
		if st.StreamID() != 1 {
			<-done
			return
		}
		io.Copy(io.Discard, st)
		st.Close() // held until the gate lets go
		b := make([]byte, 16)
		n, _ := st.Read(b)
		read <- string(b[:n])
	})
	c := Wrap(cc, live.Client, reg, "cli", WithProtocol(Yamux))
	write := rawWrites(t, c)
	write(rawFrame(yamux.WindowUpdate, yamux.SYN, 1, 0))
	write(rawFrame(yamux.WindowUpdate, yamux.FIN, 1, 0))
	readUntilFIN(t, c, new([]byte), 1)
	data := yamux.MakeHeader(yamux.Data, 0, 1, 5)
	write(append(data[:], "hello"...))
	write(rawFrame(yamux.WindowUpdate, yamux.SYN, 3, 0))
	// Stream 3 registered (its AcceptStream's ACK waits behind the held
	// write): the recv loop has read the DATA before it.
	smuxtest.Eventually(t, "the server to have streams 1 and 3", func() bool { return srv.NumStreams() == 2 })
	close(gate.release)
	var s string
	select {
	case s = <-read:
	case <-time.After(time.Minute):
		t.Fatalf("the server's Read on stream 1 returned nothing within a minute (log %q)", log.String())
	}
	if s != "hello" {
		t.Fatalf("the server's Read on stream 1 after its Close got %q, want the DATA (log %q)", s, log.String())
	}
	if srv.IsClosed() {
		t.Fatalf("the server's session ended: %s", log.String())
	}
	ss := reg.Snapshot().Sessions[0]
	st := ss.Stream(1)
	c2s := live.ClientToServer
	if st == nil || st.State != live.Closed || st.Bytes[c2s] != 5 || st.Frames[c2s] != 3 || ss.Untracked.Bytes[c2s] != 0 || ss.AnomaliesBy[live.PSHAfterFIN] != 1 {
		t.Fatalf("stream 1 %v, untracked c2s %d bytes, PSH_AFTER_FIN %d; want closed with the 5 bytes and 3 frames from the client, none untracked, 1",
			describeStream(st), ss.Untracked.Bytes[c2s], ss.AnomaliesBy[live.PSHAfterFIN])
	}
}

// describeStream says a stream's state and its counts from the client.
func describeStream(st *live.StreamSnap) string {
	if st == nil {
		return "not kept"
	}
	return fmt.Sprintf("%v, %d bytes and %d frames from the client", st.State, st.Bytes[live.ClientToServer], st.Frames[live.ClientToServer])
}
