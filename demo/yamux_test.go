package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestYamuxServiceAndGateway runs the service and the gateway over yamux:
// every number the gateway returns is one the service sent, and an
// unmodified yamux client gets its RAND answered and the stream closed.
func TestYamuxServiceAndGateway(t *testing.T) {
	rec := newRecorder()
	addr := startService(t, ServiceConfig{Protocol: Yamux, Rand: rec.next})
	g, err := NewGateway(context.Background(), GatewayConfig{Upstream: addr, Pool: 2, Protocol: Yamux})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var got []uint64
	for range 6 {
		n, err := g.Rand(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if sent := rec.all(); !slices.Equal(got, sent) {
		t.Errorf("the gateway returned %v, the service sent %v", got, sent)
	}

	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(st, Command); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(st) // to EOF: the service closes after answering
	if err != nil || len(answer) != 8 {
		t.Fatalf("answer %d bytes, %v; want 8 and EOF", len(answer), err)
	}
}

func TestParseProtocol(t *testing.T) {
	for _, p := range []Protocol{Smux, Yamux} {
		if got, err := ParseProtocol(p.String()); err != nil || got != p {
			t.Errorf("ParseProtocol(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := ParseProtocol("http"); err == nil {
		t.Error("ParseProtocol(http) succeeded")
	}
	if _, err := Start(context.Background(), Config{Protocol: Yamux, Fault: "hol"}); err == nil {
		t.Error("a yamux demo started with a fault yamux has no meaning for")
	}
}

// yamuxClient dials a yamux client session to the service at addr.
func yamuxClient(t *testing.T, addr string) *yamux.Session {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// ackConn notes the stream ids of the yamux ACKs read through it: what a
// yamux service answered with AcceptStream.
type ackConn struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	acks map[uint32]bool
}

func (c *ackConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p[:n]...)
	for len(c.buf) >= 12 {
		typ, flags := c.buf[1], binary.BigEndian.Uint16(c.buf[2:])
		sid, length := binary.BigEndian.Uint32(c.buf[4:]), binary.BigEndian.Uint32(c.buf[8:])
		size := 12
		if typ == 0 { // DATA carries its length in payload
			size += int(length)
		}
		if len(c.buf) < size {
			break
		}
		if typ <= 1 && flags&2 != 0 {
			c.acks[sid] = true
		}
		c.buf = c.buf[size:]
	}
	return n, err
}

func (c *ackConn) acked(sid uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acks[sid]
}

// TestYamuxServiceFaultCommands: the commands the faults use over yamux.
// HOLD stops the accepting before yamux's AcceptStream sends another
// ACK; GOAW sends GoAway, after which the client can open no stream while
// the session goes on.
func TestYamuxServiceFaultCommands(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	addr := startService(t, ServiceConfig{Protocol: Yamux})

	t.Run("HOLD answers, then no stream is ACKed", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ac := &ackConn{Conn: conn, acks: map[uint32]bool{}}
		cfg := yamux.DefaultConfig()
		cfg.LogOutput = io.Discard
		sess, err := yamux.Client(ac, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		st, _ := sess.OpenStream()
		io.WriteString(st, CommandHold)
		st.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(st, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
		next, _ := sess.OpenStream()
		io.WriteString(next, Command)
		time.Sleep(300 * time.Millisecond)
		if !ac.acked(st.StreamID()) || ac.acked(next.StreamID()) {
			t.Errorf("ACKs: HOLD's stream %v, the next %v; want the first only", ac.acked(st.StreamID()), ac.acked(next.StreamID()))
		}
	})
	t.Run("GOAW sends GoAway; the session goes on", func(t *testing.T) {
		sess := yamuxClient(t, addr)
		st, _ := sess.OpenStream()
		io.WriteString(st, CommandGoAway)
		st.SetReadDeadline(time.Now().Add(2 * time.Second))
		if b, err := io.ReadAll(st); err != nil || len(b) != 0 {
			t.Fatalf("read %d bytes, %v: want EOF", len(b), err)
		}
		if _, err := sess.OpenStream(); !errors.Is(err, yamux.ErrRemoteGoAway) {
			t.Errorf("OpenStream after GOAW: %v, want %v", err, yamux.ErrRemoteGoAway)
		}
		if _, err := sess.Ping(); err != nil || sess.IsClosed() {
			t.Errorf("the session ended after GoAway: ping %v", err)
		}
	})
}

// TestYamuxGatewaySmuxSlot: the fault "mismatch" over yamux. The slot
// speaks smux to the yamux service, which ends each of its sessions at
// the first frame; the other slot answers every request it gets.
func TestYamuxGatewaySmuxSlot(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	var svcLogs logBuffer
	addr := startService(t, ServiceConfig{Protocol: Yamux, Logger: newLogger(&svcLogs)})
	var mu sync.Mutex
	wire := map[byte]int{} // sessions by their first byte: 0 yamux, 1 smux v1
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &versionConn{Conn: c, note: func(v byte) { mu.Lock(); wire[v]++; mu.Unlock() }}, nil
	}
	gw, _ := startGateway(t, GatewayConfig{Upstream: addr, Protocol: Yamux, Pool: 2, Mismatched: 1, Dial: dial,
		RedialMax: time.Second})
	ok, failed := 0, 0
	for stop := time.Now().Add(2 * time.Second); time.Now().Before(stop); {
		if _, err := gw.Rand(context.Background()); err == nil {
			ok++
		} else {
			failed++
			if strings.Contains(err.Error(), "session 2 of 2") {
				t.Errorf("the yamux slot failed: %v", err)
			}
		}
	}
	if ok < 10 || ok-failed > 1 || failed-ok > 1 {
		t.Errorf("%d requests answered and %d failed, want half each", ok, failed)
	}
	svcLogs.waitLog(t, "the client does not speak yamux")
	mu.Lock()
	defer mu.Unlock()
	if wire[0] != 1 || wire[1] < 1 || wire[1] > 8 {
		t.Errorf("sessions by first byte: %v; want one yamux (0), and a handful of smux v1 (1) redialled with backoff", wire)
	}
}
