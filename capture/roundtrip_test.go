package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// echoTraffic runs real smux sessions of version over loopback TCP, tapped
// at the client end into reg and recorded into rec: streams that each
// send requests of random sizes that the server echoes, then close. It
// Request sizes go up to 2^(2+maxShift-1) bytes. It
// returns once both ends have closed and the session has ended.
func echoTraffic(t testing.TB, version, streams, maxShift int, seed uint64, reg *live.Registry, rec tap.Recorder) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	wrap := func(c net.Conn) net.Conn {
		return tap.Wrap(c, live.Client, reg, "test", tap.Version(version), tap.Record(rec))
	}
	cli, srv := smuxtest.Pair(t, smuxtest.Config(version), wrap, nil)
	done := make(chan error, 1)
	go func() { // the echo server; ends when the session closes
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				done <- nil
				return
			}
			if _, err := io.Copy(st, st); err != nil {
				st.Close()
				continue
			}
			st.Close()
		}
	}()
	for i := range streams {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		size := 1 + rng.IntN(1<<(2+i%maxShift))
		msg := bytes.Repeat([]byte{byte(i)}, size)
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(st, got); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	// Let the last FINs cross before the sessions close.
	smuxtest.Eventually(t, "every stream closed", func() bool {
		s := reg.Snapshot()
		return s.OpenStreams == 0 && s.StreamsTotal == uint64(streams)
	})
	cli.Close()
	srv.Close()
	<-done
	smuxtest.Eventually(t, "the session ended", func() bool { return reg.Snapshot().LiveSessions == 0 })
}

// readFile reads a capture into a new registry and returns its snapshot.
func readFile(t testing.TB, path string, filter capture.Filter) (*live.Snapshot, capture.Stats) {
	t.Helper()
	reg, stats := readFileInto(t, path, filter)
	return reg.Snapshot(), stats
}

// readFileInto reads the capture at path, as read does, into a new
// registry and returns it.
func readFileInto(t testing.TB, path string, filter capture.Filter) (*live.Registry, capture.Stats) {
	t.Helper()
	return readFileWith(t, path, capture.Config{Filter: filter})
}

// readFileWith reads the capture at path, as read does with cfg, into a
// new registry in the capture's time, and returns it.
func readFileWith(t testing.TB, path string, cfg capture.Config) (*live.Registry, capture.Stats) {
	t.Helper()
	return pcaptest.ReadFile(t, path, cfg)
}

// counts is what a capture must reproduce of a session: its frames and
// bytes per command and direction, its streams, violations, anomalies.
func counts(s *live.Snapshot) string {
	return fmt.Sprintf("sessions %d streams %d counts %v violations %d anomalies %d incomplete %d",
		len(s.Sessions), s.StreamsTotal, s.Totals, s.Violations, s.Anomalies, s.Incomplete)
}

// TestWriteThenRead records real smux traffic of both versions with
// pcapout while the tap decodes it, then reads the file: the counts must
// be the tap's exactly, and tcpdump must read the file without complaint.
func TestWriteThenRead(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			path := filepath.Join(t.TempDir(), "w.pcapng")
			w, err := pcapout.Create(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			reg := live.New(live.Config{})
			echoTraffic(t, version, 40, 15, uint64(version), reg, w)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.Dropped() != 0 {
				t.Fatalf("the writer dropped %d bytes", w.Dropped())
			}
			want := reg.Snapshot()
			got, stats := readFile(t, path, capture.Filter{})
			if counts(got) != counts(want) {
				t.Fatalf("read back:\n got %s\nwant %s", counts(got), counts(want))
			}
			if stats.Decoded != 1 || stats.Skipped != 0 {
				t.Fatalf("stats %+v, want one connection decoded", stats)
			}
			tcpdumpReads(t, path)
		})
	}
}

// TestWriteLimit checks that a writer that reaches its size limit stops
// writing, counts what it did not write, and marks the cut in the file
// itself: its last packet, and only that, carries the comment of the cut
// (opt_comment, which pcapgo reads back and tcpdump passes over), so that
// a reader never takes the file's end for the connections' quiet end.
// Before, the file ended with no mark: "the file's last packet has no
// comment of the cut: []".
func TestWriteLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.pcapng")
	w, err := pcapout.Create(path, 20<<10)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	echoTraffic(t, 1, 40, 15, 7, reg, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.Full() || w.PastLimit() == 0 {
		t.Fatalf("Full %v PastLimit %d; want a full file and bytes past its limit", w.Full(), w.PastLimit())
	}
	if w.Dropped() != 0 {
		t.Errorf("Dropped %d: the queue had room, nothing was lost before the limit", w.Dropped())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 20<<10+pcapoutSlack {
		t.Fatalf("file of %d bytes, limit %d", st.Size(), 20<<10)
	}
	got, _ := readFile(t, path, capture.Filter{})
	if want := reg.Snapshot(); got.Totals.Total() >= want.Totals.Total() {
		t.Fatalf("read %d frames of a cut file, the tap saw %d", got.Totals.Total(), want.Totals.Total())
	}
	comments := packetComments(t, path)
	for i, c := range comments[:len(comments)-1] {
		if len(c) > 0 {
			t.Errorf("packet %d of %d has comments %q: only the last marks the cut", i+1, len(comments), c)
		}
	}
	if last := comments[len(comments)-1]; len(last) != 1 || !strings.HasPrefix(last[0], "muxtop --write-limit: the writer reached its limit of 20480 bytes here: nothing after this packet was written") {
		t.Errorf("the file's last packet has no comment of the cut: %q", last)
	}
	tcpdumpReads(t, path)
}

// packetComments returns the comments (opt_comment) of each packet of the
// pcapng file at path, as pcapgo reads them.
func packetComments(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]string
	for {
		_, _, opts, err := r.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, opts.Comments)
	}
	if len(all) == 0 {
		t.Fatalf("%s holds no packet", path)
	}
	return all
}

// pcapoutSlack is how far past its limit a file may grow: the last
// batch of packets, written before the limit was seen.
const pcapoutSlack = 256 << 10

// tcpdumpReads checks that tcpdump -r reads path without complaint. It
// skips without tcpdump, unless MUXTOP_REQUIRE_TCPDUMP=1.
func tcpdumpReads(t *testing.T, path string) {
	t.Helper()
	bin := tcpdumpPath(t)
	out, err := exec.Command(bin, "-nr", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "truncated") || strings.Contains(line, "bad") || strings.Contains(line, "tcpdump:") {
			t.Fatalf("tcpdump complains: %s", line)
		}
	}
}

// tcpdumpPath returns tcpdump's path or skips the test (fails it when
// MUXTOP_REQUIRE_TCPDUMP=1, as CI sets).
func tcpdumpPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/tcpdump", "/usr/bin/tcpdump"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p
	}
	if os.Getenv("MUXTOP_REQUIRE_TCPDUMP") == "1" {
		t.Fatal("tcpdump is not installed and MUXTOP_REQUIRE_TCPDUMP=1")
	}
	t.Skip("tcpdump is not installed")
	return ""
}

// TestRewriteReset: a capture whose connection ended by a RST, read with
// a Recorder as sniff --write reads, is written with a RST, so that a
// read of the file written ends the session reset too, not EOF.
func TestRewriteReset(t *testing.T) {
	// The capture: a yamux stream opened and answered, then the server's RST.
	src := filepath.Join(t.TempDir(), "src.pcapng")
	w, err := pcapout.Create(src, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	c.Write(live.ClientToServer, at, []byte{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})                     // WINDOW_UPDATE SYN, stream 1
	c.Write(live.ClientToServer, at, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 'p', 'i', 'n', 'g'}) // DATA
	c.Write(live.ServerToClient, at, []byte{0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0})                     // WINDOW_UPDATE ACK
	c.Reset(live.ServerToClient, at.Add(time.Millisecond))
	c.End(live.ServerToClient, at.Add(time.Millisecond)) // nothing: the RST ended it
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want, _ := readFile(t, src, capture.Filter{})
	if len(want.Sessions) != 1 || want.Sessions[0].Reason != live.Reset {
		t.Fatalf("the capture written with a RST: %d sessions, want one ended reset", len(want.Sessions))
	}
	tcpdumpReads(t, src)

	path := filepath.Join(t.TempDir(), "w.pcapng")
	if w, err = pcapout.Create(path, 0); err != nil {
		t.Fatal(err)
	}
	readFileWith(t, src, capture.Config{Recorder: w})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readFile(t, path, capture.Filter{})
	if len(got.Sessions) != 1 || got.Sessions[0].Reason != live.Reset {
		t.Fatalf("read of the file the capture's read wrote: %d sessions, ended %v; want one, reset", len(got.Sessions), got.Sessions[0].Reason)
	}
	tcpdumpReads(t, path)
}

// TestRewriteOpen: a capture that stopped while its connection was open
// (no FIN, no RST), read with a Recorder as sniff --write reads, is
// written with no FIN either, neither end having sent one, so that a read
// of the file written leaves the session open at its end too, not ended
// EOF by the client's FIN that sniff's stop made up.
func TestRewriteOpen(t *testing.T) {
	// The capture: a yamux stream opened and answered, then the capture's end.
	src := filepath.Join(t.TempDir(), "src.pcapng")
	w, err := pcapout.Create(src, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	c.Write(live.ClientToServer, at, []byte{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})                     // WINDOW_UPDATE SYN, stream 1
	c.Write(live.ClientToServer, at, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 'p', 'i', 'n', 'g'}) // DATA
	c.Write(live.ServerToClient, at, []byte{0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0})                     // WINDOW_UPDATE ACK
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want, _ := readFile(t, src, capture.Filter{})
	if len(want.Sessions) != 1 || want.Sessions[0].Reason != live.NotClosed {
		t.Fatalf("the capture stopped while open: %d sessions, want one open", len(want.Sessions))
	}

	path := filepath.Join(t.TempDir(), "w.pcapng")
	if w, err = pcapout.Create(path, 0); err != nil {
		t.Fatal(err)
	}
	readFileWith(t, src, capture.Config{Recorder: w})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readFile(t, path, capture.Filter{})
	if len(got.Sessions) != 1 || got.Sessions[0].Reason != live.NotClosed {
		t.Fatalf("read of the file the capture's read wrote: %d sessions, ended %v (%s); want one, open", len(got.Sessions), got.Sessions[0].Reason, got.Sessions[0].Err)
	}
	tcpdumpReads(t, path)
	msg, err := exec.Command(tcpdumpPath(t), "-nr", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	if strings.Contains(string(msg), "Flags [F") || strings.Contains(string(msg), "Flags [R") {
		t.Errorf("tcpdump -r of the file written shows an end neither peer sent:\n%s", msg)
	}
}
