package live_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestAfterCloseRealSmux drives real smux pairs, the client's end tapped,
// through the two ways a client ends its side before the server's answer:
// CloseWrite, then reading the answer (smux delivers it), and Close (smux
// discards it). In v2 the client's first read sends a UPD that consumes
// the answer, so only Close opens DATA_AFTER_CLOSE. In v1 nothing on the
// wire tells them apart: both open it, as the README says.
func TestAfterCloseRealSmux(t *testing.T) {
	const answer = "the answer, sent after the client's FIN"
	for _, version := range []int{2, 1} {
		for _, closeWrite := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d/closewrite=%v", version, closeWrite), func(t *testing.T) {
				reg := live.New(live.Config{})
				cli, srv := smuxtest.Pair(t, smuxtest.Config(version), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
				served := make(chan error, 1)
				go func() {
					st, err := srv.AcceptStream()
					if err != nil {
						served <- err
						return
					}
					defer st.Close()
					if _, err := io.ReadAll(st); err != nil { // to the client's FIN
						served <- err
						return
					}
					_, err = st.Write([]byte(answer))
					served <- err
				}()
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				sid := st.ID()
				if _, err := st.Write([]byte("ECHO")); err != nil {
					t.Fatal(err)
				}
				if closeWrite {
					if err := st.CloseWrite(); err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(st)
					if err != nil || string(got) != answer {
						t.Fatalf("read %q, %v; want the answer", got, err)
					}
				}
				st.Close()
				if err := <-served; err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, sid, "both FINs and the answer", func(st *live.StreamSnap) bool {
					return st.State == live.Closed && st.Bytes[s2c] == uint64(len(answer))
				})
				if version == 2 && closeWrite {
					// The client's UPD is written by its read, which returned
					// before it: wait for it to be recorded.
					waitStream(t, reg, sid, "the client's UPD", func(st *live.StreamSnap) bool { return st.Flow[s2c].HasUPD })
				}
				cfg := live.FindingsConfig{Churn: -1}
				reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
				reg.Evaluate(time.Now().Add(time.Second), cfg)
				var codes []string
				for _, f := range reg.Snapshot().Findings {
					codes = append(codes, f.Code.String())
				}
				want := version == 1 || !closeWrite
				if got := len(codes) == 1 && codes[0] == "DATA_AFTER_CLOSE"; got != want || (!want && len(codes) > 0) {
					t.Errorf("findings %v; want DATA_AFTER_CLOSE alone: %v", codes, want)
				}
			})
		}
	}
}
