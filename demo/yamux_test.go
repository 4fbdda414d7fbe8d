package demo

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
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
