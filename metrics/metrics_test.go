package metrics_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// scrape gathers c alone and returns every sample as name{labels} → value,
// labels sorted.
func scrape(t testing.TB, c prometheus.Collector) map[string]float64 {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(c)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				out[key+"_count"] = float64(h.GetSampleCount())
				out[key+"_sum"] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[fmt.Sprintf("%s_bucket{le=%g}", key, b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// gatherer returns metrics.Gatherer's registry of reg.
func gatherer(t testing.TB, reg *live.Registry, o metrics.Options) *prometheus.Registry {
	t.Helper()
	g, err := metrics.Gatherer(reg, o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sum adds up the samples of name whose labels include every one of want.
func sum(m map[string]float64, name string, want ...string) float64 {
	var n float64
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(labels, w)
		}
		if ok {
			n += v
		}
	}
	return n
}

// serveEcho answers every stream of srv with its first read, doubled, then
// closes it.
func serveEcho(srv *smux.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() { // ends with the stream
			defer st.Close()
			buf := make([]byte, 64)
			n, err := st.Read(buf)
			if err != nil {
				return
			}
			st.Write(append(buf[:n:n], buf[:n]...))
		}()
	}
}

// request opens a stream, sends req, reads the answer to EOF and closes.
func request(t *testing.T, cli *smux.Session, req string) {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(st)
	if err != nil || string(got) != req+req {
		t.Fatalf("answer %q, %v; want %q", got, err, req+req)
	}
}

// TestScrapeAgainstRawBytes drives real smux sessions through the tap and
// checks the scraped counters against the bytes a conn below the tap
// counted and the requests made, and against the summary muxtop prints.
func TestScrapeAgainstRawBytes(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			reg := live.New(live.Config{})
			var raw *smuxtest.CountingConn
			cli, srv := smuxtest.Pair(t, smuxtest.Config(version), func(c net.Conn) net.Conn {
				raw = &smuxtest.CountingConn{Conn: c}
				return tap.Wrap(raw, live.Client, reg, "test")
			}, nil)
			go serveEcho(srv)
			const requests = 40
			for i := range requests {
				request(t, cli, fmt.Sprintf("req%d", i))
			}
			col := metrics.NewCollector(reg, metrics.Options{})
			var m map[string]float64
			smuxtest.Eventually(t, "every stream closed both ways and every byte counted", func() bool {
				m = scrape(t, col)
				return m["muxtop_streams_closed_total"] == requests &&
					sum(m, "muxtop_frame_bytes_total", "direction=s2c") == float64(raw.In.Load())
			})
			if got, want := sum(m, "muxtop_frame_bytes_total", "direction=c2s"), float64(raw.Out.Load()); got != want {
				t.Errorf("c2s frame bytes %v, the conn below the tap wrote %v", got, want)
			}
			for _, c := range []struct {
				key  string
				want float64
			}{
				{"muxtop_frames_total{command=SYN,direction=c2s,protocol=smux}", requests},
				{"muxtop_frames_total{command=SYN,direction=s2c,protocol=smux}", 0},
				{"muxtop_streams_opened_total", requests},
				{"muxtop_streams_open", 0},
				{"muxtop_sessions_opened_total", 1},
				{"muxtop_sessions_live", 1},
				{"muxtop_first_reply_latency_seconds_count", requests},
				{"muxtop_first_reply_latency_seconds_bucket{le=34.359738368}", requests},
				{"muxtop_streams_leak_suspected", 0},
				{"muxtop_history_dropped_records_total", 0},
			} {
				if m[c.key] != c.want {
					t.Errorf("%s = %v, want %v", c.key, m[c.key], c.want)
				}
			}
			if got := sum(m, "muxtop_violations_total") + sum(m, "muxtop_anomalies_total"); got != 0 {
				t.Errorf("a healthy session scraped %v violations and anomalies", got)
			}
			// The summary muxtop prints counts the same.
			s := headless.Summarize(reg.Snapshot(), 0)
			for d, dl := range []string{"c2s", "s2c"} {
				for cmd := range s.Counts.Frames[d] {
					key := fmt.Sprintf("muxtop_frames_total{command=%s,direction=%s,protocol=smux}", cmdName(cmd), dl)
					if got, want := m[key], float64(s.Counts.Frames[d][cmd]); got != want {
						t.Errorf("%s = %v, the summary says %v", key, got, want)
					}
				}
			}
			if got := m["muxtop_streams_closed_total"]; got != float64(s.StreamsClosed) {
				t.Errorf("streams closed %v, the summary says %d", got, s.StreamsClosed)
			}
			if m["muxtop_first_reply_latency_seconds_sum"] <= 0 {
				t.Error("latency sum is not positive")
			}
			cli.Close()
			srv.Close()
			smuxtest.Eventually(t, "the session ended", func() bool {
				m = scrape(t, col)
				return m["muxtop_sessions_live"] == 0
			})
			if got := sum(m, "muxtop_sessions_ended_total"); got != 1 {
				t.Errorf("sessions ended %v, want 1", got)
			}
		})
	}
}

func cmdName(i int) string { return [...]string{"SYN", "FIN", "PSH", "NOP", "UPD"}[i] }

// TestLeakFoundAndHealthyNot: a server that never closes its streams
// shows as suspected leaks, an oldest open stream as old as they are and
// an open LEAK finding (Diagnose keeps findings up to date); the same
// traffic with the streams closed shows none of it.
func TestLeakFoundAndHealthyNot(t *testing.T) {
	const leakAfter = 100 * time.Millisecond
	for _, leak := range []bool{true, false} {
		t.Run(fmt.Sprintf("leak=%v", leak), func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			reg := live.New(live.Config{})
			cli, srv := smuxtest.Pair(t, nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
			stop := metrics.Diagnose(reg, live.FindingsConfig{LeakAfter: leakAfter})
			defer stop()
			go func() { // ends with srv
				for {
					st, err := srv.AcceptStream()
					if err != nil {
						return
					}
					go func() { // ends with the stream, or srv
						buf := make([]byte, 16)
						n, _ := st.Read(buf)
						st.Write(buf[:n])
						if !leak {
							st.Close()
						}
					}()
				}
			}()
			const streams = 3
			for range streams {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("ping"))
				io.ReadFull(st, make([]byte, 4))
				st.Close()
			}
			col := metrics.NewCollector(reg, metrics.Options{Sessions: 1})
			time.Sleep(3 * leakAfter)
			var m map[string]float64
			if leak {
				// The finding may open at an evaluation between two streams'
				// crossing the threshold, and count the third at the next.
				smuxtest.Eventually(t, "a LEAK finding of every stream", func() bool {
					m = scrape(t, col)
					return m["muxtop_findings_open{code=LEAK,severity=warning}"] == 1 && m["muxtop_streams_leak_suspected"] == streams
				})
				if m["muxtop_streams_leak_suspected"] != streams || m["muxtop_streams_open"] != streams {
					t.Errorf("leak suspected %v, open %v, want %d", m["muxtop_streams_leak_suspected"], m["muxtop_streams_open"], streams)
				}
				if age := m["muxtop_oldest_open_stream_age_seconds"]; age < leakAfter.Seconds() {
					t.Errorf("oldest open stream %v s old, want at least %v", age, leakAfter.Seconds())
				}
				// The session's own series say the same of its one session.
				if sum(m, "muxtop_session_streams_leak_suspected") != streams || sum(m, "muxtop_session_streams_open") != streams ||
					sum(m, "muxtop_session_oldest_open_stream_age_seconds") < leakAfter.Seconds() ||
					sum(m, "muxtop_session_frames_total") != sum(m, "muxtop_frames_total") {
					t.Errorf("the session's series: leaks %v, open %v, oldest %v s, frames %v (of %v in all); want %d, %d, at least %v, all",
						sum(m, "muxtop_session_streams_leak_suspected"), sum(m, "muxtop_session_streams_open"),
						sum(m, "muxtop_session_oldest_open_stream_age_seconds"), sum(m, "muxtop_session_frames_total"), sum(m, "muxtop_frames_total"),
						streams, streams, leakAfter.Seconds())
				}
				if m["muxtop_findings_opened_total{code=LEAK,severity=warning}"] != 1 {
					t.Errorf("LEAK opened %v times, want 1", m["muxtop_findings_opened_total{code=LEAK,severity=warning}"])
				}
				return
			}
			smuxtest.Eventually(t, "every stream closed", func() bool {
				m = scrape(t, col)
				return m["muxtop_streams_closed_total"] == streams
			})
			time.Sleep(3 * metrics.EvaluateEvery)
			m = scrape(t, col)
			if sum(m, "muxtop_findings_open") != 0 || sum(m, "muxtop_findings_opened_total") != 0 ||
				m["muxtop_streams_leak_suspected"] != 0 || m["muxtop_oldest_open_stream_age_seconds"] != 0 ||
				sum(m, "muxtop_session_streams_leak_suspected") != 0 || sum(m, "muxtop_session_oldest_open_stream_age_seconds") != 0 {
				t.Errorf("a healthy run shows findings %v (opened %v), leaks %v, oldest %v",
					sum(m, "muxtop_findings_open"), sum(m, "muxtop_findings_opened_total"),
					m["muxtop_streams_leak_suspected"], m["muxtop_oldest_open_stream_age_seconds"])
			}
		})
	}
}

// TestStalledFoundAndHealthyNot: a real smux v2 stream whose reader does
// not read holds its writer at the full window, and muxtop_streams_stalled
// counts it, in the session's own gauges too; with a reader that reads,
// the same writes leave it at 0.
func TestStalledFoundAndHealthyNot(t *testing.T) {
	const stallAfter = 50 * time.Millisecond
	for _, stall := range []bool{true, false} {
		t.Run(fmt.Sprintf("stall=%v", stall), func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
			accepted := make(chan *smux.Stream, 1)
			go func() { // ends with srv
				st, err := srv.AcceptStream()
				if err != nil {
					return
				}
				accepted <- st
				if !stall {
					io.Copy(io.Discard, st)
				}
			}()
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			wrote := make(chan error, 1)
			go func() { // ends when the writes go through, or the session closes
				// Past the window smux v2 assumes until its peer's first UPD.
				_, err := st.Write(make([]byte, 2*live.InitialPeerWindow))
				wrote <- err
			}()
			<-accepted
			col := metrics.NewCollector(reg, metrics.Options{StallAfter: stallAfter, Sessions: 1})
			var m map[string]float64
			if stall {
				smuxtest.Eventually(t, "a stalled stream", func() bool {
					m = scrape(t, col)
					return m["muxtop_streams_stalled"] == 1
				})
				if m["muxtop_streams_open"] != 1 || sum(m, "muxtop_session_streams_open") != 1 {
					t.Errorf("streams open %v, in the session %v; want 1", m["muxtop_streams_open"], sum(m, "muxtop_session_streams_open"))
				}
				select {
				case err := <-wrote:
					t.Fatalf("the write returned (%v) with no reader", err)
				default:
				}
				return
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * stallAfter)
			if m = scrape(t, col); m["muxtop_streams_stalled"] != 0 || sum(m, "muxtop_session_streams_open") != 1 {
				t.Errorf("a reading reader: stalled %v, open in the session %v; want 0, 1", m["muxtop_streams_stalled"], sum(m, "muxtop_session_streams_open"))
			}
		})
	}
}

// TestViolationByCode: an HTTP request sent where smux is expected is
// not a mux (its sender speaks none): muxtop_not_mux_total counts it by
// guess, muxtop_violations_total does not, as the summary counts it in
// not_mux and not in violations. The same bytes after an smux frame are
// a BAD_VERSION violation. Either way its bytes count as unparsed.
func TestViolationByCode(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	nop := string([]byte{1, byte(decoder.NOP), 0, 0, 0, 0, 0, 0}) // a v1 NOP: 8 bytes of smux first
	for _, tt := range []struct {
		name, before      string
		violation, notMux float64
	}{
		{"at offset 0", "", 0, 1},
		{"after a frame", nop, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			c := tap.Wrap(cc, live.Client, reg, "test")
			b := tt.before + req
			if _, err := c.Write([]byte(b)); err != nil {
				t.Fatal(err)
			}
			io.ReadFull(sc, make([]byte, len(b)))
			m := scrape(t, metrics.NewCollector(reg, metrics.Options{}))
			if got := m["muxtop_violations_total{code=BAD_VERSION,protocol=smux}"]; got != tt.violation || sum(m, "muxtop_violations_total") != tt.violation {
				t.Errorf("violations %v (BAD_VERSION %v), want %v BAD_VERSION", sum(m, "muxtop_violations_total"), got, tt.violation)
			}
			if got := m["muxtop_not_mux_total{guess=http-request}"]; got != tt.notMux || sum(m, "muxtop_not_mux_total") != tt.notMux {
				t.Errorf("not a mux %v (http-request %v), want %v http-request", sum(m, "muxtop_not_mux_total"), got, tt.notMux)
			}
			if got := m["muxtop_unparsed_bytes_total{direction=c2s}"]; got != float64(len(req)) {
				t.Errorf("unparsed c2s %v, want %d", got, len(req))
			}
		})
	}
}

// TestSessionSeries: per-session series only when asked, for the oldest
// live sessions, at most MaxSessions of them, and no stream ever labels one.
func TestSessionSeries(t *testing.T) {
	reg := live.New(live.Config{})
	now := time.Now()
	var ids []uint64
	for i := range metrics.MaxSessions + 20 {
		s := reg.Open(live.SessionInfo{Client: fmt.Sprintf("127.0.0.1:%d", 1000+i), Server: "127.0.0.1:9000", Label: "test"}, now)
		if i == 0 {
			s.End(now, live.EOF, nil) // ended: never selected
			continue
		}
		ids = append(ids, s.ID())
	}
	tests := []struct {
		name string
		ask  int
		want []uint64
	}{
		{"none by default", 0, nil},
		{"the oldest live", 3, ids[:3]},
		{"capped", 1_000, ids[:metrics.MaxSessions]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := scrape(t, metrics.NewCollector(reg, metrics.Options{Sessions: tt.ask}))
			var got []uint64
			for k := range m {
				if name, labels, ok := strings.Cut(k, "{"); ok && name == "muxtop_session_info" {
					var id uint64
					fmt.Sscanf(labels[strings.Index(labels, "session=")+len("session="):], "%d", &id)
					got = append(got, id)
				}
				if strings.Contains(k, "stream=") || strings.Contains(k, "sid=") {
					t.Errorf("a per-stream label: %s", k)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("sessions with series %v, want %v", got, tt.want)
			}
			// The map has no +Inf buckets: the exposition has a line more
			// for each of the two histograms.
			if n := len(m) + 2 - globalSamples; n != len(tt.want)*perSession {
				t.Errorf("%d per-session samples, want %d × %d", n, len(tt.want), perSession)
			}
		})
	}
}

// The README's cardinality: lines of samples in the exposition without
// per-session series, and per selected session.
const (
	globalSamples = 200
	perSession    = 8
)

// TestLint: the exposition passes client_golang's linter, which is what
// `promtool check metrics` runs.
func TestLint(t *testing.T) {
	reg := live.New(live.Config{})
	reg.Open(live.SessionInfo{Client: "a", Server: "b"}, time.Now())
	problems, err := testutil.GatherAndLint(gatherer(t, reg, metrics.Options{Sessions: 1}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestServer: /metrics answers in the exposition format, other paths are
// 404, a port in use is one line, and Close leaves no goroutine behind.
func TestServer(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	reg := live.New(live.Config{})
	srv, err := metrics.Serve("127.0.0.1:0", metrics.Handler(gatherer(t, reg, metrics.Options{})))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "\nmuxtop_sessions_live 0\n") ||
		!strings.Contains(string(body), "\ngo_goroutines ") {
		t.Errorf("GET %s: %s\n%.500s", srv.URL(), resp.Status, body)
	}
	// Overlapping scrapes all get an answer.
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() { // ends with its request
			resp, err := client.Get(srv.URL())
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("an overlapping scrape: %v", err)
		}
	}
	resp, err = client.Get("http://" + srv.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %s, want 404", resp.Status)
	}

	_, err = metrics.Serve(srv.Addr().String(), http.NotFoundHandler())
	if err == nil || !strings.HasPrefix(err.Error(), "metrics: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a port in use: %v, want one line starting metrics:", err)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a port in use: %v is not EADDRINUSE", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if _, err := client.Get(srv.URL()); err == nil {
		t.Error("the server still answers after Close")
	}
}

// feeder feeds frames of a smux session to live as a tap's decoders
// would, at times a test chooses.
type feeder struct {
	s   *live.Session
	ver uint8
	off [2]int64
}

func (f *feeder) feed(at time.Time, dir live.Dir, cmd decoder.Cmd, sid uint32, payload []byte) {
	fr := &decoder.Frame{Offset: f.off[dir], Header: decoder.MakeHeader(f.ver, cmd, uint16(len(payload)), sid), Payload: payload}
	if cmd == decoder.UPD {
		fr.Consumed, fr.Window = binary.LittleEndian.Uint32(payload), binary.LittleEndian.Uint32(payload[4:])
	}
	f.s.Record(dir, at, fr)
	f.off[dir] += fr.Size()
}

func updPayload(consumed, window uint32) []byte {
	b := make([]byte, decoder.UPDSize)
	binary.LittleEndian.PutUint32(b, consumed)
	binary.LittleEndian.PutUint32(b[4:], window)
	return b
}

// TestLeakGaugeIsTheFinding: the leak gauges count what the LEAK finding
// counts. A stream whose writer a full window holds (WINDOW_STALL names
// it) is no leak, beside an idle stream left open that is; once the
// window opens and the stream stays idle --leak-after since (its UPD is
// a frame), both are. Before, the gauges counted every stream open past
// the threshold, the stalled one too.
func TestLeakGaugeIsTheFinding(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	now := t0
	reg := live.New(live.Config{Clock: func() time.Time { return now }})
	cfg := live.FindingsConfig{StallAfter: 2 * time.Second, LeakAfter: 30 * time.Second, Churn: -1}
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	f := &feeder{s: reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0), ver: 2}
	c2s, s2c := live.ClientToServer, live.ServerToClient
	// Stream 3: the client grants a window of 1000 bytes, the server
	// fills it and the client reads no more. Stream 5: answered, left open.
	// Before them, stream 2, opened by the server and closed: they are no
	// setup streams, which LEAK does not count.
	f.feed(sec(0), s2c, decoder.SYN, 2, nil)
	f.feed(sec(0), s2c, decoder.FIN, 2, nil)
	f.feed(sec(0), c2s, decoder.FIN, 2, nil)
	f.feed(sec(0), c2s, decoder.SYN, 3, nil)
	f.feed(sec(0), c2s, decoder.PSH, 3, []byte("BULK"))
	f.feed(sec(0), c2s, decoder.UPD, 3, updPayload(0, 1000))
	f.feed(sec(0), s2c, decoder.PSH, 3, make([]byte, 1000))
	f.feed(sec(1), c2s, decoder.SYN, 5, nil)
	f.feed(sec(1), c2s, decoder.PSH, 5, []byte("IDLE"))
	f.feed(sec(1), s2c, decoder.PSH, 5, []byte("ok"))
	evaluate := func(at float64) {
		f.feed(sec(at-0.05), c2s, decoder.NOP, 0, nil)
		f.feed(sec(at-0.05), s2c, decoder.NOP, 0, nil)
		now = sec(at)
		reg.Evaluate(now, cfg)
	}
	for _, at := range []float64{2.1, 10, 30.5, 31.5} {
		evaluate(at)
	}
	col := metrics.NewCollector(reg, metrics.Options{StallAfter: cfg.StallAfter, Sessions: 1})
	check := func(want float64) {
		t.Helper()
		var counted uint64
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeLeak {
				counted += f.Evidence.Count
			}
		}
		m := scrape(t, col)
		if got, sess := m["muxtop_streams_leak_suspected"], sum(m, "muxtop_session_streams_leak_suspected"); got != want || sess != want || counted != uint64(want) {
			t.Errorf("leak gauges %v, of the session %v; LEAK counts %d; want %v", got, sess, counted, want)
		}
	}
	check(1)
	if m := scrape(t, col); m["muxtop_streams_stalled"] != 1 {
		t.Errorf("stalled %v, want 1", m["muxtop_streams_stalled"])
	}
	f.feed(sec(40), c2s, decoder.UPD, 3, updPayload(1000, 1000))
	evaluate(40.1)
	check(1) // the UPD is a frame on stream 3: in use, it counts once idle --leak-after
	for _, at := range []float64{50, 60, 70.1} {
		evaluate(at)
	}
	check(2)
}

// TestFindingsOpenAtTheEnd: at a run's end, muxtop_findings_open counts
// the findings muxtop's stop resolved while they still held, as the
// summary's findings_open does; one that stopped holding is not counted.
func TestFindingsOpenAtTheEnd(t *testing.T) {
	reg := live.New(live.Config{})
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for range 2 { // two sessions an HTTP client broke: a PROTOCOL finding each
		cc, sc := smuxtest.Conns(t)
		c := tap.Wrap(cc, live.Client, reg, "test")
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		io.ReadFull(sc, make([]byte, len(req)))
	}
	now := time.Now()
	reg.Evaluate(now, live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if len(snap.Findings) != 2 {
		t.Fatalf("%d findings open, want 2 PROTOCOL", len(snap.Findings))
	}
	reg.Session(snap.Findings[0].Session).End(now.Add(time.Millisecond), live.EOF, nil)        // on its own
	reg.Session(snap.Findings[1].Session).End(now.Add(3*time.Millisecond), live.Shutdown, nil) // muxtop's stop
	reg.ResolveEnded(now.Add(4*time.Millisecond), now.Add(2*time.Millisecond))
	m := scrape(t, metrics.NewCollector(reg, metrics.Options{}))
	if got := m["muxtop_findings_open{code=PROTOCOL,severity=critical}"]; got != 1 {
		t.Errorf("muxtop_findings_open PROTOCOL %v at the end, want 1: the one muxtop stopped watching", got)
	}
}
