package tap

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestProxyNoMuxBothEnds: attach in front of a real net/http server (and
// a TLS one), its client a real net/http client: nothing on the
// connection speaks a mux. Before, each direction was a critical PROTOCOL
// finding blaming the other end ("it is talking HTTP to the smux port:
// it has the wrong address", "the other end dialled the wrong port —
// fix the server's address"). It is one finding, a warning, saying both
// ends speak HTTP and that attach's upstream is what is wrong.
func TestProxyNoMuxBothEnds(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	for _, tc := range []struct {
		name  string
		tls   bool
		proto Protocol
		mux   string
		text  string
	}{
		{"http", false, Detect, "smux", "the client sent an HTTP request, not smux (BAD_VERSION at offset 0), and the server sent an HTTP response: both ends speak HTTP, and the connection carries no smux"},
		{"http-told-yamux", false, Yamux, "yamux", "the client sent an HTTP request, not yamux (BAD_VERSION at offset 0), and the server sent an HTTP response: both ends speak HTTP, and the connection carries no yamux"},
		{"tls", true, Detect, "smux", "the client sent TLS, not smux (BAD_VERSION at offset 0), and the server sent TLS: both ends speak TLS, and the connection carries no smux in the clear: one inside the TLS is encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(handler)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			up := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up, Registry: reg, Protocol: tc.proto})
			client := srv.Client()
			defer client.CloseIdleConnections()
			scheme := "http"
			if tc.tls {
				scheme = "https"
			}
			resp, err := client.Get(fmt.Sprintf("%s://%s/", scheme, p.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "hello" {
				t.Fatalf("through the proxy: %q, %v: the two ends do not work", body, err)
			}
			smuxtest.Eventually(t, "both directions to break the framing", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) == 2
			})
			fs := protocolFindings(reg)
			if len(fs) != 1 || fs[live.ClientToServer] == nil {
				t.Fatalf("PROTOCOL findings: %v, want one, the client's", fs)
			}
			f := fs[live.ClientToServer]
			if f.Severity != live.Warning {
				t.Errorf("severity %v: no mux is at fault, and nothing stops", f.Severity)
			}
			if !strings.HasPrefix(f.Text, tc.text) {
				t.Errorf("text %q, want it to start %q", f.Text, tc.text)
			}
			proto := map[bool]string{false: "HTTP", true: "TLS"}[tc.tls]
			want := fmt.Sprintf("nothing is wrong with the two ends, and there is no %s here to watch: muxtop attach's upstream, %s, speaks %s, not %s; give attach the %s server's address",
				tc.mux, up, proto, tc.mux, tc.mux)
			if tc.tls { // a mux inside TLS: attach cannot decode it, a tap of the *tls.Conn can
				want = fmt.Sprintf("nothing is wrong with the two ends: attach cannot decode a mux inside TLS; if the smux session runs inside the TLS, only the program sees its frames: tap the conn under the mux, the *tls.Conn (tap.Wrap, or tap.WrapListener(tls.NewListener(ln, cfg), …)), and watch it with muxtop read of the program's pcapout.Live URL (README: Watch it live); if not, attach's upstream, %s, speaks TLS and no smux: give attach the smux server's address", up)
			}
			if f.Advice != want {
				t.Errorf("advice %q, want %q", f.Advice, want)
			}
		})
	}
}
