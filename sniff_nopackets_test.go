package main

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
)

// TestSayNoPackets: sniff says once, at the first tick noPacketsAfter
// after it started with no packet captured, where else the service may
// be; not before, and never once a packet came, however late the tick
// (the ticks, and the times they carry, are the test's).
func TestSayNoPackets(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type run struct {
		ticks   chan time.Time
		packets atomic.Uint64
		said    chan string
		stop    func()
	}
	begin := func() *run {
		r := &run{ticks: make(chan time.Time), said: make(chan string, 4)}
		r.stop = sayNoPackets(r.ticks, start, r.packets.Load, "no packets", func(s string) { r.said <- s })
		return r
	}
	// at ticks at d after start, and once more, so that the first tick
	// has been acted on when it returns.
	at := func(r *run, d time.Duration) {
		r.ticks <- start.Add(d)
		r.ticks <- start.Add(d)
	}

	quiet := begin()
	at(quiet, time.Second)
	at(quiet, noPacketsAfter-time.Millisecond)
	if n := len(quiet.said); n != 0 {
		t.Fatalf("said %d times before %v", n, noPacketsAfter)
	}
	at(quiet, noPacketsAfter)
	at(quiet, 2*noPacketsAfter)
	quiet.stop()
	if got := len(quiet.said); got != 1 {
		t.Fatalf("said %d times in all, want once, at %v", got, noPacketsAfter)
	}
	if s := <-quiet.said; s != "no packets" {
		t.Errorf("said %q", s)
	}

	busy := begin()
	at(busy, 2*time.Second)
	busy.packets.Store(1)
	at(busy, 10*time.Second) // a late tick: packets came, nothing to say
	busy.stop()
	if n := len(busy.said); n != 0 {
		t.Errorf("said %d times though packets came", n)
	}
}

// TestNoPacketsText: the line names the interface and the filter, and
// suggests -i any and the other interfaces up; on any, the filter.
func TestNoPacketsText(t *testing.T) {
	port, err := pcap.ParseFilter("port 9000")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		iface string
		f     pcap.Filter
		up    []string
		want  string
	}{
		{"lo", port, []string{"lo", "eth0"}, "sniff: no packets on lo matching port 9000 in 5s: is the service on another interface? (-i any, or -i eth0)"},
		{"lo", pcap.Filter{}, []string{"lo"}, "sniff: no packets on lo in 5s: is the service on another interface? (-i any)"},
		{"eth0", port, []string{"lo", "eth0", "eth1", "wg0", "tun0"}, "sniff: no packets on eth0 matching port 9000 in 5s: is the service on another interface? (-i any, or -i lo, -i eth1, -i wg0)"},
		{"any", port, []string{"lo", "eth0"}, "sniff: no packets on any interface matching port 9000 in 5s: is the service running, and does the filter pick its connections?"},
		{"any", pcap.Filter{}, []string{"lo", "eth0"}, "sniff: no packets on any interface in 5s: is the service running, on this machine?"},
	} {
		if got := noPacketsText(c.iface, c.f, c.up); got != c.want {
			t.Errorf("%s %q:\n got %q\nwant %q", c.iface, c.f.String(), got, c.want)
		}
	}
}

// TestSniffNoPacketsSaid: `sniff --port N` on lo where nothing talks
// says, as a notice record of its JSON output, about noPacketsAfter in,
// that no packet came and where else to look. Before, it said nothing,
// and the UI waited for sessions forever.
func TestSniffNoPacketsSaid(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for seconds")
	}
	t.Parallel() // on a port of its own: other tests' traffic on lo is not its
	port := quietPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startSniff(ctx, "-i", "lo", "--port", port, "-o", "json")
	want := `"text":"sniff: no packets on lo matching port ` + port + ` in 5s: is the service on another interface? (-i any`
	said := func() bool {
		s.failIfEnded(t)
		for _, l := range strings.Split(s.stdout.String(), "\n") {
			if strings.HasPrefix(l, `{"type":"notice",`) && strings.Contains(l, want) {
				return true
			}
		}
		return false
	}
	// 5 s of no packets, after the sniffer starts: on a machine running
	// eight such tests at once that can take more than 10 s of the wall.
	for deadline := time.Now().Add(30 * time.Second); !said(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no notice that no packet came in 30 s:\n%s", s.stdout.String())
		}
	}
	cancel()
	if code := <-s.done; code != 0 {
		t.Fatalf("sniff: exit %d: %s", code, s.stderr.String())
	}
	if n := strings.Count(s.stdout.String(), "no packets on"); n != 1 {
		t.Errorf("said %d times, want once:\n%s", n, s.stdout.String())
	}
}

// sniffRun is `muxtop sniff` run in the test's process: its outputs, and
// its exit status once it ends.
type sniffRun struct {
	stdout, stderr syncBuffer
	done           chan int
}

// startSniff runs `muxtop sniff` with args until it ends by itself or
// ctx does.
func startSniff(ctx context.Context, args ...string) *sniffRun {
	s := &sniffRun{done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"sniff"}, args...), &s.stdout, &s.stderr)
	}()
	return s
}

// failIfEnded returns at once while sniff runs; if it has ended, it skips
// the test where sniff lacked root or CAP_NET_RAW, and fails it otherwise.
func (s *sniffRun) failIfEnded(t *testing.T) {
	t.Helper()
	select {
	case code := <-s.done:
		if strings.Contains(s.stderr.String(), "CAP_NET_RAW") {
			capperm.Missing(t, "sniff needs root or CAP_NET_RAW")
		}
		t.Fatalf("sniff: exit %d: %s", code, s.stderr.String())
	default:
	}
}

// TestNoPacketsInREADME: README's sniff section quotes the line as
// sniff says it.
func TestNoPacketsInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	port, err := pcap.ParseFilter("port 9000")
	if err != nil {
		t.Fatal(err)
	}
	want := noPacketsText("lo", port, []string{"lo", "eth0"})
	if !strings.Contains(strings.Join(strings.Fields(string(b)), " "), "`"+want+"`") {
		t.Errorf("README does not quote %q", want)
	}
}

// quietPort returns a loopback port nothing listens on, outside the
// kernel's ephemeral range (32768 and up on Linux), so that no other
// test's connection (whose client ports are ephemeral, and whose servers
// listen on :0) uses it while a test sniffs it for silence.
func quietPort(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := strconv.Itoa(20000 + rand.IntN(12000))
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port in 20000-31999")
	return ""
}
