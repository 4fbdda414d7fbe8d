package metrics_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// recordingConn keeps every byte that passes each way, below the tap: the
// independent count the scraped counters are checked against.
type recordingConn struct {
	net.Conn
	mu            sync.Mutex
	read, written bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.written.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// wire returns what the tapped client wrote (c2s) and read (s2c).
func (c *recordingConn) wire() [2][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return [2][]byte{bytes.Clone(c.written.Bytes()), bytes.Clone(c.read.Bytes())}
}

// walk is a frame walk of raw bytes with nothing but encoding/binary:
// frames and wire bytes by command, as muxtop's label names it.
type walk struct{ frames, bytes map[string]float64 }

var yamuxTypeNames = [...]string{"DATA", "WINDOW_UPDATE", "PING", "GO_AWAY"}

// walkYamux walks yamux frames: 12-byte headers, big-endian; only DATA's
// length is a payload.
func walkYamux(b []byte) walk {
	w := walk{map[string]float64{}, map[string]float64{}}
	for len(b) >= 12 {
		size := 12
		if b[1] == 0 {
			size += int(binary.BigEndian.Uint32(b[8:]))
		}
		w.frames[yamuxTypeNames[b[1]]]++
		w.bytes[yamuxTypeNames[b[1]]] += float64(size)
		b = b[size:]
	}
	return w
}

// walkSmux walks smux frames: 8-byte headers, length little-endian.
func walkSmux(b []byte) walk {
	w := walk{map[string]float64{}, map[string]float64{}}
	for len(b) >= 8 {
		size := 8 + int(binary.LittleEndian.Uint16(b[2:]))
		w.frames[cmdName(int(b[1]))]++
		w.bytes[cmdName(int(b[1]))] += float64(size)
		b = b[size:]
	}
	return w
}

func yamuxConfig() *hyamux.Config {
	c := hyamux.DefaultConfig()
	c.EnableKeepAlive = false // the test's pings are the only ones
	c.LogOutput = io.Discard
	return c
}

// yamuxPair returns a real yamux client and server over loopback TCP, the
// client's conn tapped (protocol detected from the first byte) above a
// recordingConn. Both sessions close when the test ends.
func yamuxPair(t *testing.T, reg *live.Registry) (cli, srv *hyamux.Session, raw *recordingConn) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	raw = &recordingConn{Conn: cc}
	cli, err := hyamux.Client(tap.Wrap(raw, live.Client, reg, "yamux"), yamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv, err = hyamux.Server(sc, yamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv, raw
}

// serveYamuxEcho answers every stream of srv with what it read to EOF,
// doubled, then closes it.
func serveYamuxEcho(srv *hyamux.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() { // ends with the stream
			defer st.Close()
			b, err := io.ReadAll(st)
			if err != nil {
				return
			}
			st.Write(append(b, b...))
		}()
	}
}

// yamuxRequest opens a stream, sends req and FIN, and reads the answer to EOF.
func yamuxRequest(t *testing.T, cli *hyamux.Session, req []byte) {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(req); err != nil {
		t.Fatal(err)
	}
	st.Close() // yamux's Close is a half-close: the answer still comes
	got, err := io.ReadAll(st)
	if err != nil || !bytes.Equal(got, append(bytes.Clone(req), req...)) {
		t.Fatalf("answer of %d bytes, %v; want %d", len(got), err, 2*len(req))
	}
}

// yamuxTraffic makes requests small and large (beyond a 256 KiB window,
// so WINDOW_UPDATEs flow) and pings over cli.
func yamuxTraffic(t *testing.T, cli *hyamux.Session, requests, pings int) {
	t.Helper()
	for i := range requests {
		yamuxRequest(t, cli, []byte(fmt.Sprintf("req%d", i)))
	}
	yamuxRequest(t, cli, bytes.Repeat([]byte("0123456789"), 40_000))
	for range pings {
		if _, err := cli.Ping(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkWire compares the scraped frames and bytes of protocol proto with a
// walk of each direction's raw bytes, for every command of the protocol.
func checkWire(t *testing.T, m map[string]float64, proto string, cmds []string, wire [2]walk) {
	t.Helper()
	for d, dl := range []string{"c2s", "s2c"} {
		for _, cmd := range cmds {
			labels := fmt.Sprintf("{command=%s,direction=%s,protocol=%s}", cmd, dl, proto)
			if got, want := m["muxtop_frames_total"+labels], wire[d].frames[cmd]; got != want {
				t.Errorf("frames%s = %v, the wire has %v", labels, got, want)
			}
			if got, want := m["muxtop_frame_bytes_total"+labels], wire[d].bytes[cmd]; got != want {
				t.Errorf("frame_bytes%s = %v, the wire has %v", labels, got, want)
			}
		}
	}
}

// seriesOf counts the samples of metric name in m.
func seriesOf(m map[string]float64, name string) int {
	n := 0
	for k := range m {
		if base, _, _ := strings.Cut(k, "{"); base == name {
			n++
		}
	}
	return n
}

var smuxCmds = []string{"SYN", "FIN", "PSH", "NOP", "UPD"}

// TestScrapeYamuxAgainstRawBytes drives real yamux sessions (and, mixed,
// a real smux session beside them in the same registry) through the tap,
// and checks the scraped frames and bytes of each protocol, by command
// and direction, against a walk of the bytes the tapped end wrote and
// read; and that one registry of both protocols exports each session's
// counts under its own protocol, in a fixed set of series.
func TestScrapeYamuxAgainstRawBytes(t *testing.T) {
	for _, mixed := range []bool{false, true} {
		name := "yamux only"
		if mixed {
			name = "smux and yamux"
		}
		t.Run(name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			reg := live.New(live.Config{})
			cli, srv, yraw := yamuxPair(t, reg)
			go serveYamuxEcho(srv)
			const requests, pings = 30, 3
			yamuxTraffic(t, cli, requests, pings)
			streams := float64(requests + 1)

			var sraw *smuxtest.CountingConn
			var srec *recordingConn
			if mixed {
				scli, ssrv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn {
					sraw = &smuxtest.CountingConn{Conn: c}
					srec = &recordingConn{Conn: sraw}
					return tap.Wrap(srec, live.Client, reg, "smux")
				}, nil)
				go serveEcho(ssrv)
				for i := range requests {
					request(t, scli, fmt.Sprintf("req%d", i))
				}
				streams += requests
			}

			col := metrics.NewCollector(reg, metrics.Options{})
			var m map[string]float64
			smuxtest.Eventually(t, "every stream closed both ways and every byte counted", func() bool {
				m = scrape(t, col)
				w := yraw.wire()
				done := m["muxtop_streams_closed_total"] == streams &&
					sum(m, "muxtop_frame_bytes_total", "direction=s2c", "protocol=yamux") == float64(len(w[1]))
				if mixed {
					done = done && sum(m, "muxtop_frame_bytes_total", "direction=s2c", "protocol=smux") == float64(sraw.In.Load())
				}
				return done
			})
			w := yraw.wire()
			ywire := [2]walk{walkYamux(w[0]), walkYamux(w[1])}
			checkWire(t, m, "yamux", yamuxTypeNames[:], ywire)
			for d, dl := range []string{"c2s", "s2c"} {
				if got, want := sum(m, "muxtop_frame_bytes_total", "direction="+dl, "protocol=yamux"), float64(len(w[d])); got != want {
					t.Errorf("yamux %s bytes %v, the tapped end's conn passed %v", dl, got, want)
				}
			}
			// The traffic had every kind of frame but GoAway: no zero
			// passes for equality by accident.
			for _, typ := range yamuxTypeNames[:3] {
				if ywire[0].frames[typ] == 0 || ywire[1].frames[typ] == 0 {
					t.Errorf("the run has no %s frame each way: %v %v", typ, ywire[0].frames, ywire[1].frames)
				}
			}
			if mixed {
				sw := srec.wire()
				checkWire(t, m, "smux", smuxCmds, [2]walk{walkSmux(sw[0]), walkSmux(sw[1])})
				if got, want := sum(m, "muxtop_frame_bytes_total", "direction=c2s", "protocol=smux"), float64(sraw.Out.Load()); got != want {
					t.Errorf("smux c2s bytes %v, the conn below the tap wrote %v", got, want)
				}
			} else if got := sum(m, "muxtop_frames_total", "protocol=smux"); got != 0 {
				t.Errorf("a yamux-only registry exports %v smux frames", got)
			}
			// A fixed series set, whatever the mix: 5 smux commands and 4
			// yamux types, each way.
			for _, name := range []string{"muxtop_frames_total", "muxtop_frame_bytes_total"} {
				if n := seriesOf(m, name); n != 2*(5+4) {
					t.Errorf("%s: %d series, want %d", name, n, 2*(5+4))
				}
			}
			if got := m["muxtop_yamux_ping_rtt_seconds_count"]; got != pings {
				t.Errorf("ping round trips %v, want %d", got, pings)
			}
			if m["muxtop_yamux_ping_rtt_seconds_sum"] <= 0 || m["muxtop_yamux_ping_rtt_seconds_bucket{le=34.359738368}"] != pings {
				t.Errorf("ping round trips: sum %v, below 34 s %v", m["muxtop_yamux_ping_rtt_seconds_sum"], m["muxtop_yamux_ping_rtt_seconds_bucket{le=34.359738368}"])
			}
			if got := sum(m, "muxtop_yamux_goaways_total"); got != 0 {
				t.Errorf("%v GoAways in a run that sent none", got)
			}
			if got := sum(m, "muxtop_violations_total") + sum(m, "muxtop_anomalies_total"); got != 0 {
				t.Errorf("healthy sessions scraped %v violations and anomalies", got)
			}
			for _, k := range []string{"muxtop_streams_opened_total", "muxtop_first_reply_latency_seconds_count"} {
				if m[k] != streams {
					t.Errorf("%s = %v, want %v", k, m[k], streams)
				}
			}
			cli.Close()
			srv.Close()
		})
	}
}

// TestYamuxGoAway: a GoAway a real yamux server sends shows in the
// counter by sender and code, and opens the GO_AWAY finding; the same
// sessions without it show neither.
func TestYamuxGoAway(t *testing.T) {
	for _, goAway := range []bool{true, false} {
		t.Run(fmt.Sprintf("goaway=%v", goAway), func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			reg := live.New(live.Config{})
			stop := metrics.Diagnose(reg, live.FindingsConfig{})
			defer stop()
			cli, srv, _ := yamuxPair(t, reg)
			go serveYamuxEcho(srv)
			yamuxRequest(t, cli, []byte("hello"))
			if goAway {
				if err := srv.GoAway(); err != nil {
					t.Fatal(err)
				}
			}
			col := metrics.NewCollector(reg, metrics.Options{})
			var m map[string]float64
			if goAway {
				smuxtest.Eventually(t, "the GoAway counted and its finding open", func() bool {
					m = scrape(t, col)
					return m["muxtop_yamux_goaways_total{code=normal,sender=server}"] == 1 &&
						m["muxtop_findings_open{code=GO_AWAY,severity=warning}"] == 1
				})
				if _, err := cli.OpenStream(); err == nil {
					t.Error("the client opened a stream after the server's GoAway")
				}
			} else {
				time.Sleep(5 * metrics.EvaluateEvery)
				m = scrape(t, col)
			}
			want := 0.0
			if goAway {
				want = 1
			}
			if got := sum(m, "muxtop_yamux_goaways_total"); got != want {
				t.Errorf("%v GoAways, want %v", got, want)
			}
			if got := m["muxtop_frames_total{command=GO_AWAY,direction=s2c,protocol=yamux}"]; got != want {
				t.Errorf("%v GO_AWAY frames s2c, want %v", got, want)
			}
			if got := m["muxtop_findings_opened_total{code=GO_AWAY,severity=warning}"]; got != want {
				t.Errorf("GO_AWAY opened %v times, want %v", got, want)
			}
			if n := seriesOf(m, "muxtop_yamux_goaways_total"); n != 2*live.NumGoAwayCodes {
				t.Errorf("%d GoAway series, want %d", n, 2*live.NumGoAwayCodes)
			}
		})
	}
}

// TestYamuxGoAwayProtocolError: a GoAway with an error code counts by
// sender and code, and a real yamux client that receives it ends its
// session. The GoAway comes from a raw server: real yamux sends one on a
// protocol error only as it closes the connection, racing the close. So
// the peer that overruns its window (WINDOW_EXCEEDED here too) sees one
// in some runs and none in others; the test counts what it read.
func TestYamuxGoAwayProtocolError(t *testing.T) {
	reg := live.New(live.Config{})

	// A window overrun: the anomaly, under yamux.
	cc, sc := smuxtest.Conns(t)
	srv, err := hyamux.Server(sc, yamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := tap.Wrap(cc, live.Client, reg, "overrun")
	const size = 300_000                                                // above yamux's 256 KiB window
	b := append(yamuxHeader(1, 1, 1, 0), yamuxHeader(0, 0, 1, size)...) // WINDOW_UPDATE SYN, DATA
	b = append(b, make([]byte, size)...)
	// The server ends the session at the overrun's header, and the tap
	// writes more than 128 KiB a chunk at a time: the rest of b may meet
	// the server's reset, which is the overrun's answer, not a failure.
	if _, err := c.Write(b); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(c) // to the server's close
	c.Close()
	raced := protocolGoAways(t, answer)

	// A GoAway (protocol error) to a real client, which ends its session.
	cc, sc = smuxtest.Conns(t)
	cli, err := hyamux.Client(tap.Wrap(cc, live.Client, reg, "told off"), yamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.OpenStream(); err != nil { // its WINDOW_UPDATE SYN goes out at once
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sc, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write(yamuxHeader(3, 0, 0, 1)); err != nil { // GO_AWAY, protocol error
		t.Fatal(err)
	}
	select {
	case <-cli.CloseChan():
	case <-time.After(10 * time.Second):
		t.Fatal("the yamux client goes on after a GoAway with a protocol error")
	}

	col := metrics.NewCollector(reg, metrics.Options{})
	var m map[string]float64
	smuxtest.Eventually(t, "the GoAway counted", func() bool {
		m = scrape(t, col)
		return m["muxtop_yamux_goaways_total{code=protocol_error,sender=server}"] == float64(1+raced)
	})
	if got := sum(m, "muxtop_yamux_goaways_total"); got != float64(1+raced) {
		t.Errorf("%v GoAways, want %d", got, 1+raced)
	}
	if got := m["muxtop_anomalies_total{code=WINDOW_EXCEEDED,protocol=yamux}"]; got != 1 {
		t.Errorf("WINDOW_EXCEEDED %v, want 1", got)
	}
}

// protocolGoAways counts the GoAways with the protocol-error code in
// raw yamux bytes, walking the 12-byte headers by hand (DATA frames carry
// their length in payload; the other types do not), so the expected count
// does not come from the decoder under test.
func protocolGoAways(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) >= 12 {
		typ, length := b[1], binary.BigEndian.Uint32(b[8:12])
		b = b[12:]
		switch typ {
		case 0:
			if uint32(len(b)) < length {
				t.Fatalf("the server's bytes end inside a DATA frame")
			}
			b = b[length:]
		case 3:
			if length == 1 {
				n++
			}
		}
	}
	if len(b) != 0 {
		t.Fatalf("the server's bytes end inside a header: % x", b)
	}
	return n
}

// yamuxHeader returns a yamux frame header: version 0, then type, flags,
// stream id and length, big-endian.
func yamuxHeader(typ uint8, flags uint16, sid, length uint32) []byte {
	h := []byte{0, typ, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], sid)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

// TestYamuxViolationsAndAnomaliesByCode: a yamux session's framing
// violation and anomaly count under protocol yamux and its own codes, not
// smux's of the same name, and they stay counted when the registry
// forgets the ended sessions one by one.
func TestYamuxViolationsAndAnomaliesByCode(t *testing.T) {
	reg := live.New(live.Config{EndedSessions: 1})
	const sessions = 3
	for range sessions {
		cc, sc := smuxtest.Conns(t)
		c := tap.Wrap(cc, live.Client, reg, "faulty")
		// DATA for stream 5, never opened (UNKNOWN_STREAM), then a frame
		// of type 7 (UNKNOWN_TYPE: yamux ends the session).
		b := append(yamuxHeader(0, 0, 5, 0), yamuxHeader(7, 0, 0, 0)...)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		io.ReadFull(sc, make([]byte, len(b)))
		c.Close()
	}
	col := metrics.NewCollector(reg, metrics.Options{})
	var m map[string]float64
	smuxtest.Eventually(t, "every session ended", func() bool {
		m = scrape(t, col)
		return m["muxtop_sessions_live"] == 0
	})
	for key, want := range map[string]float64{
		"muxtop_violations_total{code=UNKNOWN_TYPE,protocol=yamux}":      sessions,
		"muxtop_anomalies_total{code=UNKNOWN_STREAM,protocol=yamux}":     sessions,
		"muxtop_anomalies_total{code=UNKNOWN_STREAM,protocol=smux}":      0,
		"muxtop_frames_total{command=DATA,direction=c2s,protocol=yamux}": sessions,
	} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
	if got := sum(m, "muxtop_violations_total"); got != sessions {
		t.Errorf("%v violations, want %d", got, sessions)
	}
	if got := sum(m, "muxtop_anomalies_total"); got != sessions {
		t.Errorf("%v anomalies, want %d", got, sessions)
	}
	if n, want := seriesOf(m, "muxtop_violations_total"), 8+3; n != want {
		t.Errorf("%d violation series, want %d", n, want)
	}
	if n, want := seriesOf(m, "muxtop_anomalies_total"), 8+7; n != want {
		t.Errorf("%d anomaly series, want %d", n, want)
	}
}

// TestMixedScrapePassesPromtool pipes a scrape of one registry holding
// smux and yamux sessions, per-session series included, into `promtool
// check metrics`, after client_golang's own consistency checks.
func TestMixedScrapePassesPromtool(t *testing.T) {
	reg := live.New(live.Config{})
	cli, srv, _ := yamuxPair(t, reg)
	go serveYamuxEcho(srv)
	yamuxTraffic(t, cli, 3, 1)
	srv.GoAway()
	scli, ssrv := smuxtest.Pair(t, nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "smux") }, nil)
	go serveEcho(ssrv)
	request(t, scli, "hello")

	g := gatherer(t, reg, metrics.Options{Sessions: 2})
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	rec := httptest.NewRecorder()
	metrics.Handler(g).ServeHTTP(rec, httptest.NewRequest("GET", metrics.Path, nil))
	body := rec.Body.Bytes()
	for _, want := range []string{`protocol="yamux"`, `protocol="smux"`, `muxtop_session_info{client=`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Fatalf("the scrape lacks %s:\n%.3000s", want, body)
		}
	}
	cmd := exec.Command(needPromtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestTwoRegistriesOneProcess: a process exporting two registries tells
// them apart with a constant label of its own; without one the second
// collector is refused, not exported twice.
func TestTwoRegistriesOneProcess(t *testing.T) {
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(metrics.NewCollector(live.New(live.Config{}), metrics.Options{ConstLabels: prometheus.Labels{"capture": "a"}}))
	if err := pr.Register(metrics.NewCollector(live.New(live.Config{}), metrics.Options{ConstLabels: prometheus.Labels{"capture": "b"}})); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(pr, "muxtop_sessions_live")
	if err != nil || n != 2 {
		t.Errorf("muxtop_sessions_live: %d series, %v; want 2", n, err)
	}
	if err := pr.Register(metrics.NewCollector(live.New(live.Config{}), metrics.Options{ConstLabels: prometheus.Labels{"capture": "a"}})); err == nil {
		t.Error("a second collector with the same labels was registered")
	}
}

// TestConstLabelClash: a constant label named as one of the series' own
// labels (or le, the buckets') is an error that names it and the reserved
// names, from Register and Gatherer alike, not a panic nor a series with
// the label twice; whether or not the per-session series that use it are
// asked for. ReservedLabels are every label name the series have.
func TestConstLabelClash(t *testing.T) {
	reserved := metrics.ReservedLabels()
	list := strings.Join(reserved, ", ")
	for _, name := range reserved {
		for _, sessions := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/sessions=%d", name, sessions), func(t *testing.T) {
				o := metrics.Options{Sessions: sessions, ConstLabels: prometheus.Labels{name: "x", "capture": "a"}}
				c := metrics.NewCollector(live.New(live.Config{}), o)
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("Register panicked: %v", p)
						}
					}()
					err = prometheus.NewPedanticRegistry().Register(c)
				}()
				if err == nil || !strings.Contains(err.Error(), strconv.Quote(name)) || !strings.Contains(err.Error(), list) {
					t.Errorf("Register: %v; want an error naming %q and the reserved names", err, name)
				}
				if c.Err() == nil {
					t.Error("Err: nil")
				}
				if g, err := metrics.Gatherer(live.New(live.Config{}), o); g != nil || err == nil || !strings.Contains(err.Error(), strconv.Quote(name)) {
					t.Errorf("Gatherer: %v, %v; want the error", g, err)
				}
			})
		}
	}
	// The list is the series' label names: each one, none more.
	reg := live.New(live.Config{})
	reg.Open(live.SessionInfo{Client: "127.0.0.1:1", Server: "127.0.0.1:2"}, time.Now())
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(metrics.NewCollector(reg, metrics.Options{Sessions: 1, Upstream: func() live.Upstream { return live.Upstream{Addr: "127.0.0.1:2"} }}))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"le": true} // a bucket's, not a label pair's
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				seen[l.GetName()] = true
			}
		}
	}
	got := slices.Sorted(maps.Keys(seen))
	if !slices.Equal(got, reserved) {
		t.Errorf("the series' label names %v, ReservedLabels %v", got, reserved)
	}
}
