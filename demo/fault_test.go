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
		if seen[f.Name] || f.Does == "" || f.Shows == "" || (f.Side != "server" && f.Side != "client") {
			t.Errorf("fault %+v: duplicate, undescribed or on no side", f)
		}
		seen[f.Name] = true
		if g, ok := LookupFault(f.Name); !ok || g.Name != f.Name {
			t.Errorf("LookupFault(%q) = %+v, %v", f.Name, g, ok)
		}
	}
	for _, name := range []string{"leak", "stall", "hol", "mismatch", "keepalive", "backlog", "after-close", "protocol", "churn"} {
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
	for _, f := range Faults {
		if f.Side != "client" || f.Name == "mismatch" { // mismatch lives in the gateway: TestGatewayMismatchedSlot
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
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
			d, err := Start(context.Background(), Config{Fault: f.Name, Version: max(f.Version, 1), Pool: 1, Rate: -1,
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
		})
	}
}
