package tap

import (
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// freezable is a client's conn whose writes wait while it is frozen, as a
// process under SIGSTOP sends nothing: its smux's keepalive NOPs wait in
// its sendLoop's write, and go out when it thaws.
type freezable struct {
	net.Conn
	mu   sync.Mutex
	gate chan struct{} // closed while not frozen
}

func newFreezable(c net.Conn) *freezable {
	f := &freezable{Conn: c, gate: make(chan struct{})}
	close(f.gate)
	return f
}

func (c *freezable) freeze() { c.mu.Lock(); c.gate = make(chan struct{}); c.mu.Unlock() }
func (c *freezable) thaw()   { c.mu.Lock(); close(c.gate); c.mu.Unlock() }

func (c *freezable) Write(p []byte) (int, error) {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	<-gate
	return c.Conn.Write(p)
}

// A client that goes silent behind attach's proxy, whose smux server's
// keepalive closes the session, and which resumes later and sends what it
// had queued: the session's end cites KEEPALIVE with the silence that the
// server's keepalive acted on, up to the server's close, not the gap
// between the client's resumed frames and the end (the audit's "sent
// nothing for 180 µs" after a 90 s freeze).
func TestKeepaliveEndNoteNamesTheSilence(t *testing.T) {
	const timeout = 400 * time.Millisecond
	scfg := smux.DefaultConfig()
	scfg.Version = 1
	scfg.KeepAliveInterval = 50 * time.Millisecond
	scfg.KeepAliveTimeout = timeout
	up := startUpstream(t, "", func(c net.Conn) {
		sess, err := smux.Server(c, scfg)
		if err != nil {
			return
		}
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			go func() { buf := make([]byte, 64); n, _ := st.Read(buf); st.Write(buf[:n]) }()
		}
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	fc := newFreezable(dialProxy(t, p))
	ccfg := smux.DefaultConfig()
	ccfg.Version = 1
	ccfg.KeepAliveInterval = 50 * time.Millisecond
	ccfg.KeepAliveTimeout = time.Minute // the client does not give up on the server
	cli, err := smux.Client(fc, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hi"))
	st.Read(make([]byte, 2))
	time.Sleep(200 * time.Millisecond) // NOPs both ways: the cadence is known

	fc.freeze()
	cfg := live.FindingsConfig{Churn: -1, SilentAfter: 150 * time.Millisecond}
	var since time.Time
	smuxtest.Eventually(t, "KEEPALIVE on the frozen client and the server's close", func() bool {
		reg.Evaluate(time.Now(), cfg)
		snap := reg.Snapshot()
		for _, f := range snap.Findings {
			if f.Code == live.CodeKeepalive && f.Dir == live.ClientToServer && f.Resolved.IsZero() {
				since = f.Since
			}
		}
		return !since.IsZero() && len(snap.Sessions) == 1 && !snap.Sessions[0].DirEnded[live.ServerToClient].IsZero()
	})
	closed := reg.Snapshot().Sessions[0].DirEnded[live.ServerToClient]
	time.Sleep(300 * time.Millisecond) // frozen on after the server's close
	fc.thaw()                          // its queued NOPs go out, then a new stream
	if st2, err := cli.OpenStream(); err == nil {
		st2.Write([]byte("again"))
	}
	time.Sleep(50 * time.Millisecond)
	cli.Close()

	ss := endedSession(t, reg)
	var detail string
	for _, r := range recordsOf(reg, ss.ID) {
		if r.Kind == live.SessionEnded {
			detail = r.Detail
		}
	}
	t.Logf("end: %v, %s", ss.Reason, detail)
	m := regexp.MustCompile(`after the client sent nothing for (\d+) (µs|ms|s) \(KEEPALIVE\), up to when the server closed its side`).FindStringSubmatch(detail)
	if m == nil {
		t.Fatalf("end %v, detail %q: want the client's silence up to the server's close (KEEPALIVE)", ss.Reason, detail)
	}
	n, _ := strconv.Atoi(m[1])
	got := time.Duration(n) * map[string]time.Duration{"µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
	if want := closed.Sub(since); got < timeout || got > want || want-got > time.Millisecond {
		t.Errorf("detail %q: silence %v, want %v (from the client's last frame to the server's close), at least smux's KeepAliveTimeout %v", detail, got, want.Truncate(time.Millisecond), timeout)
	}
}

// recordsOf returns session id's records.
func recordsOf(reg *live.Registry, id uint64) []live.Record {
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Session == id }}, nil)
	return recs
}
