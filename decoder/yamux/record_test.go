package yamux_test

//go:generate go test -run=^TestRecord$ -record

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
)

var record = flag.Bool("record", false, "rewrite the recordings in testdata/ from live yamux sessions")

// An expectation is what the yamux applications of one recorded scenario
// did. The recorder writes it beside the two byte streams as
// <scenario>.expect.json; the tests check the decoded frames against it.
type expectation struct {
	Scenario string     `json:"scenario"`
	Client   sideConfig `json:"client"`
	Server   sideConfig `json:"server"`
	// Pings is how many Session.Ping calls each side ("client", "server") made.
	Pings   map[string]int `json:"pings,omitempty"`
	Streams []streamRecord `json:"streams"`
	// Calls are the yamux calls that failed, by side, in order, with the
	// name of the error they returned.
	Calls map[string][]callRecord `json:"calls,omitempty"`
}

// sideConfig is the part of one side's yamux.Config that shows on the wire.
type sideConfig struct {
	KeepAlive       bool   `json:"keepAlive"`
	AcceptBacklog   int    `json:"acceptBacklog"`
	MaxStreamWindow uint32 `json:"maxStreamWindow"`
}

// callRecord is one yamux call and the error it returned.
type callRecord struct {
	Call string `json:"call"`
	Err  string `json:"err"`
}

// streamRecord is what the two applications did with one stream.
type streamRecord struct {
	ID       uint32 `json:"id"`
	OpenedBy string `json:"openedBy"`
	// Reset reports that the acceptor refused the stream with RST
	// (its accept backlog was full): no data flows on it.
	Reset bool     `json:"reset,omitempty"`
	C2S   transfer `json:"c2s"`
	S2C   transfer `json:"s2c"`
}

// transfer is one direction of a stream.
type transfer struct {
	Bytes  int    `json:"bytes"`  // written by the sender, read by the receiver
	SHA256 string `json:"sha256"` // of those bytes
	FIN    bool   `json:"fin"`    // the sender closed its end
}

const (
	client = "client"
	server = "server"
)

// errName names a yamux or io error for a callRecord.
func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{hyamux.ErrRemoteGoAway, "yamux.ErrRemoteGoAway"},
		{hyamux.ErrConnectionReset, "yamux.ErrConnectionReset"},
		{hyamux.ErrSessionShutdown, "yamux.ErrSessionShutdown"},
		{hyamux.ErrStreamClosed, "yamux.ErrStreamClosed"},
		{io.EOF, "io.EOF"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// A scenario is a script of yamux applications on both ends of one connection.
type scenario struct {
	name string
	// configure adjusts the configs of the client and the server; by
	// default keepalive is off, so that no Ping depends on timing.
	configure func(c, s *hyamux.Config)
	run       func(a *app) error
}

var scenarios = []scenario{
	{name: "rand", run: runRAND(10)},
	{name: "many", run: runMany(20, 10)},
	{name: "big", run: runBig(600_000, 300_000)},
	{name: "ping", run: runPing(3, 2)},
	{name: "goaway", run: runGoAway},
	{
		name: "backlog-rst",
		// A backlog of one: the second stream the server does not accept is reset.
		configure: func(c, s *hyamux.Config) { s.AcceptBacklog = 1 },
		run:       runBacklog,
	},
	{
		name: "window",
		// The server grants a window of 1 MiB: its SYN-ACK carries the
		// 768 KiB above the initial 256 KiB.
		configure: func(c, s *hyamux.Config) { s.MaxStreamWindowSize = 1 << 20 },
		run:       runBig(900_000, 1000),
	},
}

// TestRecord runs every scenario over real yamux sessions on loopback TCP
// and checks the recorded bytes. With -record it rewrites testdata/, which
// the other tests read; without, it records into a temporary directory, so
// the checks also run against fresh traffic of the yamux version in go.mod.
func TestRecord(t *testing.T) {
	if testing.Short() && !*record {
		t.Skip("records live yamux sessions; skipped in short mode")
	}
	dir := t.TempDir()
	if *record {
		dir = "testdata"
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			exp, c2s, s2c, err := sc.record()
			if err != nil {
				t.Fatalf("recording %s: %v", sc.name, err)
			}
			if err := writeRecording(dir, exp, c2s, s2c); err != nil {
				t.Fatal(err)
			}
			checkRecording(t, exp, c2s, s2c)
		})
	}
}

func writeRecording(dir string, exp *expectation, c2s, s2c []byte) error {
	head := *exp
	head.Streams = nil
	js, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	lines := make([]string, len(exp.Streams))
	for i, s := range exp.Streams {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		lines[i] = string(b)
	}
	// One line per stream keeps the file short and its diffs readable.
	js = bytes.Replace(js, []byte(`"streams": null`), []byte("\"streams\": [\n    "+strings.Join(lines, ",\n    ")+"\n  ]"), 1)
	base := filepath.Join(dir, exp.Scenario)
	for name, b := range map[string][]byte{
		base + ".c2s.bin":     c2s,
		base + ".s2c.bin":     s2c,
		base + ".expect.json": append(js, '\n'),
	} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func config() *hyamux.Config {
	c := hyamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.LogOutput = io.Discard
	return c
}

func (sc scenario) record() (exp *expectation, c2s, s2c []byte, err error) {
	ccfg, scfg := config(), config()
	if sc.configure != nil {
		sc.configure(ccfg, scfg)
	}
	cc, sc2, err := loopbackPair()
	if err != nil {
		return nil, nil, nil, err
	}
	ctap, stap := &tapConn{Conn: cc}, &tapConn{Conn: sc2}
	a := &app{ends: make(map[uint32]*streamEnds), calls: make(map[string][]callRecord), pings: make(map[string]int)}
	if a.cli, err = hyamux.Client(ctap, ccfg); err != nil {
		ctap.Close()
		stap.Close()
		return nil, nil, nil, err
	}
	if a.srv, err = hyamux.Server(stap, scfg); err != nil {
		a.cli.Close()
		stap.Close()
		return nil, nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- sc.run(a) }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(30 * time.Second):
		a.abort()
		runErr = errors.Join(errors.New("scenario timed out after 30 s"), <-done)
	}
	// Streams whose last FIN is still in the send queue: wait for the
	// writes to go out before closing (yamux's Close does not flush).
	time.Sleep(50 * time.Millisecond)
	a.abort()
	if runErr != nil {
		return nil, nil, nil, runErr
	}
	exp = &expectation{Scenario: sc.name, Client: configOf(ccfg), Server: configOf(scfg)}
	if len(a.pings) > 0 {
		exp.Pings = a.pings
	}
	if len(a.calls) > 0 {
		exp.Calls = a.calls
	}
	if exp.Streams, err = a.streamRecords(); err != nil {
		return nil, nil, nil, err
	}
	return exp, ctap.recorded(), stap.recorded(), nil
}

func configOf(c *hyamux.Config) sideConfig {
	return sideConfig{KeepAlive: c.EnableKeepAlive, AcceptBacklog: c.AcceptBacklog, MaxStreamWindow: c.MaxStreamWindowSize}
}

// loopbackPair returns both ends of a TCP connection on 127.0.0.1.
func loopbackPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ac := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ac <- accepted{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	r := <-ac
	if err != nil || r.err != nil {
		if client != nil {
			client.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		return nil, nil, errors.Join(err, r.err)
	}
	return client, r.c, nil
}

// tapConn records the bytes written to a connection.
type tapConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.buf.Write(p[:n])
	return n, err
}

func (c *tapConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.Conn.Close()
}

func (c *tapConn) recorded() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// An app is the pair of applications of a scenario.
type app struct {
	cli, srv *hyamux.Session

	mu    sync.Mutex
	ends  map[uint32]*streamEnds
	calls map[string][]callRecord
	pings map[string]int
}

type streamEnds struct {
	openedBy       string
	reset          bool
	client, server *end
}

// end is one application's end of a stream.
type end struct {
	st     *hyamux.Stream
	side   string
	sent   bytes.Buffer
	recvd  bytes.Buffer
	closed bool
}

func (a *app) session(side string) *hyamux.Session {
	if side == server {
		return a.srv
	}
	return a.cli
}

func (a *app) note(side, call string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[side] = append(a.calls[side], callRecord{Call: call, Err: errName(err)})
}

func (a *app) open(side string) (*end, error) {
	st, err := a.session(side).OpenStream()
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", side, err)
	}
	e := &end{st: st, side: side}
	a.mu.Lock()
	defer a.mu.Unlock()
	se := a.endsOf(st.StreamID())
	se.openedBy = side
	se.set(e)
	return e, nil
}

func (a *app) accept(side string) (*end, error) {
	st, err := a.session(side).AcceptStream()
	if err != nil {
		return nil, fmt.Errorf("%s: accept: %w", side, err)
	}
	e := &end{st: st, side: side}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.endsOf(st.StreamID()).set(e)
	return e, nil
}

func (a *app) endsOf(id uint32) *streamEnds {
	se := a.ends[id]
	if se == nil {
		se = new(streamEnds)
		a.ends[id] = se
	}
	return se
}

func (se *streamEnds) set(e *end) {
	if e.side == client {
		se.client = e
	} else {
		se.server = e
	}
}

// streamRecords pairs the ends of every stream and checks that each side
// read exactly what the other wrote.
func (a *app) streamRecords() ([]streamRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var recs []streamRecord
	for id, se := range a.ends {
		if se.reset {
			recs = append(recs, streamRecord{ID: id, OpenedBy: se.openedBy, Reset: true})
			continue
		}
		if se.client == nil || se.server == nil || se.openedBy == "" {
			return nil, fmt.Errorf("stream %d: an end is missing", id)
		}
		c2s, err := transferOf(se.client, se.server)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w", id, err)
		}
		s2c, err := transferOf(se.server, se.client)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w", id, err)
		}
		recs = append(recs, streamRecord{ID: id, OpenedBy: se.openedBy, C2S: c2s, S2C: s2c})
	}
	slices.SortFunc(recs, func(x, y streamRecord) int { return int(x.ID) - int(y.ID) })
	return recs, nil
}

func transferOf(from, to *end) (transfer, error) {
	if !bytes.Equal(from.sent.Bytes(), to.recvd.Bytes()) {
		return transfer{}, fmt.Errorf("%s wrote %d bytes, %s read %d different ones", from.side, from.sent.Len(), to.side, to.recvd.Len())
	}
	sum := sha256.Sum256(from.sent.Bytes())
	return transfer{Bytes: from.sent.Len(), SHA256: hex.EncodeToString(sum[:]), FIN: from.closed}, nil
}

func (e *end) write(p []byte) error {
	n, err := e.st.Write(p)
	e.sent.Write(p[:n])
	if err != nil {
		return fmt.Errorf("%s: write stream %d: %w", e.side, e.st.StreamID(), err)
	}
	return nil
}

// read reads n bytes, or to EOF if n < 0, pausing between reads to play a
// slow reader when pause > 0.
func (e *end) read(n, bufSize int, pause time.Duration) error {
	buf := make([]byte, bufSize)
	for n < 0 || e.recvd.Len() < n {
		p := buf
		if n >= 0 {
			p = buf[:min(bufSize, n-e.recvd.Len())]
		}
		k, err := e.st.Read(p)
		e.recvd.Write(p[:k])
		if err == io.EOF && n < 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read stream %d: %w", e.side, e.st.StreamID(), err)
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

func (e *end) close() error {
	if err := e.st.Close(); err != nil {
		return fmt.Errorf("%s: close stream %d: %w", e.side, e.st.StreamID(), err)
	}
	e.closed = true
	return nil
}

func payload(rng *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func (a *app) abort() {
	a.cli.Close()
	a.srv.Close()
}

// both runs f and g concurrently; when one fails it aborts the sessions, so
// that the other does not wait forever.
func (a *app) both(f, g func() error) error {
	errc := make(chan error, 2)
	go func() { errc <- f() }()
	go func() { errc <- g() }()
	first := <-errc
	if first != nil {
		a.abort()
	}
	return errors.Join(first, <-errc)
}

// serveRAND is the demo's random-number service on one stream: it reads
// "RAND", answers 8 bytes and closes first.
func (a *app) serveRAND(rng *rand.Rand) error {
	s, err := a.accept(server)
	if err != nil {
		return err
	}
	if err := s.read(4, 4, 0); err != nil {
		return err
	}
	var reply [8]byte
	binary.BigEndian.PutUint64(reply[:], rng.Uint64())
	if err := s.write(reply[:]); err != nil {
		return err
	}
	return s.close()
}

// requestRAND is the client side of one RAND exchange.
func (a *app) requestRAND() error {
	c, err := a.open(client)
	if err != nil {
		return err
	}
	if err := c.write([]byte("RAND")); err != nil {
		return err
	}
	if err := c.read(-1, 64, 0); err != nil {
		return err
	}
	return c.close()
}

func runRAND(n int) func(a *app) error {
	return func(a *app) error {
		rng := rand.New(rand.NewPCG(1, 1))
		for range n {
			if err := a.both(a.requestRAND, func() error { return a.serveRAND(rng) }); err != nil {
				return err
			}
		}
		return nil
	}
}

// runMany runs streams opened by both sides at once; the opener writes a
// request and half-closes, the acceptor answers and closes.
func runMany(byClient, byServer int) func(a *app) error {
	return func(a *app) error {
		errc := make(chan error, 2*(byClient+byServer))
		var wg sync.WaitGroup
		for i := range byClient + byServer {
			opener, acceptor := client, server
			if i >= byClient {
				opener, acceptor = server, client
			}
			seed := uint64(i)
			wg.Go(func() { errc <- a.request(opener, rand.New(rand.NewPCG(2, seed))) })
			wg.Go(func() { errc <- a.answer(acceptor, rand.New(rand.NewPCG(3, seed))) })
		}
		var errs []error
		for range cap(errc) {
			if err := <-errc; err != nil {
				errs = append(errs, err)
				a.abort()
			}
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

func (a *app) request(side string, rng *rand.Rand) error {
	e, err := a.open(side)
	if err != nil {
		return err
	}
	if err := e.write(payload(rng, 1+rng.IntN(1500))); err != nil {
		return err
	}
	if err := e.close(); err != nil {
		return err
	}
	return e.read(-1, 512, 0)
}

func (a *app) answer(side string, rng *rand.Rand) error {
	e, err := a.accept(side)
	if err != nil {
		return err
	}
	if err := e.read(-1, 512, 0); err != nil {
		return err
	}
	if err := e.write(payload(rng, 1+rng.IntN(600))); err != nil {
		return err
	}
	return e.close()
}

// runBig sends more than a stream window each way to a reader that reads
// slowly, so writers wait for window updates.
func runBig(up, down int) func(a *app) error {
	return func(a *app) error {
		rng := rand.New(rand.NewPCG(4, 4))
		req, resp := payload(rng, up), payload(rng, down)
		return exchange(a, [][]byte{req}, resp, 50_000, time.Millisecond)
	}
}

// exchange runs one stream: the client writes each of reqs, closes its
// side and reads the answer to the end; the server reads the request to
// the end, up to chunk bytes a read with pause after each, then writes
// resp and closes.
func exchange(a *app, reqs [][]byte, resp []byte, chunk int, pause time.Duration) error {
	return a.both(func() error {
		c, err := a.open(client)
		if err != nil {
			return err
		}
		for _, req := range reqs {
			if err := c.write(req); err != nil {
				return err
			}
		}
		if err := c.close(); err != nil {
			return err
		}
		return c.read(-1, 16384, 0)
	}, func() error {
		s, err := a.accept(server)
		if err != nil {
			return err
		}
		if err := s.read(-1, chunk, pause); err != nil {
			return err
		}
		if err := s.write(resp); err != nil {
			return err
		}
		return s.close()
	})
}

// runPing has each side ping the other.
func runPing(byClient, byServer int) func(a *app) error {
	return func(a *app) error {
		for _, side := range []string{client, server} {
			n := byClient
			if side == server {
				n = byServer
			}
			for range n {
				if _, err := a.session(side).Ping(); err != nil {
					return fmt.Errorf("%s: ping: %w", side, err)
				}
				a.pings[side]++
			}
		}
		return nil
	}
}

// runGoAway makes one RAND exchange, then the server sends GoAway: the
// client's next OpenStream fails with ErrRemoteGoAway.
func runGoAway(a *app) error {
	rng := rand.New(rand.NewPCG(5, 5))
	if err := a.both(a.requestRAND, func() error { return a.serveRAND(rng) }); err != nil {
		return err
	}
	if err := a.srv.GoAway(); err != nil {
		return fmt.Errorf("server: go away: %w", err)
	}
	// yamux's recvLoop handles frames in order: once the client answered a
	// ping sent after the GoAway, it has seen the GoAway.
	if _, err := a.srv.Ping(); err != nil {
		return fmt.Errorf("server: ping: %w", err)
	}
	a.pings[server]++
	_, err := a.cli.OpenStream()
	a.note(client, "OpenStream", err)
	if !errors.Is(err, hyamux.ErrRemoteGoAway) {
		return fmt.Errorf("client: open after go away: %v; want yamux.ErrRemoteGoAway", err)
	}
	return nil
}

// runBacklog opens two streams to a server with a backlog of one that
// accepts none yet: the second is reset. Then the server accepts the first.
func runBacklog(a *app) error {
	first, err := a.open(client)
	if err != nil {
		return err
	}
	second, err := a.open(client)
	if err != nil {
		return err
	}
	_, err = second.st.Read(make([]byte, 1))
	a.note(client, "Read of the second stream", err)
	if !errors.Is(err, hyamux.ErrConnectionReset) {
		return fmt.Errorf("client: read of the second stream: %v; want yamux.ErrConnectionReset", err)
	}
	a.mu.Lock()
	a.ends[second.st.StreamID()].reset = true
	a.mu.Unlock()
	rng := rand.New(rand.NewPCG(6, 6))
	return a.both(func() error {
		if err := first.write([]byte("RAND")); err != nil {
			return err
		}
		if err := first.read(-1, 64, 0); err != nil {
			return err
		}
		return first.close()
	}, func() error { return a.serveRAND(rng) })
}
