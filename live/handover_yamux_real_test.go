package live_test

import (
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// realYamux returns a real hashicorp/yamux client, tapped into reg, and
// its server, over loopback TCP; both close when the test ends.
func realYamux(t *testing.T, reg *live.Registry) (cli, srv *hyamux.Session) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	cfg := smuxtest.YamuxConfig()
	var err error
	if cli, err = hyamux.Client(tap.Wrap(cc, live.Client, reg, "test", tap.WithProtocol(tap.Yamux)), cfg); err != nil {
		t.Fatal(err)
	}
	if srv, err = hyamux.Server(sc, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// openWriting opens a stream on cli and writes p on it.
func openWriting(t *testing.T, cli *hyamux.Session, p string) *hyamux.Stream {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte(p)); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUnansweredHandsOverRealYamux: UNANSWERED's resolution texts on
// real hashicorp/yamux sessions, whose server answers a stream first by
// accepting it (its WINDOW_UPDATE ACK is the first frame back). A yamux
// upload nobody reads is one the server never accepts: its writer runs
// into the 256 KiB window the SYN granted and is held there. Each case
// opens its streams, lets the uploads fill their windows, has the server
// ping (UNANSWERED holds only while the other side speaks), evaluates
// once (UNANSWERED counts every stream: each waited --unanswered-after,
// and no window has held its writer --stall-after yet), then has the
// server accept those it answers and evaluates again, when the uploads
// have been held --stall-after: the resolution names the uploads as
// WINDOW_STALL's and says the others got an answer. The frames' times are the tap's; the evaluations'
// are chosen from them.
func TestUnansweredHandsOverRealYamux(t *testing.T) {
	const upload, request = true, false
	for _, tc := range []struct {
		name    string
		streams []bool // streams 1, 3... in order: an upload, or a request
		accept  int    // how many the server accepts, in order, after the first evaluation
		codes   string
		detail  string
	}{
		{"two uploads", []bool{upload, upload}, 0,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL +WINDOW_STALL",
			"streams 1 and 3, still unanswered, are WINDOW_STALL's now: the client's writers are held by full windows, which the server has not read from"},
		{"a request accepted and an upload", []bool{request, upload}, 1,
			"+UNANSWERED -UNANSWERED +WINDOW_STALL",
			"stream 3, still unanswered, is WINDOW_STALL's now: the client's writer is held by a full window, which the server has not read from; the other got an answer, or closed"},
		{"two requests accepted", []bool{request, request}, 2,
			"+UNANSWERED -UNANSWERED",
			"the streams got an answer, or closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, srv := realYamux(t, reg)
			var sts []*hyamux.Stream
			for _, up := range tc.streams {
				sts = append(sts, openWriting(t, cli, map[bool]string{upload: "PUT ", request: "REQ!"}[up]))
			}
			// Each upload writes until yamux holds it at the window; the
			// writes return when the session closes at the test's end.
			last := waitStream(t, reg, sts[len(sts)-1].StreamID(), "the last stream's first bytes", func(st *live.StreamSnap) bool { return st.Bytes[c2s] == 4 })
			var full time.Time // when the latest window filled
			wait := time.Hour  // --unanswered-after: less than any stream's age at the first evaluation
			for i, up := range tc.streams {
				if !up {
					continue
				}
				go sts[i].Write(make([]byte, live.InitialPeerWindow))
				st := waitStream(t, reg, sts[i].StreamID(), "the full window", func(st *live.StreamSnap) bool { return !st.Flow[c2s].FullSince.IsZero() })
				fs := st.Flow[c2s].FullSince
				full = maxTime(full, fs)
				wait = min(wait, fs.Sub(st.First)/2) // filled after it waited: not held from the start
			}
			// The server shows it is alive, not accepting: a ping, after
			// every SYN. UNANSWERED holds only while the other side speaks.
			if _, err := srv.Ping(); err != nil {
				t.Fatal(err)
			}
			first := time.Now() // after every frame so far, the ping's reply read
			wait = min(wait, first.Sub(last.First)/2)
			// --stall-after: longer than any upload is held at the first
			// evaluation, by a second.
			cfg := live.FindingsConfig{UnansweredAfter: wait, StallAfter: first.Sub(full) + time.Second, LeakAfter: time.Hour, Churn: -1}
			if full.IsZero() {
				cfg.StallAfter = time.Second
			}
			reg.Evaluate(first, cfg) // every stream waits; no upload is held StallAfter yet

			for i := range tc.accept {
				acc, err := srv.AcceptStream() // sends the ACK: the stream's answer
				if err != nil {
					t.Fatal(err)
				}
				if acc.StreamID() != sts[i].StreamID() {
					t.Fatalf("the server accepted stream %d, want %d", acc.StreamID(), sts[i].StreamID())
				}
			}
			second := first.Add(time.Second) // the uploads held StallAfter
			for i := range tc.accept {
				st := waitStream(t, reg, sts[i].StreamID(), "the server's ACK", func(st *live.StreamSnap) bool { return st.Frames[s2c] > 0 })
				second = maxTime(second, st.Last.Add(time.Millisecond))
			}
			reg.Evaluate(second, cfg) // the uploads are held StallAfter; the requests answered
			recs := findingRecords(reg)
			if got := codes(reg); got != tc.codes {
				t.Fatalf("%s, want %s:%s", got, tc.codes, describeRecords(recs))
			}
			if n := recs[0].Finding.Evidence.Count; n != uint64(len(tc.streams)) || recs[1].Detail != tc.detail {
				t.Errorf("UNANSWERED counted %d streams and resolved:\n  %q\nwant %d and\n  %q", n, recs[1].Detail, len(tc.streams), tc.detail)
			}
			if recs[0].Finding.Proto != live.Yamux || strings.Contains(recs[0].Finding.Text, "smux") {
				t.Errorf("UNANSWERED not in yamux's words: %q", recs[0].Finding.Text)
			}
		})
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
