package live_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestAfterCloseUnseenRealSmux: a real v2 client, its end tapped, reads
// the first part of the answer (its first read sends a UPD), then ends
// its side with CloseWrite or Close, and the server writes the rest after
// the client's FIN. smux sends a reader's next UPD only once it has read
// half its MaxStreamBuffer (32 KiB at the defaults) since the last
// (stream.go, tryReadV2): a rest smaller than that may be read with no
// UPD, and the wire of CloseWrite-then-read is the wire of Close. Both
// must then give both readings, as v1's do, not headline a Close that
// discarded the data. A rest beyond it would have sent a UPD when read:
// with none, the client did not read it yet (Close, or a reader that
// reads later: no Close as fact); and
// a CloseWrite that reads it sends the UPD, and nothing opens. A client
// whose first read comes only after the rest arrived, and consumes the
// first part alone, sends a UPD that consumes nothing of the rest: the
// rest counts from it, both readings, also where the stream is folded
// and its struct reused before the data counts (a busy session's, as in
// an exploratory review's 2,000-stream run).
func TestAfterCloseUnseenRealSmux(t *testing.T) {
	const first = "the first part"
	both := "smux discards them if the client called Close, and delivers them only after CloseWrite"
	bothAdvice := "if it half-closed with CloseWrite to read on, as a client that still wants data should, they were delivered and nothing is wrong"
	single := "the client has sent no UPD consuming them"
	for _, tc := range []struct {
		name       string
		rest       int  // bytes the server writes after the client's FIN
		closeWrite bool // the client half-closes and reads the rest; else it calls Close
		readLate   bool // the client's first read comes after the rest arrived; then other streams fold this one
		want       string
	}{
		{"closewrite-reads-small-rest", 3000, true, false, "both"},
		{"close-small-rest", 3000, false, false, "both"},
		{"close-rest-beyond-half-buffer", 40000, false, false, "single"},
		{"closewrite-reads-rest-beyond-half-buffer", 40000, true, false, ""},
		{"closewrite-first-read-after-the-rest-folded", 3000, true, true, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest := bytes.Repeat([]byte("r"), tc.rest)
			reg := live.New(live.Config{ClosedStreams: 1})
			cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
			served := serveOne(srv, func(st *smux.Stream) error {
				defer st.Close()
				if _, err := st.Write([]byte(first)); err != nil {
					return err
				}
				if _, err := io.ReadAll(st); err != nil { // to the client's FIN
					return err
				}
				_, err := st.Write(rest)
				return err
			})
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			sid := st.ID()
			if _, err := st.Write([]byte("ECHO")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(first))
			if tc.readLate {
				waitStream(t, reg, sid, "the first part", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == uint64(len(first)) })
				if err := st.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, sid, "the rest", func(st *live.StreamSnap) bool { return st.Bytes[s2c] == uint64(len(first)+len(rest)) })
				if _, err := io.ReadFull(st, buf); err != nil {
					t.Fatal(err)
				}
				got, err := smuxtest.ReadAll(st)
				if err != nil || !bytes.Equal(got, rest) {
					t.Fatalf("read %d bytes, %v; want the rest, %d", len(got), err, len(rest))
				}
			} else {
				if _, err := io.ReadFull(st, buf); err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, sid, "the client's first UPD", func(st *live.StreamSnap) bool { return st.Flow[s2c].HasUPD })
			}
			if tc.closeWrite && !tc.readLate {
				if err := st.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				got, err := smuxtest.ReadAll(st)
				if err != nil || !bytes.Equal(got, rest) {
					t.Fatalf("read %d bytes, %v; want the rest, %d", len(got), err, len(rest))
				}
			}
			st.Close()
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			waitStream(t, reg, sid, "both FINs and the rest", func(st *live.StreamSnap) bool {
				return st.State == live.Closed && st.Bytes[s2c] == uint64(len(first)+len(rest))
			})
			if tc.closeWrite && tc.rest >= 32768 {
				waitStream(t, reg, sid, "the client's UPD for the rest", func(st *live.StreamSnap) bool {
					return st.Flow[s2c].PeerConsumed > uint32(len(first))
				})
			}
			if tc.readLate {
				waitStream(t, reg, sid, "the client's UPD", func(st *live.StreamSnap) bool { return st.Flow[s2c].HasUPD })
				// Streams closed after it fold it (ClosedStreams 1), and
				// those opened after reuse its struct.
				go func() { // ends with the session
					for {
						o, err := srv.AcceptStream()
						if err != nil {
							return
						}
						o.Close()
					}
				}()
				o, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				smuxtest.Eventually(t, "stream 3 folded", func() bool {
					snap := reg.Snapshot()
					return len(snap.Sessions) == 1 && snap.Sessions[0].Stream(sid) == nil
				})
				if o, err = cli.OpenStream(); err != nil { // in stream 3's struct
					t.Fatal(err)
				}
				waitStream(t, reg, o.ID(), "a stream opened after the fold", func(*live.StreamSnap) bool { return true })
			}
			cfg := live.FindingsConfig{Churn: -1}
			reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
			reg.Evaluate(time.Now().Add(time.Second), cfg)
			fs := reg.Snapshot().Findings
			if tc.want == "" {
				if len(fs) > 0 {
					t.Fatalf("findings %+v; want none: the client's UPD shows it read the rest", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Code != live.CodeDataAfterClose {
				t.Fatalf("findings %+v; want DATA_AFTER_CLOSE alone", fs)
			}
			f := fs[0]
			if f.Severity != live.Warning {
				t.Errorf("severity %v; want warning, as v1's", f.Severity)
			}
			switch tc.want {
			case "both":
				if !strings.Contains(f.Text, both) || strings.Contains(f.Text, single) || strings.Contains(f.Text, "it called Close, and smux discarded them") {
					t.Errorf("text %q: a rest the client may have read with no UPD is Close or CloseWrite, not a Close that discarded it", f.Text)
				}
				if !strings.Contains(f.Advice, bothAdvice) {
					t.Errorf("advice %q: want both readings", f.Advice)
				}
			case "single":
				// Not read yet, by the wire: Close, or a CloseWrite
				// whose reader reads later (TestAfterCloseLateReaderRealSmux).
				if !strings.Contains(f.Text, single+", though reading them would send one: either it called Close, and smux discarded them, or it half-closed with CloseWrite and has not read them yet") || strings.Contains(f.Text, "unseen") || strings.Contains(f.Text, both) {
					t.Errorf("text %q: a rest whose read sends a UPD, with none, was not read yet: want Close, or not read yet", f.Text)
				}
				if !strings.Contains(f.Advice, "its first read's UPD will show it") {
					t.Errorf("advice %q: want the UPD that would show it read", f.Advice)
				}
			}
		})
	}
}
