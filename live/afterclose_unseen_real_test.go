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
// with none, the client did not read it (Close), the single reading; and
// a CloseWrite that reads it sends the UPD, and nothing opens.
func TestAfterCloseUnseenRealSmux(t *testing.T) {
	const first = "the first part"
	both := "smux discards them if the client called Close, and delivers them only after CloseWrite"
	bothAdvice := "if it half-closed with CloseWrite to read on, as a client that still wants data should, they were delivered and nothing is wrong"
	single := "the client sent no UPD consuming them"
	for _, tc := range []struct {
		name       string
		rest       int  // bytes the server writes after the client's FIN
		closeWrite bool // the client half-closes and reads the rest; else it calls Close
		want       string
	}{
		{"closewrite-reads-small-rest", 3000, true, "both"},
		{"close-small-rest", 3000, false, "both"},
		{"close-rest-beyond-half-buffer", 40000, false, "single"},
		{"closewrite-reads-rest-beyond-half-buffer", 40000, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest := bytes.Repeat([]byte("r"), tc.rest)
			reg := live.New(live.Config{})
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
			if _, err := io.ReadFull(st, buf); err != nil {
				t.Fatal(err)
			}
			waitStream(t, reg, sid, "the client's first UPD", func(st *live.StreamSnap) bool { return st.Flow[s2c].HasUPD })
			if tc.closeWrite {
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
				if !strings.Contains(f.Text, single+", though reading them would have sent one: it called Close, and smux discarded them") || strings.Contains(f.Text, "unseen") || strings.Contains(f.Text, both) {
					t.Errorf("text %q: a rest whose read sends a UPD, with none, was not read: want the single reading", f.Text)
				}
				if strings.Contains(f.Advice, "nothing is wrong") {
					t.Errorf("advice %q: want the single reading", f.Advice)
				}
			}
		})
	}
}
