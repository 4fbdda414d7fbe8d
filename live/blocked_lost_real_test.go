package live_test

import (
	"io"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestBlockedNamesTheLostStreamRealSmux: a real smux v1 pair, the
// server's end tapped. The client asks for a bulk download and reads 100
// bytes of it; then it sends a request on a second stream. The bulk
// stream fills the client's session buffer, its recvLoop stops, and the
// server's writes wait: SESSION_BLOCKED. A capture that lost bytes of the
// server's (Session.Resynced) sets the bulk stream aside, its FIN may be
// among them; it is still the stream that was sent the most, the one not
// read, and the finding names it. The exploratory tester's read of a
// capture with 926 kB lost: "stream 7 was sent 0 B — the client stopped
// reading", stream 7 being the request stuck behind the bulk stream 5.
func TestBlockedNamesTheLostStreamRealSmux(t *testing.T) {
	t.Parallel() // real time on a pair of its own
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	cli, err := smux.Client(cc, smuxtest.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "srv"), smuxtest.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() {
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 1)
				if _, err := io.ReadFull(st, b); err != nil {
					return
				}
				if b[0] == 'B' {
					// Held: the client reads 100 bytes. Written until a
					// write is held, not a fixed size the buffers on the
					// way may hold whole: the client's kernel receive
					// buffer grows as its recvLoop reads, up to
					// tcp_rmem's maximum (32 MiB here), and once all of
					// a 32 MiB Write went into them, no write was held
					// and no SESSION_BLOCKED opened (go test ./... on a
					// loaded machine: "no SESSION_BLOCKED in 30 s:").
					buf := make([]byte, 1<<20)
					for {
						if _, err := st.Write(buf); err != nil {
							return
						}
					}
				}
				st.Write([]byte("ok"))
				st.Close()
			}()
		}
	}()
	bulk, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	bulk.Write([]byte{'B'})
	if _, err := io.ReadFull(bulk, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	good, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	good.Write([]byte{'G'})
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	var blocked *live.Finding
	lost := false
	for end := time.Now().Add(time.Minute); blocked == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no SESSION_BLOCKED in a minute:%s", describeRecords(findingRecords(reg)))
		}
		snap := reg.Snapshot()
		if !lost && len(snap.Sessions) == 1 && snap.Sessions[0].Tracked >= 2 {
			// The capture lost bytes of the server's: the bulk stream is
			// set aside.
			reg.Session(snap.Sessions[0].ID).Resynced(live.ServerToClient, time.Now(), 0, 0, 1000, "capture lost 1000 bytes")
			lost = true
		}
		if !lost {
			continue
		}
		reg.Evaluate(time.Now(), cfg)
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeSessionBlocked {
				blocked = f
			}
		}
	}
	if want := bulk.ID(); blocked.Stream != want {
		t.Errorf("SESSION_BLOCKED names stream %d, want %d, the bulk one not read: %s", blocked.Stream, want, blocked.Text)
	}
}
