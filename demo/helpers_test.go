package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"
)

// listen binds an ephemeral loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs Serve on ln until the test ends or stop is called; stop
// returns what Serve returned.
func serve(t *testing.T, ln net.Listener, cfg ServiceConfig) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, cfg) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Errorf("Serve did not return within 5s of its context being cancelled")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// startService runs a service on an ephemeral port and returns its address.
func startService(t *testing.T, cfg ServiceConfig) string {
	t.Helper()
	ln := listen(t)
	serve(t, ln, cfg)
	return ln.Addr().String()
}

// clientSession dials addr and returns an smux client session on it,
// closed when the test ends.
func clientSession(t *testing.T, addr string, version int) *smux.Session {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smuxConfig(version)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := smux.Client(conn, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// recorder is a deterministic ServiceConfig.Rand that remembers what it
// gave out.
type recorder struct {
	mu   sync.Mutex
	rng  *rand.Rand
	nums []uint64
}

func newRecorder() *recorder {
	return &recorder{rng: rand.New(rand.NewPCG(1, 2))}
}

func (r *recorder) next() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.rng.Uint64()
	r.nums = append(r.nums, n)
	return n
}

func (r *recorder) all() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.nums)
}

// logBuffer collects what a logger writes, for many goroutines at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits up to a few seconds for the log to contain want.
func (b *logBuffer) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return
		}
	}
	t.Errorf("log: got %q, want it to contain %q", b.String(), want)
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// httpClient returns a client that keeps no idle connections, so that no
// goroutine of its outlives a test.
func httpClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		Timeout:   10 * time.Second,
	}
}

// get GETs url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return do(t, http.MethodGet, url)
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// sleepWatched sleeps for d in steps of 10 ms and returns the longest
// time between two steps: about 10 ms on a machine that keeps up, as long
// as the test was stopped or starved on one that stalls.
func sleepWatched(d time.Duration) (longest time.Duration) {
	const step = 10 * time.Millisecond
	start := time.Now()
	for last := start; ; {
		now := time.Now()
		longest, last = max(longest, now.Sub(last)), now
		left := d - now.Sub(start)
		if left <= 0 {
			return longest
		}
		time.Sleep(min(step, left))
	}
}

// versions runs f once per smux protocol version.
func versions(t *testing.T, f func(t *testing.T, version int)) {
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { f(t, v) })
	}
}
