package tap_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// The README tells a program that runs smux over KCP, UDP or an
// encrypted transport to tap the conn it gives smux (or yamux) with
// tap.Wrap. These tests run real sessions over the conns such programs
// have, none of them TCP: a *tls.Conn, a *net.UnixConn, a net.Pipe end and
// a message conn as KCP's, and check what muxtop says against what the
// conns carried and did.

// transportMuxes are the muxes each transport carries.
var transportMuxes = []struct {
	name string
	mux  smuxtest.Mux
}{
	{"smux v1", smuxtest.Mux{Smux: smuxtest.Config(1)}},
	{"smux v2", smuxtest.Mux{Smux: smuxtest.Config(2)}},
	{"yamux", smuxtest.Mux{}},
}

// tappedOver runs mux over tr's conns, each end tapped into a registry
// of its own above a record of what it wrote: the client's session and
// registry and record, then the server's. Both sessions close as the test
// ends.
func tappedOver(t *testing.T, tr smuxtest.Transport, mux smuxtest.Mux) (cli, srv smuxtest.Session, regC, regS *live.Registry, recC, recS *smuxtest.RecordingConn) {
	t.Helper()
	cc, sc := tr.Conns(t)
	recC, recS = &smuxtest.RecordingConn{Conn: cc}, &smuxtest.RecordingConn{Conn: sc}
	regC, regS = live.New(live.Config{}), live.New(live.Config{})
	var err error
	if cli, err = mux.Client(tap.Wrap(recC, live.Client, regC, tr.Name)); err != nil {
		t.Fatal(err)
	}
	if srv, err = mux.Server(tap.Wrap(recS, live.Server, regS, tr.Name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return
}

// serveSized answers each stream srv accepts: it reads a 4-byte length
// and that many bytes, writes as many back and closes the stream.
func serveSized(srv smuxtest.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var hdr [4]byte
			if _, err := io.ReadFull(st, hdr[:]); err != nil {
				return
			}
			b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(st, b); err != nil {
				return
			}
			st.Write(b)
		}()
	}
}

// askSized sends n bytes on a new stream of cli, reads the n answered and
// the server's FIN, and closes the stream.
func askSized(cli smuxtest.Session, n int) error {
	st, err := cli.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(20 * time.Second))
	b := make([]byte, 4+n)
	binary.BigEndian.PutUint32(b, uint32(n))
	for i := 4; i < len(b); i++ {
		b[i] = byte(i)
	}
	if _, err := st.Write(b); err != nil {
		return err
	}
	got, err := smuxtest.ReadAll(st)
	if err != nil {
		return err
	}
	if len(got) != n {
		return fmt.Errorf("read %d bytes of %d", len(got), n)
	}
	return nil
}

// countsDiffer says how the counts of the one session in reg differ from
// the independent count of the bytes each end wrote (c2s the client's,
// s2c the server's), or "" where they agree: frames and bytes by command
// (smux) or type (yamux), nothing unparsed, the streams opened, and none
// still open once every stream the wire carried closed both ways.
func countsDiffer(reg *live.Registry, c2s, s2c []byte, yam bool) string {
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		return fmt.Sprintf("%d sessions, want 1", len(snap.Sessions))
	}
	s := snap.Sessions[0]
	var diffs []string
	opened := map[uint32]bool{}
	for _, d := range []live.Dir{live.ClientToServer, live.ServerToClient} {
		raw := c2s
		if d == live.ServerToClient {
			raw = s2c
		}
		w := smuxtest.CountWire(raw, yam)
		if w.Rest != 0 {
			return fmt.Sprintf("%s: %d bytes after the last whole frame", d.Code(), w.Rest)
		}
		for k := range 5 {
			var frames, bytes uint64
			name := ""
			if yam {
				if k == 4 {
					continue
				}
				frames, bytes = s.Counts.TypeFrames[d][k], s.Counts.TypeBytes[d][k]
				name = [...]string{"Data", "WindowUpdate", "Ping", "GoAway"}[k]
			} else {
				frames, bytes = s.Counts.Frames[d][k], s.Counts.Bytes[d][k]
				name = decoder.Cmd(k).String()
			}
			if frames != w.Frames[k] || bytes != w.Bytes[k] {
				diffs = append(diffs, fmt.Sprintf("%s %s: %d frames %d bytes, the wire %d frames %d bytes", d.Code(), name, frames, bytes, w.Frames[k], w.Bytes[k]))
			}
		}
		if got := s.WireBytes(d); got != uint64(len(raw)) {
			diffs = append(diffs, fmt.Sprintf("%s: %d wire bytes, the wire %d", d.Code(), got, len(raw)))
		}
		if s.Unparsed[d] != 0 {
			diffs = append(diffs, fmt.Sprintf("%s: %d bytes unparsed", d.Code(), s.Unparsed[d]))
		}
		for id := range w.Opened {
			opened[id] = true
		}
	}
	cw, sw := smuxtest.CountWire(c2s, yam), smuxtest.CountWire(s2c, yam)
	open := 0
	for id := range opened {
		if !cw.Fins[id] || !sw.Fins[id] {
			open++
		}
	}
	if s.Total != uint64(len(opened)) || s.Open != open {
		diffs = append(diffs, fmt.Sprintf("streams: %d opened, %d open; the wire %d opened, %d open", s.Total, s.Open, len(opened), open))
	}
	return strings.Join(diffs, "; ")
}

// agree waits until countsDiffer finds nothing, failing t with the last
// difference after 10 s.
func agree(t *testing.T, what string, reg *live.Registry, recC, recS *smuxtest.RecordingConn, yam bool) {
	t.Helper()
	var diff string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if diff = countsDiffer(reg, recC.Bytes(), recS.Bytes(), yam); diff == "" {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Errorf("%s's counts differ from the wire's: %s", what, diff)
}

// healthyCfg are thresholds short enough that a healthy session's
// traffic, evaluated as it runs and for a while after, would open a
// finding if muxtop took it for one.
var healthyCfg = live.FindingsConfig{LeakAfter: time.Second, StallAfter: time.Second, BlockedAfter: time.Second, UnansweredAfter: time.Second, Churn: -1}

// openedCodes returns the codes of the findings reg opened.
func openedCodes(reg *live.Registry) []string {
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var codes []string
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			codes = append(codes, r.Finding.Code.String()+": "+r.Finding.Text)
		}
	}
	return codes
}

// TestTransportCountsExact: over each transport and mux, both ends
// tapped, concurrent streams of 1 byte to 300 KB each way (smux splits the
// large ones into frames of at most 32 KiB; a message conn's Read returns
// part of a message, and a pipe's part of a Write): every frame and byte
// the tap counts, by command or type and direction, and every stream
// opened and closed, equals an independent count of the raw bytes each end
// wrote, at both ends. Evaluated as it runs and over 1.5 s after it with
// thresholds of 1 s, none opens after, and none that opened as it ran is
// left open.
func TestTransportCountsExact(t *testing.T) {
	for _, tr := range smuxtest.Transports() {
		for _, m := range transportMuxes {
			t.Run(tr.Name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				cli, srv, regC, regS, recC, recS := tappedOver(t, tr, m.mux)
				want := map[string]string{"tls": "tls", "unix": "unix", "pipe": "pipe", "message": "udp"}[tr.Name]
				for _, reg := range []*live.Registry{regC, regS} {
					if got := reg.Snapshot().Sessions[0].Info.Transport; got != want {
						t.Errorf("transport %q, want %q", got, want)
					}
				}
				go serveSized(srv)
				stop := make(chan struct{})
				var evals sync.WaitGroup
				evals.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						now := time.Now()
						regC.Evaluate(now, healthyCfg)
						regS.Evaluate(now, healthyCfg)
					}
				})
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for _, n := range []int{1, 1000, 40_000, 70_000, 300_000, 5} {
					wg.Go(func() {
						if err := askSized(cli, n); err != nil {
							errs <- fmt.Errorf("%d bytes: %w", n, err)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				agree(t, "the client's tap", regC, recC, recS, m.mux.Yamux())
				agree(t, "the server's tap", regS, recC, recS, m.mux.Yamux())
				close(stop)
				evals.Wait()
				for _, reg := range []*live.Registry{regC, regS} {
					// As it ran, the thresholds were against the machine's
					// time: one that held a goroutine for a second (most runs
					// of -race -cpu 1,2 on a loaded machine) opened findings
					// on these healthy sessions, a window stalled, a stream
					// unanswered or idle unclosed, a write blocked; the
					// session's own progress then resolved them. Said, not
					// failed. What the traffic left is judged by time given,
					// 1.5 s of quiet after it, when nothing is in flight.
					ran := openedCodes(reg)
					if len(ran) > 0 {
						t.Logf("findings opened as the session ran (on a loaded machine, its goroutines held): %q", ran)
					}
					now := time.Now()
					for d := time.Duration(0); d <= 1500*time.Millisecond; d += 50 * time.Millisecond {
						reg.Evaluate(now.Add(d), healthyCfg)
					}
					if codes := openedCodes(reg)[len(ran):]; len(codes) > 0 {
						t.Errorf("findings on a healthy session after its traffic: %q", codes)
					}
					for _, f := range reg.Snapshot().Findings {
						if f.Resolved.IsZero() {
							t.Errorf("finding open on a healthy session after its traffic: %s %s", f.Code, f.Text)
						}
					}
				}
			})
		}
	}
}

// readRecorder keeps what a conn read.
type readRecorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *readRecorder) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *readRecorder) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// TestTransportTLSListener: a server taps the TLS listener it serves
// (tap.WrapListener(tls.NewListener(ln, cfg), …)), whose conns are
// *tls.Conn not yet handshaken: the tap sees the mux in plaintext, its
// session's transport is "tls", and its counts equal what the client's
// TLS conn wrote and read, smux v2 and yamux.
func TestTransportTLSListener(t *testing.T) {
	for _, m := range transportMuxes[1:] {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ccfg, scfg := smuxtest.TLSConfigs(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			reg := live.New(live.Config{})
			tl := tap.WrapListener(tls.NewListener(ln, scfg), reg, "tls")
			defer tl.Close()
			accepted := make(chan smuxtest.Session, 1)
			go func() {
				c, err := tl.Accept()
				if err != nil {
					close(accepted)
					return
				}
				srv, err := m.mux.Server(c)
				if err != nil {
					c.Close()
					close(accepted)
					return
				}
				accepted <- srv
				serveSized(srv)
			}()
			tc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := &readRecorder{Conn: tc}
			wrec := &smuxtest.RecordingConn{Conn: rec}
			cli, err := m.mux.Client(wrec)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			for _, n := range []int{10, 100_000} {
				if err := askSized(cli, n); err != nil {
					t.Fatal(err)
				}
			}
			if srv := <-accepted; srv != nil {
				defer srv.Close()
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				diff := countsDiffer(reg, wrec.Bytes(), rec.Bytes(), m.mux.Yamux())
				if diff == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the tapped server's counts differ from the wire's: %s", diff)
				}
			}
			if s := reg.Snapshot().Sessions[0]; s.Info.Transport != "tls" {
				t.Errorf("transport %q, want tls", s.Info.Transport)
			}
		})
	}
}
