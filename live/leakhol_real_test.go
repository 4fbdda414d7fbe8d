package live_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// The reviewer's hol fault on real smux v1 sessions at smux's defaults
// (MaxReceiveBuffer 4 MiB), keepalive off, tapped at the server's end, as
// attach sees it: the tap sees the server's writes, which the kernel takes
// whether or not the client reads, and nothing of the client's reading.
// The client sends requests, each on its own stream; the server answers
// each and closes it. One request asks for a download of 5 MiB that the
// client never reads: its bytes fill the client's session buffer, and
// smux v1's recvLoop (session.go: it waits while the bucket,
// MaxReceiveBuffer less the bytes pushed to streams and not read, is 0 or
// less) reads the connection no more. The answers to the requests after
// it wait in the kernel's buffers; the client, waiting in Read, never
// gets them and never closes their streams. No stream was forgotten.

// holServer serves srv's streams: a line "bulk" gets size zero bytes,
// any other line "OK"; each stream is closed once answered.
func holServer(srv *smux.Session, size int) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			line, err := bufio.NewReader(st).ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "bulk") {
				io.Copy(st, io.LimitReader(zeros{}, int64(size)))
				return
			}
			io.WriteString(st, "OK "+line)
		}()
	}
}

// holPair is a real smux v1 pair at smux's defaults, keepalive off, the
// server's conn tapped into reg, the server serving as holServer.
func holPair(t *testing.T, reg *live.Registry, size int) (cli *smux.Session) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	tc := tap.Wrap(sc, live.Server, reg, "hol")
	cfg := smuxtest.Config(1)
	cfg.KeepAliveDisabled = true
	cli, err := smux.Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(tc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go holServer(srv, size)
	return cli
}

// holRequest opens a stream on cli and sends request k on it. With read,
// it reads the answer, and closes the stream unless forget; without, a
// goroutine waits for the answer (a client whose session is blocked
// waits so), and closes the stream if the answer ever comes, unless
// forget. It returns the stream's id.
func holRequest(t *testing.T, cli *smux.Session, k int, read, forget bool) uint32 {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(st, "REQ %d\n", k)
	answer := func() error {
		_, err := bufio.NewReader(st).ReadString('\n')
		if err == nil && !forget {
			st.Close()
		}
		return err
	}
	if !read {
		go answer() // ends as the session closes
		return st.ID()
	}
	if err := answer(); err != nil {
		t.Fatalf("answer %d: %v", k, err)
	}
	return st.ID()
}

// holSettle waits until reg's one session has its open streams all
// half-closed by the server, want of them, and returns the latest frame
// among them.
func holSettle(t *testing.T, reg *live.Registry, want int) time.Time {
	t.Helper()
	var last time.Time
	smuxtest.Eventually(t, fmt.Sprintf("%d streams half-closed by the server", want), func() bool {
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 {
			return false
		}
		n := 0
		last = time.Time{}
		for _, st := range ss[0].Streams {
			switch st.State {
			case live.HalfClosedByServer:
				n++
				if st.Last.After(last) {
					last = st.Last
				}
			case live.Open, live.HalfClosedByClient:
				return false
			}
		}
		return n == want
	})
	return last
}

// holDownload asks for the download on a stream of cli and, with read,
// reads it all, closing the stream unless forget; it returns the stream
// once the tap has recorded all of it.
func holDownload(t *testing.T, reg *live.Registry, cli *smux.Session, size int, read, forget bool) uint32 {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(st, "bulk\n")
	if read {
		if n, err := io.ReadFull(st, make([]byte, size)); err != nil {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		if !forget {
			st.Close()
		}
	}
	sid := st.ID()
	smuxtest.Eventually(t, "the download recorded", func() bool {
		for _, s := range reg.Snapshot().Sessions {
			for _, ss := range s.Streams {
				if ss.ID == sid && ss.Bytes[live.ServerToClient] == uint64(size) {
					return true
				}
			}
		}
		return false
	})
	return sid
}

// TestLeakV1UnreadHoldsSessionReal: the hol fault. Its LEAK does not say
// the client forgot Close as if that were known: it names the unread
// download, says that in smux v1 it may hold the client's session buffer
// full, so that the client never got the answers, and says what tells
// the two apart — before and after the download's own drain allowance
// (LEAK's V1DrainRate) passes and the download itself is counted.
func TestLeakV1UnreadHoldsSessionReal(t *testing.T) {
	const size = 5 << 20
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	reg := live.New(live.Config{})
	cli := holPair(t, reg, size)
	for k := 1; k <= 3; k++ {
		holRequest(t, cli, k, true, false) // answered, read and closed
	}
	dl := holDownload(t, reg, cli, size, false, false)
	var sids []uint32
	for k := 4; k <= 8; k++ {
		sids = append(sids, holRequest(t, cli, k, false, false))
	}
	last := holSettle(t, reg, 6)
	check := func(at time.Time, count uint64, oldest uint32) {
		t.Helper()
		reg.Evaluate(at, cfg)
		ls := leaksOf(reg)
		if len(ls) != 1 {
			t.Fatalf("want one LEAK, got %d", len(ls))
		}
		f := ls[0]
		t.Logf("text: %s\nadvice: %s", f.Text, f.Advice)
		if f.Evidence.Count != count || f.Stream != oldest || !f.HasDir || f.Dir != live.ClientToServer {
			t.Fatalf("LEAK of %d streams, oldest %d, dir %v: want %d, oldest %d, the client's", f.Evidence.Count, f.Stream, f.Dir, count, oldest)
		}
		if strings.Contains(f.Text, "never closes its streams") {
			t.Errorf("the text says the client never closes its streams: %s", f.Text)
		}
		for _, w := range []string{fmt.Sprintf("stream %d was sent 5 MiB", dl), "MaxReceiveBuffer", "or it forgot Close()"} {
			if !strings.Contains(f.Text, w) {
				t.Errorf("the text lacks %q: %s", w, f.Text)
			}
		}
		for _, w := range []string{fmt.Sprintf("read stream %d", dl), "recvLoop", "call Close() on the client's stream when it is done"} {
			if !strings.Contains(f.Advice, w) {
				t.Errorf("the advice lacks %q: %s", w, f.Advice)
			}
		}
	}
	check(last.Add(cfg.LeakAfter+time.Millisecond), 5, sids[0])
	// Past the download's drain allowance it is counted too, the oldest.
	check(last.Add(live.V1ReceiveBuffer*time.Second/live.V1DrainRate+cfg.LeakAfter), 6, dl)
}

// TestLeakV1ForgottenAfterReadReal: the twins that are forgotten Closes,
// on the same sessions, and keep the leak's words ("the client never
// closes its streams … call Close()"): a client that read its download
// and closed it, then reads answers and forgets Close; one that forgot
// Close on an answer it read before the download came, and then on those
// after it while the download sits unread (a stream answered before the
// buffer could fill was read: its Close was forgotten).
func TestLeakV1ForgottenAfterReadReal(t *testing.T) {
	const size = 5 << 20
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, reg *live.Registry, cli *smux.Session) (count int, oldest uint32)
	}{
		{"download read and closed", func(t *testing.T, reg *live.Registry, cli *smux.Session) (int, uint32) {
			holRequest(t, cli, 1, true, false)
			holDownload(t, reg, cli, size, true, false)
			first := holRequest(t, cli, 2, true, true)
			holRequest(t, cli, 3, true, true)
			return 2, first
		}},
		{"forgotten before the download", func(t *testing.T, reg *live.Registry, cli *smux.Session) (int, uint32) {
			first := holRequest(t, cli, 1, true, true)
			holDownload(t, reg, cli, size, false, false)
			holRequest(t, cli, 2, false, true)
			holRequest(t, cli, 3, false, true)
			return 3, first
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cli := holPair(t, reg, size)
			count, oldest := tc.run(t, reg, cli)
			want := count
			if tc.name != "download read and closed" {
				want++ // the download, half-closed by the server
			}
			last := holSettle(t, reg, want)
			reg.Evaluate(last.Add(cfg.LeakAfter+time.Millisecond), cfg)
			ls := leaksOf(reg)
			if len(ls) != 1 {
				t.Fatalf("want one LEAK, got %d", len(ls))
			}
			f := ls[0]
			if f.Evidence.Count != uint64(count) || f.Stream != oldest ||
				!strings.HasPrefix(f.Text, fmt.Sprintf("the client never closes its streams: %d half-closed by the server", count)) ||
				strings.Contains(f.Text, "MaxReceiveBuffer") ||
				!strings.HasPrefix(f.Advice, "call Close() on the client's stream when it is done") {
				t.Fatalf("LEAK of %d streams, oldest %d: want %d, oldest %d, the leak's words: %s — %s", f.Evidence.Count, f.Stream, count, oldest, f.Text, f.Advice)
			}
		})
	}
}
