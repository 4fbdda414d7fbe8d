package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// A service exports muxtop's metrics of its own smux sessions (yamux's
// alike: wrap the conn given to yamux.Client): it wraps the conn it gives
// to smux with the tap and registers the collector on
// its own Prometheus registry and HTTP mux.
func Example() {
	// Once, at start-up: the capture state, its collector on the
	// program's registry, and the findings kept up to date.
	reg := live.New(live.Config{History: 10_000, Snaplen: -1}) // a small history, no payload bytes
	promReg := prometheus.NewRegistry()                        // or prometheus.DefaultRegisterer
	promReg.MustRegister(metrics.NewCollector(reg, metrics.Options{}))
	stopDiagnosis := metrics.Diagnose(reg, live.FindingsConfig{})
	defer stopDiagnosis()
	mux := http.NewServeMux() // the program's own
	mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))

	// For each connection: wrap it before smux gets it. A server wraps
	// its listener instead: tap.WrapListener(ln, reg, "backend").
	conn, peer := net.Pipe() // a net.Dial in a real program
	session, _ := smux.Client(tap.Wrap(conn, live.Client, reg, "backend"), nil)
	defer session.Close()
	go echoServer(peer)

	st, _ := session.OpenStream()
	st.Write([]byte("ping"))
	io.ReadFull(st, make([]byte, 4))
	st.Close()

	// What Prometheus reads.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "muxtop_streams_opened_total") ||
			strings.HasPrefix(line, `muxtop_frames_total{command="PSH"`) ||
			strings.HasPrefix(line, "muxtop_sessions_live") {
			fmt.Println(line)
		}
	}
	// Output:
	// muxtop_frames_total{command="PSH",direction="c2s",protocol="smux"} 1
	// muxtop_frames_total{command="PSH",direction="s2c",protocol="smux"} 1
	// muxtop_sessions_live 1
	// muxtop_streams_opened_total 1
}

// echoServer answers each stream with what it read.
func echoServer(c net.Conn) {
	srv, err := smux.Server(c, nil)
	if err != nil {
		return
	}
	defer srv.Close()
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go io.Copy(st, st)
	}
}
