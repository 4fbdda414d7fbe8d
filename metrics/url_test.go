package metrics_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/metrics"
)

// TestServerURLEveryInterface: a server on every interface has a URL on
// loopback, one this machine can fetch, not its Addr's [::] (the audit's
// "metrics at http://[::]:19141/metrics" for --metrics 0.0.0.0:19141); one
// on a given host keeps it.
func TestServerURLEveryInterface(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"0.0.0.0:0", "http://127.0.0.1:"},
		{":0", "http://127.0.0.1:"},
		{"[::ffff:0.0.0.0]:0", "http://127.0.0.1:"},
		{"[::]:0", "http://[::1]:"},
		{"127.0.0.1:0", "http://127.0.0.1:"},
		{"[::1]:0", "http://[::1]:"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if strings.Contains(tc.want, "::1") {
				ln, err := net.Listen("tcp", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				ln.Close()
			}
			srv, err := metrics.Serve(tc.addr, http.NotFoundHandler())
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Addr().String())
			if want := tc.want + port + metrics.Path; srv.URL() != want {
				t.Fatalf("Serve(%q): Addr %v, URL %q, want %q", tc.addr, srv.Addr(), srv.URL(), want)
			}
			resp, err := http.Get(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
		})
	}
}
