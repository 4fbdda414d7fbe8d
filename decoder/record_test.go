package decoder_test

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
	"hash"
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

	"github.com/xtaci/smux"
)

var record = flag.Bool("record", false, "rewrite the recordings in testdata/ from live smux sessions")

// An expectation is what the smux applications of one recorded scenario did.
// The recorder writes it beside the two byte streams as <scenario>.expect.json;
// the tests check the decoded frames against it.
type expectation struct {
	Scenario string `json:"scenario"`
	// Version is the protocol version of both sides, or 0 when they differ.
	Version int        `json:"version"`
	Client  sideConfig `json:"client"`
	Server  sideConfig `json:"server"`
	// MinNOP is how many keepalive NOPs the recorder waited for in each
	// direction; when keepalive is disabled there are none.
	MinNOP  int            `json:"minNOP"`
	Streams []streamRecord `json:"streams"`
	// Calls are the smux calls of each side ("client", "server") that
	// are not in Streams, in order, with what they returned: the calls of
	// a scenario whose sessions fail.
	Calls map[string][]callRecord `json:"calls,omitempty"`
}

// sideConfig is the part of one side's smux.Config that shows on the wire.
type sideConfig struct {
	// Version is the side's protocol version. Recordings made before it
	// was recorded lack it: there both sides speak expectation.Version.
	Version         int  `json:"version,omitempty"`
	KeepAlive       bool `json:"keepAlive"`
	MaxFrameSize    int  `json:"maxFrameSize"`
	MaxStreamBuffer int  `json:"maxStreamBuffer"`
}

// versionOf returns the protocol version side speaks.
func (e *expectation) versionOf(side string) int {
	c := e.Client
	if side == server {
		c = e.Server
	}
	if c.Version != 0 {
		return c.Version
	}
	return e.Version
}

// callRecord is one smux call and what it returned.
type callRecord struct {
	Call string `json:"call"` // the method, and what it was given
	// N is the id of the stream OpenStream or AcceptStream returned, or the
	// count Read or Write returned.
	N int `json:"n"`
	// Err is the error the call returned: the name of the smux or io
	// error it is, else its text.
	Err string `json:"err,omitempty"`
}

// errName names err for a callRecord.
func errName(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range []struct {
		err  error
		name string
	}{
		{smux.ErrInvalidProtocol, "smux.ErrInvalidProtocol"},
		{smux.ErrTimeout, "smux.ErrTimeout"},
		{smux.ErrGoAway, "smux.ErrGoAway"},
		{io.ErrClosedPipe, "io.ErrClosedPipe"},
		{io.EOF, "io.EOF"},
		{io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return err.Error()
}

// streamRecord is what the two applications did with one stream.
type streamRecord struct {
	ID       uint32 `json:"id"`       // as smux's Stream.ID reported it
	OpenedBy string `json:"openedBy"` // "client" or "server"
	// ClosedFirstBy is the side whose FIN went out first, by the scenario's
	// construction: the other side closed only after reading EOF.
	ClosedFirstBy string   `json:"closedFirstBy"`
	C2S           transfer `json:"c2s"`
	S2C           transfer `json:"s2c"`
}

// transfer is one direction of a stream, seen from both applications.
type transfer struct {
	Writes []int  `json:"writes"` // sizes of the sender's Write calls, in order
	Reads  []int  `json:"reads"`  // sizes the receiver's Read calls returned (n > 0), in order
	SHA256 string `json:"sha256"` // of the bytes written, which equal the bytes read
	// FINs is how many FIN frames the sender's CloseWrite and Close sent. Close
	// after CloseWrite sends a second FIN unless smux has already cleaned the
	// stream up after the peer's FIN: that is a race, so it is counted.
	FINs int `json:"fins"`
}

func (x transfer) written() int { return sum(x.Writes) }

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

// A scenario is a script of smux applications on both ends of one connection.
type scenario struct {
	name    string
	version int
	// configure adjusts the smux configs of the client and the server; by
	// default keepalive is off, so that no NOP depends on timing.
	configure func(c, s *smux.Config)
	minNOP    int
	run       func(a *app) error
}

var scenarios = []scenario{
	{name: "v1-rand", version: 1, run: runRAND(10)},
	{name: "v2-rand", version: 2, run: runRAND(10)},
	{name: "v1-many", version: 1, run: runMany(40, 10)},
	{
		name: "v1-big", version: 1,
		// The server sends frames of 65535 bytes, the most smux accepts.
		configure: func(c, s *smux.Config) { s.MaxFrameSize = 65535 },
		run:       runBig(33000, 66000),
	},
	{
		name: "v1-keepalive", version: 1,
		configure: func(c, s *smux.Config) {
			for _, cfg := range []*smux.Config{c, s} {
				cfg.KeepAliveDisabled = false
				cfg.KeepAliveInterval = 50 * time.Millisecond
				cfg.KeepAliveTimeout = 10 * time.Second
			}
		},
		minNOP: 2,
		run:    runKeepalive(2),
	},
	{
		name: "v2-upd", version: 2,
		configure: func(c, s *smux.Config) {
			c.MaxFrameSize = 4096
			c.MaxStreamBuffer = 4096
			s.MaxStreamBuffer = 8192
		},
		run: runSlowReader(24000, 12000),
	},
	{name: "v2-close", version: 2, run: runClose},
	{
		name: "v1-client-v2-server", version: 2,
		configure: func(c, s *smux.Config) {
			c.Version = 1
			// The server's keepalive sends the NOP that the client refuses.
			s.KeepAliveDisabled = false
			s.KeepAliveInterval = 20 * time.Millisecond
			s.KeepAliveTimeout = 10 * time.Second
		},
		minNOP: 1,
		run:    runMismatch,
	},
}

// TestRecord runs every scenario over real smux sessions on loopback TCP and
// checks the recorded bytes. With -record it rewrites testdata/, which the
// other tests read; without, it records into a temporary directory, so the
// checks also run against fresh traffic of the smux version in go.mod.
// To rewrite one scenario's recording only, select it with -run, as in
// go test -run='^TestRecord$/^v1-client-v2-server$' -record.
func TestRecord(t *testing.T) {
	if testing.Short() && !*record {
		t.Skip("records live smux sessions; skipped in short mode")
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
	js, err := exp.marshal()
	if err != nil {
		return err
	}
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

// marshal formats the expectation as indented JSON with one line per
// stream and per call, which keeps the files short and their diffs readable.
func (e *expectation) marshal() ([]byte, error) {
	head := *e
	head.Streams, head.Calls = nil, nil
	js, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return nil, err
	}
	streams, err := jsonLines(e.Streams, "  ")
	if err != nil {
		return nil, err
	}
	js = bytes.Replace(js, []byte(`"streams": null`), []byte(`"streams": `+streams), 1)
	if len(e.Calls) == 0 {
		return js, nil
	}
	var calls []string
	for _, side := range []string{client, server} {
		lines, err := jsonLines(e.Calls[side], "    ")
		if err != nil {
			return nil, err
		}
		calls = append(calls, fmt.Sprintf("    %q: %s", side, lines))
	}
	js = bytes.TrimSuffix(js, []byte("\n}"))
	return fmt.Appendf(js, ",\n  \"calls\": {\n%s\n  }\n}", strings.Join(calls, ",\n")), nil
}

// jsonLines formats a slice as a JSON array with one element per line, for
// an array at indent.
func jsonLines[T any](elems []T, indent string) (string, error) {
	if len(elems) == 0 {
		return "[]", nil
	}
	lines := make([]string, len(elems))
	for i, el := range elems {
		js, err := json.Marshal(el)
		if err != nil {
			return "", err
		}
		lines[i] = string(js)
	}
	return "[\n" + indent + "  " + strings.Join(lines, ",\n"+indent+"  ") + "\n" + indent + "]", nil
}

// record runs the scenario and returns what the applications did and the
// bytes each side wrote to the connection. A scenario's configure may give
// the sides different versions.
func (sc scenario) record() (exp *expectation, c2s, s2c []byte, err error) {
	ccfg, scfg := smux.DefaultConfig(), smux.DefaultConfig()
	for _, cfg := range []*smux.Config{ccfg, scfg} {
		cfg.Version = sc.version
		cfg.KeepAliveDisabled = true
	}
	if sc.configure != nil {
		sc.configure(ccfg, scfg)
	}

	cc, sc2, err := loopbackPair()
	if err != nil {
		return nil, nil, nil, err
	}
	ctap, stap := &tapConn{Conn: cc}, &tapConn{Conn: sc2}
	a := &app{ends: make(map[uint32]*streamEnds), calls: make(map[string][]callRecord), c2s: ctap, s2c: stap}
	if a.cli, err = smux.Client(ctap, ccfg); err != nil {
		ctap.Close()
		stap.Close()
		return nil, nil, nil, err
	}
	if a.srv, err = smux.Server(stap, scfg); err != nil {
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
		a.abort() // unblocks every smux call of the scenario
		runErr = errors.Join(errors.New("scenario timed out after 30 s"), <-done)
	}
	// Session.Close sends no FIN; it closes the tapConn, which waits for a
	// write in progress, so the recordings are final afterwards.
	a.abort()
	if runErr != nil {
		return nil, nil, nil, runErr
	}

	exp = &expectation{
		Scenario: sc.name,
		Client:   configOf(ccfg),
		Server:   configOf(scfg),
		MinNOP:   sc.minNOP,
	}
	if ccfg.Version == scfg.Version {
		exp.Version = ccfg.Version
	}
	if exp.Streams, err = a.streamRecords(); err != nil {
		return nil, nil, nil, err
	}
	if len(a.calls) > 0 {
		exp.Calls = a.calls
	}
	c2s, s2c = ctap.recorded(), stap.recorded()
	for _, dir := range []struct {
		name string
		b    []byte
	}{{"c2s", c2s}, {"s2c", s2c}} {
		if _, rest := countNOPs(dir.b); rest != 0 {
			return nil, nil, nil, fmt.Errorf("%s ends inside a frame (%d bytes)", dir.name, rest)
		}
	}
	return exp, c2s, s2c, nil
}

func configOf(c *smux.Config) sideConfig {
	return sideConfig{Version: c.Version, KeepAlive: !c.KeepAliveDisabled, MaxFrameSize: c.MaxFrameSize, MaxStreamBuffer: c.MaxStreamBuffer}
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

// tapConn records the bytes written to a connection: wrapped around each
// end, it records one direction each. It hides every method but net.Conn's,
// so smux writes whole frames with Write.
type tapConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (c *tapConn) Write(p []byte) (int, error) {
	// The lock is held across the write, so that Close waits for it and
	// recorded returns the final bytes once the session is closed.
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

// countNOPs walks well-formed smux frames, independently of the decoder, and
// returns the number of NOPs and how many trailing bytes make no whole frame.
func countNOPs(b []byte) (nops, rest int) {
	for len(b) >= 8 {
		size := 8 + int(binary.LittleEndian.Uint16(b[2:]))
		if len(b) < size {
			break
		}
		if b[1] == 3 {
			nops++
		}
		b = b[size:]
	}
	return nops, len(b)
}

// An app is the pair of applications of a scenario.
type app struct {
	cli, srv *smux.Session
	c2s, s2c *tapConn

	mu    sync.Mutex
	ends  map[uint32]*streamEnds
	calls map[string][]callRecord // by side
}

// note records a call of side that is not on a stream in ends.
func (a *app) note(side, call string, n int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[side] = append(a.calls[side], callRecord{Call: call, N: n, Err: errName(err)})
}

// streamEnds are the client's and the server's end of one stream.
type streamEnds struct {
	openedBy, closedFirstBy string
	client, server          *end
}

// end is one application's end of a stream, with what it wrote and read.
type end struct {
	st     *smux.Stream
	side   string
	writes []int
	sent   hash.Hash
	reads  []int
	recvd  hash.Hash
	fins   int
}

const (
	client = "client"
	server = "server"
)

// open opens a stream from side; closedFirstBy documents the script.
func (a *app) open(side, closedFirstBy string) (*end, error) {
	sess := a.cli
	if side == server {
		sess = a.srv
	}
	st, err := sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", side, err)
	}
	e := newEnd(st, side)
	a.mu.Lock()
	defer a.mu.Unlock()
	se := a.endsOf(st.ID())
	se.openedBy, se.closedFirstBy = side, closedFirstBy
	se.set(e)
	return e, nil
}

// accept accepts a stream on side.
func (a *app) accept(side string) (*end, error) {
	sess := a.cli
	if side == server {
		sess = a.srv
	}
	st, err := sess.AcceptStream()
	if err != nil {
		return nil, fmt.Errorf("%s: accept: %w", side, err)
	}
	e := newEnd(st, side)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.endsOf(st.ID()).set(e)
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

func newEnd(st *smux.Stream, side string) *end {
	return &end{st: st, side: side, sent: sha256.New(), recvd: sha256.New()}
}

// streamRecords pairs the ends of every stream and checks that each side
// read exactly what the other wrote.
func (a *app) streamRecords() ([]streamRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var recs []streamRecord
	for id, se := range a.ends {
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
		recs = append(recs, streamRecord{ID: id, OpenedBy: se.openedBy, ClosedFirstBy: se.closedFirstBy, C2S: c2s, S2C: s2c})
	}
	slices.SortFunc(recs, func(x, y streamRecord) int { return int(x.ID) - int(y.ID) })
	return recs, nil
}

func transferOf(from, to *end) (transfer, error) {
	sent, recvd := from.sent.Sum(nil), to.recvd.Sum(nil)
	if sum(from.writes) != sum(to.reads) || !bytes.Equal(sent, recvd) {
		return transfer{}, fmt.Errorf("%s wrote %d bytes, %s read %d different ones", from.side, sum(from.writes), to.side, sum(to.reads))
	}
	return transfer{Writes: from.writes, Reads: to.reads, SHA256: hex.EncodeToString(sent), FINs: from.fins}, nil
}

func (e *end) write(p []byte) error {
	n, err := e.st.Write(p)
	if n > 0 {
		e.writes = append(e.writes, n)
		e.sent.Write(p[:n])
	}
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("%s: write stream %d: %w", e.side, e.st.ID(), err)
	}
	return nil
}

// read reads up to limit bytes (to EOF if limit < 0) with a buffer of
// bufSize, pausing between reads to play a slow reader.
func (e *end) read(limit, bufSize int, pause time.Duration) error {
	buf := make([]byte, bufSize)
	total := 0
	for limit < 0 || total < limit {
		p := buf
		if limit >= 0 {
			p = buf[:min(bufSize, limit-total)]
		}
		n, err := e.st.Read(p)
		if n > 0 {
			e.reads = append(e.reads, n)
			e.recvd.Write(p[:n])
			total += n
		}
		if err == io.EOF && limit < 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read stream %d: %w", e.side, e.st.ID(), err)
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

func (e *end) readEOF(bufSize int) error { return e.read(-1, bufSize, 0) }

// closeWrite half-closes the stream: smux sends FIN.
func (e *end) closeWrite() error {
	if err := e.st.CloseWrite(); err != nil {
		return fmt.Errorf("%s: close write stream %d: %w", e.side, e.st.ID(), err)
	}
	e.fins++
	return nil
}

// close closes the stream. smux sends FIN (and Close returns nil) unless the
// stream is dead already, which after a CloseWrite it can be.
func (e *end) close() error {
	err := e.st.Close()
	if err == nil {
		e.fins++
		return nil
	}
	if e.fins > 0 && errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return fmt.Errorf("%s: close stream %d: %w", e.side, e.st.ID(), err)
}

// payload returns n reproducible bytes.
func payload(rng *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// abort closes both sessions, which makes every blocked smux call return.
func (a *app) abort() {
	a.cli.Close()
	a.srv.Close()
}

// both runs the two functions concurrently and returns their errors. When
// one fails it aborts, so that the other does not wait for it forever.
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
// "RAND", answers 8 bytes of big-endian uint64 and closes first.
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

// requestRAND is the demo's client side of one RAND exchange: it reads the
// answer to EOF and closes after the server.
func (a *app) requestRAND() error {
	c, err := a.open(client, server)
	if err != nil {
		return err
	}
	if err := c.write([]byte("RAND")); err != nil {
		return err
	}
	if err := c.readEOF(64); err != nil {
		return err
	}
	return c.close()
}

// runRAND makes n RAND requests one after the other.
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

// runMany runs streams opened by both sides at once. The opener writes a
// request and half-closes first; the acceptor reads to EOF, answers and
// closes; the opener reads the answer to EOF.
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
	e, err := a.open(side, side)
	if err != nil {
		return err
	}
	req := payload(rng, 1+rng.IntN(1500))
	for len(req) > 0 {
		n := 1 + rng.IntN(len(req))
		if err := e.write(req[:n]); err != nil {
			return err
		}
		req = req[n:]
	}
	if err := e.closeWrite(); err != nil {
		return err
	}
	if err := e.readEOF(512); err != nil {
		return err
	}
	return e.close()
}

func (a *app) answer(side string, rng *rand.Rand) error {
	e, err := a.accept(side)
	if err != nil {
		return err
	}
	if err := e.readEOF(512); err != nil {
		return err
	}
	if err := e.write(payload(rng, 1+rng.IntN(600))); err != nil {
		return err
	}
	return e.close()
}

// runBig sends payloads larger than MaxFrameSize each way, so smux splits
// them into several PSH frames. The client half-closes first.
func runBig(up, down int) func(a *app) error {
	return func(a *app) error {
		rng := rand.New(rand.NewPCG(4, 4))
		req, resp := payload(rng, up), payload(rng, down)
		return a.both(func() error {
			c, err := a.open(client, client)
			if err != nil {
				return err
			}
			if err := c.write(req); err != nil {
				return err
			}
			if err := c.closeWrite(); err != nil {
				return err
			}
			if err := c.readEOF(16384); err != nil {
				return err
			}
			return c.close()
		}, func() error {
			s, err := a.accept(server)
			if err != nil {
				return err
			}
			if err := s.readEOF(16384); err != nil {
				return err
			}
			if err := s.write(resp); err != nil {
				return err
			}
			return s.close()
		})
	}
}

// runKeepalive makes a RAND request, then idles until each direction
// carries at least nops keepalive NOPs.
func runKeepalive(nops int) func(a *app) error {
	return func(a *app) error {
		rng := rand.New(rand.NewPCG(5, 5))
		if err := a.both(a.requestRAND, func() error { return a.serveRAND(rng) }); err != nil {
			return err
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, _ := countNOPs(a.c2s.recorded())
			s, _ := countNOPs(a.s2c.recorded())
			if c >= nops && s >= nops {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("saw %d and %d NOPs in 10 s, want %d each way", c, s, nops)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// runSlowReader has each side read the other's data in small pieces with
// pauses, so that v2 receivers send several window updates.
func runSlowReader(up, down int) func(a *app) error {
	return func(a *app) error {
		rng := rand.New(rand.NewPCG(6, 6))
		req, resp := payload(rng, up), payload(rng, down)
		return a.both(func() error {
			c, err := a.open(client, server)
			if err != nil {
				return err
			}
			if err := c.write(req); err != nil {
				return err
			}
			if err := c.read(-1, 700, time.Millisecond); err != nil {
				return err
			}
			return c.close()
		}, func() error {
			s, err := a.accept(server)
			if err != nil {
				return err
			}
			if err := s.read(up, 1000, time.Millisecond); err != nil {
				return err
			}
			if err := s.write(resp); err != nil {
				return err
			}
			return s.close()
		})
	}
}

// runClose closes streams in every order: opened by either side, closed
// first by the opener (half-close, then read the answer) or by the acceptor
// (answer and close, then the opener closes after EOF).
func runClose(a *app) error {
	for _, c := range []struct{ opener, acceptor, first string }{
		{client, server, client},
		{client, server, server},
		{server, client, server},
		{server, client, client},
	} {
		msg := []byte(c.opener + " opens, " + c.first + " closes first")
		err := a.both(func() error {
			e, err := a.open(c.opener, c.first)
			if err != nil {
				return err
			}
			if err := e.write(msg); err != nil {
				return err
			}
			if c.first == c.opener {
				if err := e.closeWrite(); err != nil {
					return err
				}
			}
			if err := e.readEOF(64); err != nil {
				return err
			}
			return e.close()
		}, func() error {
			e, err := a.accept(c.acceptor)
			if err != nil {
				return err
			}
			if c.first == c.opener {
				err = e.readEOF(64)
			} else {
				err = e.read(len(msg), 64, 0)
			}
			if err != nil {
				return err
			}
			if err := e.write([]byte("bye")); err != nil {
				return err
			}
			return e.close()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// runMismatch plays a v1 client against a v2 server. The client opens a
// stream and writes "RAND": the server's recvLoop refuses the v1 SYN, so
// its AcceptStream fails. The server's keepalive sends a v2 NOP: the
// client's recvLoop refuses it, so its Read fails. Both fail with
// smux.ErrInvalidProtocol.
func runMismatch(a *app) error {
	return a.both(func() error {
		st, err := a.cli.OpenStream()
		if err != nil {
			a.note(client, "OpenStream", 0, err)
			return fmt.Errorf("client: open: %w", err)
		}
		a.note(client, "OpenStream", int(st.ID()), nil)
		n, err := st.Write([]byte("RAND"))
		a.note(client, `Write "RAND"`, n, err)
		if err != nil {
			return fmt.Errorf("client: write: %w", err)
		}
		n, err = st.Read(make([]byte, 64))
		a.note(client, "Read", n, err)
		if !errors.Is(err, smux.ErrInvalidProtocol) {
			return fmt.Errorf("client: read returned %d, %v; want smux.ErrInvalidProtocol", n, err)
		}
		return nil
	}, func() error {
		st, err := a.srv.AcceptStream()
		id := 0
		if st != nil {
			id = int(st.ID())
		}
		a.note(server, "AcceptStream", id, err)
		if !errors.Is(err, smux.ErrInvalidProtocol) {
			return fmt.Errorf("server: accept returned stream %d, %v; want smux.ErrInvalidProtocol", id, err)
		}
		return nil
	})
}
