package live_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// One hung handler is no sign that its session stopped reading: with a
// real smux pair (v1 and v2, the client's end tapped), a handler ticks on
// stream B after the client closed B (the server's Read on B returns
// io.EOF: its session HAD read the FIN), while another handler never
// answers stream A (a 5-byte request: v1's session-wide buffer nowhere
// near full; v2 has per-stream windows). UNANSWERED of A says that
// handler does not answer, not that the session does not read, and the
// late data on B is its handler's fault: DATA_AFTER_CLOSE opens, and
// does not resolve saying the FIN may be unread. Before, with A hung
// first ("before"), 50 late frames opened no DATA_AFTER_CLOSE; with A
// opened 2 s after B's FIN ("after"), the open finding resolved "the
// server's session is not reading (UNANSWERED) what the client sends:
// the client's FIN may still be unread there, …".
func TestAfterCloseHungHandlerRealSmux(t *testing.T) {
	t.Parallel() // real time on pairs of their own
	for _, v := range []int{1, 2} {
		for _, first := range []bool{true, false} {
			name := map[int]string{1: "v1", 2: "v2"}[v] + map[bool]string{true: "/before", false: "/after"}[first]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cfg := live.FindingsConfig{UnansweredAfter: time.Second, LeakAfter: time.Hour, Churn: -1}
				reg := live.New(live.Config{})
				scfg := smuxtest.Config(v)
				scfg.KeepAliveInterval = 200 * time.Millisecond
				cli, srv := smuxtest.Pair(t, scfg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				defer func() { cancel(); cli.Close(); srv.Close(); wg.Wait() }()
				subs := make(chan *smux.Stream, 1)
				wg.Go(func() {
					for n := 0; ; n++ {
						st, err := srv.AcceptStream()
						if err != nil {
							return
						}
						if n == 1 { // A's hung handler: never even reads its request (v2: no UPD)
							continue
						}
						wg.Go(func() {
							line, _ := bufio.NewReader(st).ReadString('\n')
							switch line {
							case "SUB\n":
								subs <- st
								tick := time.NewTicker(50 * time.Millisecond)
								defer tick.Stop()
								for {
									select {
									case <-ctx.Done():
										return
									case <-tick.C:
										if _, err := st.Write([]byte("tick\n")); err != nil {
											return
										}
									}
								}
							}
						})
					}
				})
				evaluate := func(d time.Duration) {
					for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
						reg.Evaluate(time.Now(), cfg)
					}
				}
				hang := func() {
					a, err := cli.OpenStream()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := a.Write([]byte("HANG\n")); err != nil {
						t.Fatal(err)
					}
				}
				b, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.Write([]byte("SUB\n")); err != nil {
					t.Fatal(err)
				}
				if _, err := bufio.NewReader(b).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				srvB := <-subs
				if first {
					hang()
					evaluate(2500 * time.Millisecond)
				} else {
					evaluate(500 * time.Millisecond)
				}
				b.Close() // the client's FIN
				if first {
					evaluate(2500 * time.Millisecond)
				} else {
					evaluate(2000 * time.Millisecond)
					hang()
					evaluate(2500 * time.Millisecond)
				}
				// The server's session read the client's FIN on B.
				srvB.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := srvB.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
					t.Fatalf("server's Read on B after the client's FIN: %v; want io.EOF", err)
				}
				var late int
				var finAt time.Time
				opened := map[live.FindingCode]int{}
				for _, r := range allRecords(reg) {
					switch {
					case r.Finding != nil && r.Kind == live.FindingOpened:
						opened[r.Finding.Code]++
					case r.Finding != nil && r.Kind == live.FindingResolved && r.Finding.Code == live.CodeDataAfterClose:
						if strings.Contains(r.Finding.Why, "may still be unread") {
							t.Errorf("DATA_AFTER_CLOSE resolved %q; the server's session read the FIN (its Read returned io.EOF)", r.Finding.Why)
						}
					case r.Kind == live.FrameRecord && r.StreamID() == b.ID() && r.Header.Cmd() == decoder.FIN && r.Dir == live.ClientToServer:
						finAt = r.At
					case r.Kind == live.FrameRecord && r.StreamID() == b.ID() && r.Header.Cmd() == decoder.PSH && r.Dir == live.ServerToClient && !finAt.IsZero():
						late++
					}
				}
				if late == 0 {
					t.Fatal("no data after the client's FIN")
				}
				if opened[live.CodeUnanswered] == 0 {
					t.Fatal("no UNANSWERED for stream A: the case needs its hung handler shown")
				}
				if opened[live.CodeDataAfterClose] == 0 {
					t.Errorf("no DATA_AFTER_CLOSE though the server's session read the FIN (%d late frames)", late)
				}
			})
		}
	}
}
