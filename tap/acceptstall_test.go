package tap

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// The notice that accepting resumed counts the failures of its own stall,
// not all so far; a stall under longStall makes no client late, one of
// longStall or more makes those accepted within lateWithin of its end
// late; and the notices of the failures come at most once per
// noticeEvery, the next one counting those between.
func TestAcceptStallCounts(t *testing.T) {
	p := &Proxy{}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if tell, _ := p.acceptFailed(syscall.EMFILE, at(0), failedAccept); !tell {
		t.Fatal("the first failed accept is not told")
	}
	for i := range 3 { // one stall of 4 failures, 35 ms
		if tell, _ := p.acceptFailed(syscall.EMFILE, at(time.Duration(5*(i+1))*time.Millisecond), failedAccept); tell {
			t.Errorf("failure %d of the stall told again", i+2)
		}
	}
	if took, failed, _ := p.acceptResumed(at(35*time.Millisecond), true); took != 35*time.Millisecond || failed != 4 {
		t.Errorf("first stall: took %s, %d failed; want 35ms, 4", took, failed)
	}
	if p.acceptedLate(at(36 * time.Millisecond)) {
		t.Error("a client accepted after a 35 ms stall counts as late")
	}
	// Short stalls of a chronic limit: 1 failure each, 100 ms apart.
	for i := range 5 {
		start := at(time.Duration(100*(i+1)) * time.Millisecond)
		if tell, _ := p.acceptFailed(syscall.EMFILE, start, failedAccept); tell {
			t.Errorf("stall %d, %s after the first notice, told", i+2, start.Sub(t0))
		}
		if _, failed, _ := p.acceptResumed(start.Add(5*time.Millisecond), true); failed != 1 {
			t.Errorf("stall %d: %d accepts failed in it, want 1", i+2, failed)
		}
	}
	// A long stall, a second after the first notice: told, with the
	// failures since.
	tell, since := p.acceptFailed(syscall.EMFILE, at(time.Second), failedAccept)
	// 9 failures in 6 stalls since the first notice, this one included.
	if want := "(9 accepts failed in 6 stalls since the last notice, 1s ago)"; !tell || !strings.Contains(since, want) {
		t.Errorf("a stall a second after the last notice: told %v, %q; want it told with %q", tell, since, want)
	}
	p.acceptFailed(syscall.EMFILE, at(2*time.Second), failedAccept)
	took, failed, _ := p.acceptResumed(at(3*time.Second), true)
	if took != 2*time.Second || failed != 2 {
		t.Errorf("long stall: took %s, %d failed; want 2s, 2", took, failed)
	}
	if !p.acceptedLate(at(3*time.Second + lateWithin - time.Millisecond)) {
		t.Error("a client accepted just after a 2 s stall is not late")
	}
	if p.acceptedLate(at(3*time.Second + lateWithin)) {
		t.Error("a client accepted lateWithin after a 2 s stall's end is late")
	}
	if a := p.Upstream().Accept; a.Failed != 11 || a.Stalls != 7 {
		t.Errorf("the totals: %d failed in %d stalls, want 11 in 7", a.Failed, a.Stalls)
	}
}

// A dial of the upstream that fails because attach itself is out of file
// descriptors says nothing of the upstream: the client is held and the
// dial tried again, and once it goes through the client is served, its
// session one live session, no upstream failure counted. Before, the
// client was closed at once and its session ended "cannot connect to
// upstream …: too many open files", counted as the upstream's "other"
// failure, and a CHURN of such sessions blamed the upstream (CI, where
// attach's descriptors ran out at the dial rather than at the accept).
func TestProxyHoldsClientOutOfDescriptors(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	up := startUpstream(t, "", echo)
	var got notices
	reg := live.New(live.Config{})
	p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg, OnError: got.add})
	var (
		dials atomic.Int32
		d     net.Dialer
	)
	const failing = 4
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) <= failing {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("socket", syscall.EMFILE)}
		}
		return d.DialContext(ctx, network, addr)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); p.Wait() })

	c := dialProxy(t, p)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello" {
		t.Fatalf("echo = %q, %v; want hello, the client served once a descriptor was free", b, err)
	}
	if n := dials.Load(); n != failing+1 {
		t.Errorf("%d dials, want %d: %d failed, then one went through", n, failing+1, failing)
	}
	u := p.Upstream()
	if u.Dials != 1 || u.Failed != 0 {
		t.Errorf("upstream: %d dials, %d failed; want 1, 0: attach's own want of descriptors is no failure of the upstream", u.Dials, u.Failed)
	}
	if a := u.Accept; a.Failed != failing || a.Held != 1 || a.Stalls != 1 || a.Stalled <= 0 || a.Last != "too many open files" {
		t.Errorf("accept stall %+v: want %d failed, 1 held, in 1 stall, its time counted, the last \"too many open files\"", a, failing)
	}
	msgs := got.all()
	want := fmt.Sprintf("attach: cannot connect to upstream %s for the connection from %s: too many open files", up.addr(), c.LocalAddr())
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) || !strings.Contains(msgs[0], "the client is held meanwhile") {
		t.Errorf("notices %q: want one, %q… the client is held meanwhile…", msgs, want)
	}
	ss := endedSession(t, reg)
	if ss.Reason != live.EOF || strings.Contains(ss.Err, "upstream") {
		t.Errorf("the session ended %v (%q), want EOF: its peers closed it", ss.Reason, ss.Err)
	}
}

// While the accept loop backs off a failed accept, a held client's dial
// that goes through ends no stall: accepts still fail. Once no accept
// fails, it does.
func TestHeldDialEndsStallOnlyIfAcceptsGoThrough(t *testing.T) {
	p := &Proxy{}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	p.acceptFailed(syscall.EMFILE, at(0), failedDial)
	p.acceptFailed(syscall.EMFILE, at(5*time.Millisecond), failedAccept)
	if took, _, _ := p.acceptResumed(at(10*time.Millisecond), false); took != 0 {
		t.Errorf("a held dial went through while accepts fail: the stall ended after %s", took)
	}
	if took, failed, _ := p.acceptResumed(at(20*time.Millisecond), true); took != 20*time.Millisecond || failed != 2 {
		t.Errorf("the accept went through: took %s, %d failed; want 20ms, 2", took, failed)
	}
	p.acceptFailed(syscall.EMFILE, at(time.Second), failedDial)
	p.acceptFailed(syscall.EMFILE, at(time.Second+5*time.Millisecond), failedDialAgain)
	if took, failed, _ := p.acceptResumed(at(time.Second+15*time.Millisecond), false); took != 15*time.Millisecond || failed != 2 {
		t.Errorf("the held dial went through, no accept failing: took %s, %d failed; want 15ms, 2", took, failed)
	}
	if a := p.Upstream().Accept; a.Held != 2 || a.Failed != 4 || a.Stalls != 2 {
		t.Errorf("the totals %+v: want 2 held, 4 failed, 2 stalls", a)
	}
}
