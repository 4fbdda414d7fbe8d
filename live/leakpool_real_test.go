package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// poolListener is a net.Listener of a session's accepted streams: an
// http.Server serves them as it would TCP connections. accepted counts
// them.
type poolListener struct {
	s        smuxtest.Session
	addr     net.Addr
	accepted atomic.Int32
}

func (l *poolListener) Accept() (net.Conn, error) {
	st, err := l.s.AcceptStream()
	if err == nil {
		l.accepted.Add(1)
	}
	return st, err
}
func (l *poolListener) Close() error   { return l.s.Close() } // http.Server.Close waits for Accept to return
func (l *poolListener) Addr() net.Addr { return l.addr }

// httpOverPair serves HTTP over m's server session's streams, as a
// gateway's backend would, each request answered after wait, and
// returns the listener and an http.Client whose Transport dials a stream
// of m's client session for each connection, its idle pool kept for
// idle, at most MaxIdleConnsPerHost (2, net/http's default) per host.
func httpOverPair(t *testing.T, m livecaptest.Pair, wait, idle time.Duration, h2 bool) (*poolListener, *http.Client) {
	t.Helper()
	l := &poolListener{s: m.Srv, addr: m.Tapped.RemoteAddr()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(wait)
		io.WriteString(w, "hello over a mux stream\n")
	})}
	if h2 { // HTTP/2 in the clear, with prior knowledge (h2c): the client's preface first
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return m.Cli.OpenStream()
		},
		IdleConnTimeout: idle,
	}
	if h2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return l, &http.Client{Transport: tr}
}

// leakPoolOldAdvice is the LEAK advice of streams open with no FIN from
// either side, as it was before the HTTP pool's words, and as it stays
// for a leak of any other protocol.
func leakPoolOldAdvice(name string) string {
	if name == "yamux" {
		return "if they are not meant to live this long, a side forgot Close(): yamux keeps every stream, and its receive buffer, until both sides have sent FIN or one sent RST"
	}
	return "if they are not meant to live this long, a side forgot Close(): smux keeps every stream, and its buffers, until both sides have sent FIN"
}

// leakPoolWords is what the advice adds where the oldest stream, sid, and
// each of the others it names (n in all) are HTTP/1.1 keep-alive
// exchanges (h2 false) or HTTP/2 connections in the clear (h2 true) the
// client opened.
func leakPoolWords(sid uint32, n uint64, h2 bool) string {
	others := ""
	if n > 1 {
		others = fmt.Sprintf(", as are the %d others it names", min(n, live.MaxStreamIDs)-1)
	}
	if h2 {
		return fmt.Sprintf("; stream %d is an HTTP/2 connection in the clear (the client's preface, the server's SETTINGS)%s: an HTTP/2 client keeps one per host and Transport for all its requests, idle until IdleConnTimeout (never if it is 0): a count that grows is a Transport (or gRPC ClientConn) made per request, or more than 250 responses unfinished at once (the streams net/http's server allows a connection); a connection that stays may also be calls in flight (a watch, a stuck RPC), which no idle timeout closes and a goroutine dump shows", sid, others)
	}
	return fmt.Sprintf("; stream %d is an HTTP/1.1 exchange (the client's request, the server's response)%s: a connection idle in a client's pool (a Go client's net/http defaults: 2 per host and Transport, closed after IdleConnTimeout, 90 s in http.DefaultTransport, never if 0), a response Body never closed, or a response not finished (a handler blocked after its headers, an event stream: a goroutine dump of the server shows it); a count that stays within the pool's and resolves at IdleConnTimeout may be the pool (raise --leak-after above it), one that grows is Bodies never closed, responses not finished or a Transport made per request", sid, others)
}

// waitLeak evaluates reg until its LEAK has stood settle with the same
// count, counted from an evaluation at which every live stream had
// carried no frame for leakWordsCfg's LeakAfter (each a leak or about to
// be called one), or 15 s pass, and returns it. A count that merely stood
// settle was read, on a loaded machine whose requests came more than
// settle apart, before the newest stream's last frame was LeakAfter old:
// "LEAK of 4 streams, want 5", the fifth 986 ms idle.
func waitLeak(t *testing.T, reg *live.Registry, settle time.Duration) *live.Finding {
	t.Helper()
	var leak *live.Finding
	var since time.Time
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		now := time.Now()
		reg.Evaluate(now, leakWordsCfg)
		ls := leaksOf(reg)
		if len(ls) != 1 || !streamsIdle(reg, now, leakWordsCfg.LeakAfter) {
			leak = nil
			continue
		}
		if leak == nil || leak.Evidence.Count != ls[0].Evidence.Count {
			leak, since = ls[0], now
		}
		leak = ls[0]
		if time.Since(since) >= settle {
			return leak
		}
	}
	t.Fatalf("no LEAK that stood %v, its streams idle %v, within 15 s; records:%s", settle, leakWordsCfg.LeakAfter, describeRecords(findingRecords(reg)))
	return nil
}

// streamsIdle reports whether every live stream of reg's sessions had
// carried no frame for idle at now, as the registry saw them.
func streamsIdle(reg *live.Registry, now time.Time, idle time.Duration) bool {
	for _, ss := range reg.Snapshot().Sessions {
		for _, st := range ss.Streams {
			if st.State.Live() && now.Sub(st.Last) < idle {
				return false
			}
		}
	}
	return true
}

// TestLeakHTTPPoolReal: real smux v1, v2 and hashicorp/yamux sessions,
// keepalive on, the client's conn tapped, an http.Server served over the
// server session's accepted streams and an http.Client whose Transport
// dials a stream of the client session per connection, as a gateway over
// a session does. --leak-after is 1 s, the Transport's IdleConnTimeout
// longer. (a) pool: 4 requests at once take 4 streams; as they end, the
// Transport keeps 2 idle (MaxIdleConnsPerHost) and closes the others: a
// LEAK of at most 2 streams whose advice, after the leak's own words,
// names the pool (each stream's first bytes an HTTP request and an
// HTTP/1.1 response), which resolves as IdleConnTimeout (3 s here) closes
// them. (b) bodies never closed: 5 requests one after the other, none of
// their Bodies closed, each takes a new stream: a LEAK of 5, past the
// pool's 2, in the same words (the count tells the two apart). (c) a
// leak of another protocol, answered and never closed, keeps the leak's
// own advice exactly. Before, (a)'s advice was (c)'s. And HTTP/2 in the
// clear (h2c, the Transport's and Server's Protocols): the 4 requests at
// once dial 4 streams and the pool keeps one, a LEAK of 1 whose advice
// names the HTTP/2 pool, resolved at IdleConnTimeout; 5 Bodies never
// closed take no stream of their own: their requests are HTTP/2 streams
// inside the one connection, a LEAK of 1 in the same words.
func TestLeakHTTPPoolReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		for _, c := range []string{"pool", "bodies-never-closed", "not-http", "h2-pool", "h2-bodies-never-closed"} {
			t.Run(name+"/"+c, func(t *testing.T) {
				t.Parallel()
				reg := live.New(live.Config{})
				m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute})
				leakWarm(t, m, reg) // before the server takes the accepts: its streams are no setup streams
				if c == "not-http" {
					leakAsk(t, m, "REQ 1\n", "ANS 1\n") // neither side closes
					leak := waitLeak(t, reg, 500*time.Millisecond)
					t.Logf("%s — %s", leak.Text, leak.Advice)
					if want := leakPoolOldAdvice(name); leak.Advice != want {
						t.Errorf("advice %q\nwant %q", leak.Advice, want)
					}
					if got := leakJSONPool(t, reg); got != "" {
						t.Errorf("JSON pool %q, want none", got)
					}
					return
				}
				h2 := strings.HasPrefix(c, "h2-")
				pool := strings.HasSuffix(c, "pool")
				idle := 3 * time.Second
				if !pool {
					idle = time.Minute
				}
				l, client := httpOverPair(t, m, 200*time.Millisecond, idle, h2)
				get := func() *http.Response {
					resp, err := client.Get("http://backend.example/hello")
					if err != nil {
						t.Error(err)
						return nil
					}
					if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
						t.Errorf("a response of %s", resp.Proto)
					}
					return resp
				}
				want := 2
				if pool {
					var wg sync.WaitGroup
					for range 4 {
						wg.Go(func() {
							if resp := get(); resp != nil {
								io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
							}
						})
					}
					wg.Wait()
				} else {
					want = 5
					for range want {
						if resp := get(); resp != nil {
							defer resp.Body.Close() // at the test's end: never, while it watches
						}
					}
				}
				if t.Failed() {
					return
				}
				leak := waitLeak(t, reg, 500*time.Millisecond)
				t.Logf("%d streams accepted; %s — %s", l.accepted.Load(), leak.Text, leak.Advice)
				switch {
				case h2: // one connection kept, its requests streams inside it (the 4 at once dial 4: the pool keeps one)
					if leak.Evidence.Count != 1 || !pool && l.accepted.Load() != 1 {
						t.Errorf("HTTP/2: LEAK of %d streams of %d accepted, want 1 (of 1, the Bodies never closed)", leak.Evidence.Count, l.accepted.Load())
					}
				case pool:
					if leak.Evidence.Count < 1 || leak.Evidence.Count > 2 || l.accepted.Load() < 3 {
						t.Errorf("pool: LEAK of %d streams (want 1 or 2, at most MaxIdleConnsPerHost) of %d accepted (want 3 or more)", leak.Evidence.Count, l.accepted.Load())
					}
				case leak.Evidence.Count != uint64(want):
					t.Errorf("bodies never closed: LEAK of %d streams, want %d", leak.Evidence.Count, want)
				}
				if wantAdvice := leakPoolOldAdvice(name) + leakPoolWords(leak.Stream, leak.Evidence.Count, h2); leak.Advice != wantAdvice {
					t.Errorf("advice %q\nwant %q", leak.Advice, wantAdvice)
				}
				if got, want := leakJSONPool(t, reg), map[bool]string{false: "http1", true: "h2c"}[h2]; got != want {
					t.Errorf("JSON pool %q, want %q", got, want)
				}
				if strings.Contains(leak.Text, "HTTP") {
					t.Errorf("text %q: the pool's words are the advice's", leak.Text)
				}
				if !pool {
					return
				}
				// The pool closes them at IdleConnTimeout: the LEAK resolves.
				for end := time.Now().Add(idle + 5*time.Second); len(leaksOf(reg)) > 0; time.Sleep(50 * time.Millisecond) {
					if time.Now().After(end) {
						t.Fatalf("the LEAK of the pool still open %v after IdleConnTimeout; records:%s", idle+5*time.Second, describeRecords(findingRecords(reg)))
					}
					reg.Evaluate(time.Now(), leakWordsCfg)
				}
			})
		}
	}
}

// leakJSONPool returns the "pool" of the latest LEAK record reg's JSON
// output writes that names streams (sids), "" where it has none.
func leakJSONPool(t *testing.T, reg *live.Registry) string {
	t.Helper()
	var out bytes.Buffer
	if err := headless.NewPrinter(reg, &out, headless.JSON).Flush(); err != nil {
		t.Fatal(err)
	}
	pool, found := "", false
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		if m["code"] != "LEAK" || m["sids"] == nil {
			continue
		}
		pool, _ = m["pool"].(string)
		found = true
	}
	if !found {
		t.Fatalf("no LEAK record with sids in the JSON:\n%s", out.Bytes())
	}
	return pool
}
