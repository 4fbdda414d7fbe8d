package capture_test

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// goneConfig reads the captures of recordGone: thresholds the fault's
// time passes (800 ms, or more where NO_REPLY's limit follows slow
// answers: recordGone).
var goneConfig = live.FindingsConfig{StallAfter: 300 * time.Millisecond, UnansweredAfter: 300 * time.Millisecond, LeakAfter: time.Hour, CloseWaitAfter: time.Hour, Churn: -1}

// recordGone records, by pcapout through a tap on the server, a real
// smux session over loopback TCP, keepalive off, and one of two faults:
// "stall", v2, the server accepts a stream and never reads it, the
// client's writer held at its full window; "unanswered", the client asks
// on a stream the server never accepts; "noreply", v2, the hung call
// NO_REPLY names (smuxtest.HungCall's). Then the server opens a stream
// of its own and says hello, which the client reads and answers: the
// server still sends; and 800 ms later bye (later still where the hung
// call's earlier answers were slow: NO_REPLY's limit, the longer of
// goneConfig's UnansweredAfter and live.ReplyFactor times the slowest,
// is passed by 300 ms). Then (the fault's time, which the capture's
// clock reads) the client leaves if gone (its conn closes, as its
// process's does when it is killed), and the recording ends once the
// server's tap has read its EOF; else the recording ends with the client
// there. leave says how the client goes: "exits" (its conn closes, as
// its process's does when it is killed), "half" (it shuts its write
// side, as audit3's hc client does after its requests, and reads on),
// "half, answered" (so, and then the server answers the waiting request
// late, which the client reads), "" it stays. It returns the packets and
// the server's port.
func recordGone(t *testing.T, version int, fault, leave string) (ps []pkt, port uint16) {
	t.Helper()
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		cc, sc := smuxtest.Conns(t)
		port = uint16(sc.LocalAddr().(*net.TCPAddr).Port)
		cfg := smuxtest.Config(version)
		cfg.KeepAliveDisabled = true
		srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "test", tap.Version(version), tap.Record(w)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := smux.Client(cc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// The sessions close once the recording is over: the capture ends
		// with the session live, as a tcpdump stopped before the end.
		var wg sync.WaitGroup
		t.Cleanup(func() { cli.Close(); srv.Close(); wg.Wait() })
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		release := func() {}      // the late answer, where the fault has one
		var slowest time.Duration // the hung call's earlier answers' slowest round trip
		r := bufio.NewReader(st)
		switch fault {
		case "noreply":
			// The hung call (smuxtest.HungCall's): three calls answered on
			// a reused stream, Think apart, the fourth's handler blocked.
			hold := make(chan struct{})
			release = sync.OnceFunc(func() { close(hold) })
			t.Cleanup(release)
			wg.Go(func() {
				if st, err := srv.AcceptStream(); err == nil {
					smuxtest.AnswerLines(st, hold)
				}
			})
			slowest = smuxtest.Calls(t, st, r, "get\n", 3) // the client thinks between its calls, which the turns' timing reads
			if _, err := io.WriteString(st, "hang\n"); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the hung call recorded", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && len(ss[0].Streams) == 1 && ss[0].Streams[0].Bytes[live.ClientToServer] == 3*4+5
			})
		case "stall":
			accepted := make(chan struct{})
			wg.Go(func() {
				if _, err := srv.AcceptStream(); err == nil { // never read
					close(accepted)
				}
			})
			wg.Go(func() { st.Write(make([]byte, 1<<20)) }) // held at the window
			<-accepted
			smuxtest.Eventually(t, "the writer held at its window", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && len(ss[0].Streams) == 1 && !ss[0].Streams[0].Flow[live.ClientToServer].FullSince.IsZero()
			})
		default:
			// The server accepts and does not answer, till released.
			late := make(chan struct{})
			release = sync.OnceFunc(func() { close(late) })
			t.Cleanup(release)
			wg.Go(func() {
				if st, err := srv.AcceptStream(); err == nil {
					<-late
					io.WriteString(st, "answer\n")
				}
			})
			if _, err := io.WriteString(st, "GET /x"); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the request recorded", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && len(ss[0].Streams) == 1 && ss[0].Streams[0].Bytes[live.ClientToServer] == 6
			})
		}
		own, err := srv.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(own, "hello"); err != nil {
			t.Fatal(err)
		}
		got, err := cli.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(got, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(got, "ok"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(own, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		// The fault's time, which the capture records: past NO_REPLY's
		// limit by 300 ms where the client's slowest round trip (no
		// shorter than the wire's slowest answer) raises it; a fixed
		// 800 ms saw none open where a loaded machine answered in 80 ms.
		time.Sleep(max(800*time.Millisecond, smuxtest.NoReplyLimit(goneConfig.UnansweredAfter, slowest)+300*time.Millisecond))
		// The server speaks again: the capture's time reaches here, and
		// the server still sends.
		if _, err := io.WriteString(own, "bye"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(got, make([]byte, 3)); err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the server's bye recorded", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && slices.ContainsFunc(ss[0].Streams, func(s live.StreamSnap) bool {
				return s.ID == own.ID() && s.Bytes[live.ServerToClient] == 8
			})
		})
		if leave == "" {
			return
		}
		if leave == "exits" {
			cc.Close()
		} else {
			cc.(*net.TCPConn).CloseWrite()
		}
		smuxtest.Eventually(t, "the server's tap read the client's EOF", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && !ss[0].DirEnded[live.ClientToServer].IsZero()
		})
		if leave != "half, answered" {
			return
		}
		time.Sleep(800 * time.Millisecond) // the finding holds past the half-close, in the capture's time
		release()
		if got, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(got, "\n") {
			t.Fatalf("the client read %q, %v after its half-close; want the answer", got, err)
		}
		smuxtest.Eventually(t, "the late answer recorded", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && slices.ContainsFunc(ss[0].Streams, func(s live.StreamSnap) bool {
				return s.ID == st.ID() && s.Bytes[live.ServerToClient] == map[bool]uint64{true: 4 * 3, false: 7}[fault == "noreply"]
			})
		})
	})
	return readPackets(t, path), port
}

// TestCaptureSideGoneReal: audit1's and audit3's captures, made again
// in the test. A real smux session whose client goes while a finding
// holds of it, recorded and read back. The client SIGKILLed with its
// writer held (audit1's stall2.pcap): WINDOW_STALL resolves saying the
// writer closed its side and writes no more, not "the window opened (a
// UPD)", with no UPD in the capture, and no UNANSWERED opens for the
// stream it left (the server had accepted it: its writer was held). A
// client's FIN does not end its wait (audit3's hc captures): UNANSWERED
// and NO_REPLY hold after it, whether it exited or only shut its write
// side and reads on, and the late answer it reads resolves them as an
// answer (before: "the client closed its side of the connection: its
// session, and its streams, are gone; nobody waits for their answer any
// more", while the client went on to read the answer). The healthy
// twins, the client there to the end: each finding holds.
func TestCaptureSideGoneReal(t *testing.T) {
	for _, c := range []struct {
		fault   string
		version int
		code    live.FindingCode
		leave   string
		why     string // "": holds to the end
	}{
		{"stall", 2, live.CodeWindowStall, "exits", "the writer, the client, closed its side of the connection: it writes no more; the writer had been held "},
		{"stall", 2, live.CodeWindowStall, "half", "the writer, the client, closed its side of the connection: it writes no more; the writer had been held "},
		{"stall", 2, live.CodeWindowStall, "", ""},
		{"unanswered", 1, live.CodeUnanswered, "exits", ""},
		{"unanswered", 1, live.CodeUnanswered, "half", ""},
		{"unanswered", 1, live.CodeUnanswered, "half, answered", "the streams got an answer"},
		{"unanswered", 1, live.CodeUnanswered, "", ""},
		{"unanswered", 2, live.CodeUnanswered, "exits", ""},
		{"unanswered", 2, live.CodeUnanswered, "half", ""},
		{"unanswered", 2, live.CodeUnanswered, "half, answered", "the streams got an answer"},
		{"unanswered", 2, live.CodeUnanswered, "", ""},
		{"noreply", 2, live.CodeNoReply, "exits", ""},
		{"noreply", 2, live.CodeNoReply, "half", ""},
		{"noreply", 2, live.CodeNoReply, "half, answered", "the server answered, "},
		{"noreply", 2, live.CodeNoReply, "", ""},
	} {
		name := c.fault + map[int]string{1: "/v1", 2: "/v2"}[c.version] + "/" + map[string]string{"exits": "client exits", "half": "client half-closes", "half, answered": "client half-closes, answered late", "": "healthy: client stays"}[c.leave]
		t.Run(name, func(t *testing.T) {
			ps, port := recordGone(t, c.version, c.fault, c.leave)
			reg := readEvaluated(ps, capture.Config{Filter: capture.Port(port)}, goneConfig)
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			var opened, resolved int
			for _, r := range recs {
				if r.Finding == nil || r.Kind != live.FindingOpened && r.Kind != live.FindingResolved {
					continue
				}
				switch {
				case r.Finding.Code != c.code:
					t.Errorf("%s %v: %s", r.Kind, r.Finding.Code, r.Finding.Text)
				case r.Kind == live.FindingOpened:
					opened++
				case c.why == "":
					t.Errorf("%v resolved: %s", c.code, r.Detail)
				case !strings.HasPrefix(r.Detail, c.why):
					t.Errorf("%v resolved: %s\nwant: %s…", c.code, r.Detail, c.why)
				default:
					resolved++
				}
			}
			if opened != 1 {
				t.Errorf("%d %v opened; want 1", opened, c.code)
			}
			if open := reg.Snapshot().Findings; c.why != "" && len(open) != 0 {
				t.Errorf("%d findings open at the end, %v first: %s", len(open), open[0].Code, open[0].Text)
			} else if c.why == "" && len(open) != 1 {
				t.Errorf("%d findings open at the end; want the %v", len(open), c.code)
			}
		})
	}
}
