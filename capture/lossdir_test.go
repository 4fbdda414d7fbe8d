package capture_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// lossDirHealthy is how many served streams follow the leaked one in
// recordServerLeak: enough, after a lost frame, for the decoder to find
// a chain of headers again.
const lossDirHealthy = 12

// recordServerLeak records, by a tap on the client, real smux ends of
// version ver: the client asks "GET /leak" on its first stream, reads the
// answer and closes it (its FIN); the server answers and never closes it
// (the leak). Then lossDirHealthy streams are asked and served, each
// closed by both sides. The session stays live: the capture sees no end.
func recordServerLeak(t *testing.T, ver int) string {
	return writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		wrap := func(c net.Conn) net.Conn {
			return tap.Wrap(c, live.Client, reg, "test", tap.Version(ver), tap.Record(w))
		}
		cli, srv := smuxtest.Pair(t, smuxtest.Config(ver), wrap, nil)
		go func() {
			for {
				st, err := srv.AcceptStream()
				if err != nil {
					return
				}
				go func(st *smux.Stream) {
					line, _ := bufio.NewReader(st).ReadString('\n')
					if line == "GET /leak\n" {
						st.Write([]byte("404 not found\n")) // and never Close: the leak
						return
					}
					st.Write([]byte("200 ok\n"))
					st.Close()
				}(st)
			}
		}()
		ask := func(req string, wantEOF bool) {
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(st).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			if wantEOF {
				if _, err := io.Copy(io.Discard, st); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
		}
		ask("GET /leak\n", false)
		for range lossDirHealthy {
			ask("GET /ok\n", true)
		}
		smuxtest.Eventually(t, "the tap saw every stream close but the leaked one", func() bool {
			s := reg.Snapshot()
			return len(s.Sessions) == 1 && s.Sessions[0].Total == 1+lossDirHealthy && s.Sessions[0].Open == 1
		})
	})
}

// TestLossOfOneDirection: real smux sessions (v1, v2) where the server
// leaks a stream the client closed (recordServerLeak), read with one
// packet of one direction removed after the client's FIN on it, a whole
// frame of a later, healthy stream. A loss of the client's bytes cannot
// hold the FIN that is missing, the server's: the stream's state is
// known, and LEAK opens for it as on the intact capture. A loss of the
// server's bytes may hold it: the stream is set aside, no LEAK, but it
// is still open longer than --leak-after, and the snapshot counts it so
// (Aged), as set aside (Aside).
func TestLossOfOneDirection(t *testing.T) {
	cfg := live.FindingsConfig{Churn: -1, LeakAfter: 10 * time.Second}
	for _, ver := range []int{1, 2} {
		t.Run("v"+string(rune('0'+ver)), func(t *testing.T) {
			ps := readPackets(t, recordServerLeak(t, ver))
			placedPs, frames := placeAll(t, ps, false)
			for _, d := range []live.Dir{live.ClientToServer, live.ServerToClient} {
				t.Run(d.String(), func(t *testing.T) {
					// The first FIN each way is the leaked stream's:
					// the client's, or (s2c) the first healthy
					// stream's, after the leaked stream's answer.
					var finOff int64 = -1
					for _, f := range frames[live.ClientToServer] {
						if f.cmd == decoder.FIN {
							finOff = f.off
							break
						}
					}
					if finOff < 0 {
						t.Fatal("no FIN from the client")
					}
					// A packet of d, after it, that holds whole frames,
					// the first a PSH, halfway through the healthy
					// streams.
					finI := -1
					for _, p := range placedPs {
						if p.Dir == live.ClientToServer && finOff >= p.Off && finOff < p.Off+p.N {
							finI = p.I
						}
					}
					// Runs of packets of d, after it, that hold whole
					// frames, the first a PSH (a tap on the client
					// records its reads of a header and of a payload as
					// two): the run halfway through the healthy streams.
					var mine []placed
					for _, p := range placedPs {
						if p.Dir == d && p.I > finI && p.N > 0 {
							mine = append(mine, p)
						}
					}
					isStart := func(off int64) bool {
						for _, f := range frames[d] {
							if f.off == off && f.cmd == decoder.PSH {
								return true
							}
						}
						return false
					}
					isEnd := func(off int64) bool {
						for _, f := range frames[d] {
							if f.off+f.size == off {
								return true
							}
						}
						return false
					}
					var cands [][]placed
					for i, p := range mine {
						if !isStart(p.Off) {
							continue
						}
						for j := i; j < len(mine); j++ {
							if isEnd(mine[j].Off + mine[j].N) {
								cands = append(cands, mine[i:j+1])
								break
							}
						}
					}
					if len(cands) < 2 {
						t.Fatalf("%d runs of whole frames of %v after the client's FIN; want some", len(cands), d)
					}
					drop := cands[len(cands)/2]
					var dropped int64
					for _, p := range drop {
						dropped += p.N
					}
					reg := readEvaluated(without(ps, drop...), capture.Config{}, cfg)
					all := live.SnapshotOptions{Streams: func(uint64) bool { return true }}
					snap := reg.SnapshotWith(all)
					if len(snap.Sessions) != 1 {
						t.Fatalf("%d sessions, want 1", len(snap.Sessions))
					}
					ss := snap.Sessions[0]
					if ss.Lost[d] != dropped || ss.Lost[d.Reverse()] != 0 {
						t.Fatalf("lost %v; want %d bytes of %v only", ss.Lost, dropped, d)
					}
					var leaked *live.StreamSnap
					for i := range ss.Streams {
						if ss.Streams[i].State.Live() {
							leaked = &ss.Streams[i]
						}
					}
					if leaked == nil || leaked.State != live.HalfClosedByClient {
						t.Fatalf("the leaked stream %+v; want it half-closed by the client", leaked)
					}
					at := leaked.Last.Add(cfg.LeakAfter + time.Second)
					reg.Evaluate(at, cfg)
					snap = reg.SnapshotWith(live.SnapshotOptions{LeakAfter: cfg.LeakAfter, Now: at})
					var leak *live.Finding
					for _, f := range snap.FindingsOf(ss.ID) {
						if f.Code == live.CodeLeak {
							leak = f
						}
					}
					if d == live.ClientToServer {
						if leak == nil || leak.Evidence.Count != 1 || leak.Stream != leaked.ID {
							t.Errorf("LEAK %+v; want it open for stream %d: the client's bytes lost cannot hold the server's FIN", leak, leaked.ID)
						}
						if snap.Aged != 1 || snap.Aside != 0 {
							t.Errorf("%d streams open longer than %v, %d set aside; want 1, none set aside", snap.Aged, cfg.LeakAfter, snap.Aside)
						}
						return
					}
					if leak != nil {
						t.Errorf("LEAK %+v; want none: the server's bytes lost may hold its FIN on stream %d", leak, leaked.ID)
					}
					if snap.Aged != 1 || snap.Aside != 1 {
						t.Errorf("%d streams open longer than %v, %d set aside; want 1, set aside: it is still open as far as the capture saw", snap.Aged, cfg.LeakAfter, snap.Aside)
					}
				})
			}
		})
	}
}
