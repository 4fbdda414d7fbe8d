package live_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
)

// The HTTP pool's words where the first bytes of the streams a LEAK names
// do not make them a pool's idle connections, or not only: a response
// still in progress, an interim 1xx answer, an HTTP/1.0 exchange, a leak
// of another protocol whose oldest stream is a pool's, and HTTP/2's
// responses, which take no mux stream of their own.

// poolTransport is an http.Transport that dials a stream of m's client
// session per connection, h2c where h2.
func poolTransport(m livecaptest.Pair, h2 bool) *http.Transport {
	tr := &http.Transport{
		DialContext:           func(context.Context, string, string) (net.Conn, error) { return m.Cli.OpenStream() },
		IdleConnTimeout:       time.Minute,
		ExpectContinueTimeout: 5 * time.Second,
	}
	if h2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return tr
}

// poolServe serves h over m's server session's accepted streams, h2c
// too where h2.
func poolServe(t *testing.T, m livecaptest.Pair, h http.HandlerFunc, h2 bool) *poolListener {
	t.Helper()
	l := &poolListener{s: m.Srv, addr: m.Tapped.RemoteAddr()}
	srv := &http.Server{Handler: h}
	if h2 {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l
}

// poolSession is a real session of name, keepalive on, warmed (its
// setup streams none of the test's).
func poolSession(t *testing.T, name string) (*live.Registry, livecaptest.Pair) {
	t.Helper()
	reg := live.New(live.Config{})
	m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute})
	leakWarm(t, m, reg)
	return reg, m
}

// TestLeakHTTPUnfinishedReal: a handler that writes its headers,
// flushes and blocks (an event stream whose next event is far off, a
// long poll, a hung handler), its client reading the Body: 3 such
// requests leave 3 streams open, idle, their first bytes an answered
// HTTP/1.1 exchange, as a pool's are. The advice names a response not
// finished beside the pool and a Body never closed, and says no "is the
// pool". Before, it said "is the pool" of them.
func TestLeakHTTPUnfinishedReal(t *testing.T) {
	eachPoolMux(t, func(t *testing.T, name string, reg *live.Registry, m livecaptest.Pair) {
		stop := make(chan struct{})
		poolServe(t, m, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: hello\n\n")
			w.(http.Flusher).Flush()
			<-stop
		}, false)
		t.Cleanup(func() { close(stop) })
		client := &http.Client{Transport: poolTransport(m, false)}
		for range 3 {
			resp, err := client.Get("http://backend.example/events")
			if err != nil {
				t.Fatal(err)
			}
			go func() { defer resp.Body.Close(); io.Copy(io.Discard, resp.Body) }()
		}
		leak := waitLeak(t, reg, 500*time.Millisecond)
		t.Logf("%s — %s", leak.Text, leak.Advice)
		if leak.Evidence.Count != 3 {
			t.Errorf("LEAK of %d streams, want 3", leak.Evidence.Count)
		}
		adviceSays(t, leak.Advice, []string{"a response not finished (a handler blocked after its headers, an event stream", "a goroutine dump of the server shows it"}, []string{"is the pool"})
	})
}

// TestLeakHTTPInterimReal: a POST with Expect: 100-continue whose
// handler reads the body (net/http sends 100 Continue) and hangs before
// its answer: its stream's bytes back are an interim response alone, no
// answer. The finding says what it says of a stream that got no byte
// back, a handler that may hang before its answer, naming the interim
// response, and no HTTP pool's words. Before, the advice named the
// pool's keep-alive exchange.
func TestLeakHTTPInterimReal(t *testing.T) {
	eachPoolMux(t, func(t *testing.T, name string, reg *live.Registry, m livecaptest.Pair) {
		stop := make(chan struct{})
		poolServe(t, m, func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			<-stop
		}, false)
		t.Cleanup(func() { close(stop) })
		client := &http.Client{Transport: poolTransport(m, false)}
		go func() {
			req, _ := http.NewRequest("POST", "http://backend.example/upload", strings.NewReader(strings.Repeat("x", 2048)))
			req.Header.Set("Expect", "100-continue")
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		leak := waitLeak(t, reg, 500*time.Millisecond)
		t.Logf("%s — %s", leak.Text, leak.Advice)
		if h := leak.First(); h == nil || !strings.HasPrefix(string(h[1].Bytes()), "HTTP/1.1 100 Continue") {
			t.Fatalf("first bytes %v, want the server's 100 Continue", h)
		}
		if want := fmt.Sprintf("; stream %d carried the client's bytes and only an interim HTTP response (1xx) back from the server", leak.Stream); !strings.HasSuffix(leak.Text, want) {
			t.Errorf("text %q\nwant …%q", leak.Text, want)
		}
		want := leakPoolOldAdvice(name) + fmt.Sprintf("; stream %d got only an interim HTTP response (1xx) back: if the server should have answered it, its handler may hang before its answer (no Close comes until it returns), which a goroutine dump of the server (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2) shows", leak.Stream)
		if leak.Advice != want {
			t.Errorf("advice %q\nwant %q", leak.Advice, want)
		}
	})
}

// TestLeakHTTP10Real: an HTTP/1.0 server (a Body delimited by its close)
// that answers and never closes, the client reading to EOF: no keep-alive
// exchange, and the advice is the leak's own. Before, it named the pool's
// keep-alive exchange.
func TestLeakHTTP10Real(t *testing.T) {
	eachPoolMux(t, func(t *testing.T, name string, reg *live.Registry, m livecaptest.Pair) {
		go func() {
			for {
				st, err := m.Srv.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					br := bufio.NewReader(st)
					for {
						if line, err := br.ReadString('\n'); err != nil || line == "\r\n" {
							break
						}
					}
					io.WriteString(st, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npartial") // never closed
				}()
			}
		}()
		client := &http.Client{Transport: poolTransport(m, false)}
		resp, err := client.Get("http://backend.example/legacy")
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer resp.Body.Close(); io.Copy(io.Discard, resp.Body) }()
		leak := waitLeak(t, reg, 500*time.Millisecond)
		t.Logf("%s — %s", leak.Text, leak.Advice)
		if want := leakPoolOldAdvice(name); leak.Advice != want {
			t.Errorf("advice %q\nwant %q", leak.Advice, want)
		}
	})
}

// chanListener is a net.Listener of the conns sent on ch, until closed
// (http.Server.Close waits for its Accept to return).
type chanListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
	addr   net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { l.closed.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

// prefixedConn reads r, the bytes already read from Conn and the rest.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// TestLeakHTTPMixedReal: one idle pool connection, the oldest stream,
// then 6 streams of another protocol answered and never closed: a LEAK
// of 7 whose oldest is HTTP, and its advice the leak's own, with no
// words of an HTTP client. Before, the oldest alone decided: the HTTP
// words, a Body never closed blamed for the other protocol's leak.
func TestLeakHTTPMixedReal(t *testing.T) {
	eachPoolMux(t, func(t *testing.T, name string, reg *live.Registry, m livecaptest.Pair) {
		cl := &chanListener{ch: make(chan net.Conn, 16), done: make(chan struct{}), addr: m.Tapped.RemoteAddr()}
		go func() {
			for {
				st, err := m.Srv.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					head := make([]byte, 4)
					if _, err := io.ReadFull(st, head); err != nil {
						return
					}
					if string(head) == "RAW " {
						bufio.NewReader(st).ReadString('\n')
						io.WriteString(st, "ANS\n") // answered, never closed
						return
					}
					cl.ch <- &prefixedConn{st, io.MultiReader(strings.NewReader(string(head)), st)}
				}()
			}
		}()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })}
		go srv.Serve(cl)
		t.Cleanup(func() { srv.Close() })
		tr := poolTransport(m, false)
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Transport: tr}).Get("http://backend.example/hello")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close() // one idle connection in the pool
		time.Sleep(100 * time.Millisecond)
		for i := range 6 {
			st, err := m.Cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			io.WriteString(st, "RAW req "+string(rune('0'+i))+"\n")
			io.ReadFull(st, make([]byte, 4))
			time.Sleep(150 * time.Millisecond)
		}
		leak := waitLeak(t, reg, 500*time.Millisecond)
		t.Logf("%s — %s", leak.Text, leak.Advice)
		if leak.Evidence.Count != 7 {
			t.Errorf("LEAK of %d streams, want 7", leak.Evidence.Count)
		}
		if h := leak.First(); h == nil || !strings.HasPrefix(string(h[0].Bytes()), "GET ") {
			t.Errorf("oldest stream's first bytes %v, want the pool's GET", h)
		}
		if want := leakPoolOldAdvice(name); leak.Advice != want {
			t.Errorf("advice %q\nwant %q", leak.Advice, want)
		}
	})
}

// TestLeakH2ResponsesReal: HTTP/2 in the clear. (a) 300 requests whose
// Bodies are never closed, their responses finished: they take no mux
// stream, all of them HTTP/2 streams of one connection, which the h2
// transport frees as each response ends: 1 stream accepted. (b) 260
// responses not finished (handlers blocked after their headers, the
// Bodies read): past the 250 streams net/http's server allows a
// connection, a second connection: 2 streams. The advice says neither
// that a Body never closed holds an HTTP/2 stream nor
// http.DefaultTransport's timeout (it never speaks h2c), and names
// calls in flight and more than 250 responses unfinished at once.
func TestLeakH2ResponsesReal(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"bodies-never-closed", "unfinished"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			reg, m := poolSession(t, "smux-v2")
			stop := make(chan struct{})
			t.Cleanup(func() { close(stop) })
			l := poolServe(t, m, func(w http.ResponseWriter, r *http.Request) {
				if c == "unfinished" {
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
					<-stop
				}
				io.WriteString(w, "ok\n")
			}, true)
			client := &http.Client{Transport: poolTransport(m, true)}
			n, want := 300, int32(1)
			if c == "unfinished" {
				n, want = 260, 2
			}
			for range n {
				resp, err := client.Get("http://backend.example/hello")
				if err != nil {
					t.Fatal(err)
				}
				if c == "unfinished" {
					go func() { defer resp.Body.Close(); io.Copy(io.Discard, resp.Body) }()
				} else {
					defer resp.Body.Close() // never, while the test watches
				}
			}
			leak := waitLeak(t, reg, 500*time.Millisecond)
			t.Logf("%d streams accepted; %s — %s", l.accepted.Load(), leak.Text, leak.Advice)
			if got := l.accepted.Load(); got != want || leak.Evidence.Count != uint64(want) {
				t.Errorf("%d streams accepted, a LEAK of %d; want %d", got, leak.Evidence.Count, want)
			}
			adviceSays(t, leak.Advice, []string{"HTTP/2 connection", "more than 250 responses unfinished at once", "calls in flight"}, []string{"holds an HTTP/2 stream", "DefaultTransport", "30 min"})
		})
	}
}

// eachPoolMux runs f, in parallel, on a real smux v2 and a yamux session
// (poolSession's): the muxes the pool's words are checked on.
func eachPoolMux(t *testing.T, f func(t *testing.T, name string, reg *live.Registry, m livecaptest.Pair)) {
	t.Parallel()
	for _, name := range []string{"smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg, m := poolSession(t, name)
			f(t, name, reg, m)
		})
	}
}

// adviceSays checks that advice says each of says and none of saysNot.
func adviceSays(t *testing.T, advice string, says, saysNot []string) {
	t.Helper()
	for _, w := range says {
		if !strings.Contains(advice, w) {
			t.Errorf("advice %q\nsays no %q", advice, w)
		}
	}
	for _, w := range saysNot {
		if strings.Contains(advice, w) {
			t.Errorf("advice %q\nsays %q", advice, w)
		}
	}
}
