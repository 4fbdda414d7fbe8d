package demo

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

func TestFaultCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Faults {
		if seen[f.Name] || (f.Side != "server" && f.Side != "client") {
			t.Errorf("fault %+v: duplicate or on no side", f)
		}
		// Over each protocol, a fault says what it does and shows, or
		// why it has no meaning there; over one at least it has one.
		meant := 0
		for _, p := range []Protocol{Smux, Yamux} {
			does, shows, whyNot := f.For(p)
			if (does == "" || shows == "") == (whyNot == "") {
				t.Errorf("fault %s over %s: does %q shows %q, no meaning %q: want both or a reason", f.Name, p, does, shows, whyNot)
			}
			if whyNot == "" {
				meant++
			}
		}
		if meant == 0 {
			t.Errorf("fault %s means nothing over either protocol", f.Name)
		}
		seen[f.Name] = true
		if g, ok := LookupFault(f.Name); !ok || g.Name != f.Name {
			t.Errorf("LookupFault(%q) = %+v, %v", f.Name, g, ok)
		}
	}
	for _, name := range []string{"leak", "stall", "hol", "blocked", "mismatch", "keepalive", "backlog", "after-close", "protocol", "churn", "session-leak", "goaway", "closewait"} {
		if !seen[name] {
			t.Errorf("no fault %q", name)
		}
	}
	if _, ok := LookupFault("list"); ok {
		t.Error(`"list" is a fault`)
	}
}

func TestFaultRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(context.Context, Config) (*Demo, error)
		cfg   Config
		want  string
	}{
		{"unknown", Start, Config{Fault: "bogus"}, `no fault "bogus"`},
		{"server fault in the client", StartClient, Config{Fault: "leak", ServiceAddr: "127.0.0.1:1"}, "fault leak lives in the service"},
		{"client fault in the server", StartServer, Config{Fault: "churn"}, "fault churn lives on the client's side"},
		{"wrong version", Start, Config{Fault: "stall", Version: 1}, "fault stall needs smux version 2"},
		{"wrong default version", Start, Config{Fault: "stall"}, "fault stall needs smux version 2"},
		{"hol over yamux", Start, Config{Fault: "hol", Protocol: Yamux}, "fault hol has no meaning over yamux: yamux has no session-wide receive buffer"},
		{"after-close over yamux", Start, Config{Fault: "after-close", Protocol: Yamux}, "fault after-close has no meaning over yamux: yamux's Close is a half-close"},
		{"goaway over smux", Start, Config{Fault: "goaway"}, "fault goaway has no meaning over smux: smux has no GoAway"},
		{"blocked over smux", Start, Config{Fault: "blocked"}, "fault blocked has no meaning over smux"},
		{"closewait over yamux", Start, Config{Fault: "closewait", Protocol: Yamux}, "fault closewait has no meaning over yamux: yamux closes its session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.start(context.Background(), tc.cfg)
			if err == nil {
				d.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestFaultsRun starts every client-side fault beside the gateway, sees
// its sessions dialled through FaultDial, and stops it with nothing left
// running. What muxtop makes of each is the end-to-end tests' business.
func TestFaultsRun(t *testing.T) {
	for _, p := range []Protocol{Smux, Yamux} {
		for _, f := range Faults {
			if _, _, whyNot := f.For(p); whyNot != "" || f.Side != "client" || f.Name == "mismatch" { // mismatch lives in the gateway: TestGatewayMismatchedSlot
				continue
			}
			t.Run(p.String()+"/"+f.Name, func(t *testing.T) { runFault(t, p, f) })
		}
	}
}

// runFault runs fault f over protocol p for a moment.
func runFault(t *testing.T, p Protocol, f Fault) {
	smuxtest.NoGoroutinesLeft(t)
	var mu sync.Mutex
	dialled := 0
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled++
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	d, err := Start(context.Background(), Config{Protocol: p, Fault: f.Name, Version: max(f.Version, 1), Pool: 1, Rate: -1,
		KeepAlive: 100 * time.Millisecond, FaultDial: dial})
	if err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the fault's first dial", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dialled > 0
	})
	time.Sleep(300 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
