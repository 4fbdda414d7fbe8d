package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/xtaci/smux"
)

// wireCase is a connection made through `muxtop attach`: its upstream
// serves one connection, counting what it writes; its client talks, with
// what it writes counted too. The two counts are the oracle of the wire
// bytes, apart from any tap.
type wireCase struct {
	name  string
	flags []string // attach's and read's flags
	// serve serves the upstream's end of a connection, whose writes rc
	// counts; client talks over the client's end, whose writes rc counts.
	serve, client func(t *testing.T, c net.Conn, rc *recConn)
	// unparsed is, from the wire, the bytes that no frame holds per direction.
	unparsed func(raw [2]int) [2]int
	// readPort: read picks the connection by its port, as a connection
	// that is not a mux needs.
	readPort bool
}

// wireCases are a normal smux session, a yamux one after a one-byte
// prefix (--skip 1, as Consul's RPC port), and a connection that is not
// a mux at all, decoded as one.
var wireCases = []wireCase{
	{
		name: "smux",
		serve: func(t *testing.T, c net.Conn, rc *recConn) {
			sess, err := smux.Server(rc, smuxtest.Config(2))
			if err != nil {
				return
			}
			echoStreams(func() (io.ReadWriteCloser, error) { return sess.AcceptStream() })
			sess.Close()
		},
		client: func(t *testing.T, c net.Conn, rc *recConn) {
			cli, err := smux.Client(rc, smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			echoThrough(t, func() (io.ReadWriteCloser, error) { return cli.OpenStream() })
			cli.Close()
		},
		unparsed: func([2]int) [2]int { return [2]int{} },
	},
	{
		name:  "yamux after a prefix",
		flags: []string{"--protocol", "yamux", "--skip", "1"},
		serve: func(t *testing.T, c net.Conn, rc *recConn) {
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				return
			}
			sess, err := hyamux.Server(rc, quietYamux())
			if err != nil {
				return
			}
			echoStreams(func() (io.ReadWriteCloser, error) { return sess.AcceptStream() })
			sess.Close()
		},
		client: func(t *testing.T, c net.Conn, rc *recConn) {
			if _, err := rc.Write([]byte{0x04}); err != nil { // Consul's RPC type: counted on the wire
				t.Fatal(err)
			}
			cli, err := hyamux.Client(rc, quietYamux())
			if err != nil {
				t.Fatal(err)
			}
			echoThrough(t, func() (io.ReadWriteCloser, error) { return cli.OpenStream() })
			cli.Close()
		},
		unparsed: func([2]int) [2]int { return [2]int{1, 0} },
	},
	{
		name: "not a mux",
		serve: func(t *testing.T, c net.Conn, rc *recConn) {
			io.Copy(rc, c)
		},
		client: func(t *testing.T, c net.Conn, rc *recConn) {
			req := "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 20) + "\r\n"
			if _, err := io.WriteString(rc, req); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
				t.Fatal(err)
			}
		},
		unparsed: func(raw [2]int) [2]int { return raw },
		readPort: true,
	},
}

// echoStreams echoes every stream accept gives until it fails.
func echoStreams(accept func() (io.ReadWriteCloser, error)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer st.Close()
			io.Copy(st, st)
		})
	}
}

// echoThrough sends requests of a few sizes on streams open opens, one
// after the other, and reads each one's echo whole.
func echoThrough(t *testing.T, open func() (io.ReadWriteCloser, error)) {
	t.Helper()
	for i, size := range []int{10, 1000, 70_000} {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		req := bytes.Repeat([]byte{byte('a' + i)}, size)
		var resp []byte
		done := make(chan error, 1)
		go func() {
			var err error
			resp, err = io.ReadAll(st)
			done <- err
		}()
		if _, err := st.Write(req); err != nil {
			t.Fatal(err)
		}
		// A half-close: smux's CloseWrite sends FIN, as yamux's Close does.
		half := st.Close
		if cw, ok := st.(interface{ CloseWrite() error }); ok {
			half = cw.CloseWrite
		}
		if err := half(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil || len(resp) != size {
			t.Fatalf("echo of %d bytes: %d, %v", size, len(resp), err)
		}
		st.Close()
	}
}

// wireRun is what one run of attach over a wireCase reported: the wire
// bytes and unparsed bytes per direction, by the summary and by a scrape
// of its metrics, and the raw bytes the two ends wrote.
type wireRun struct {
	raw                       [2]int
	summary, summaryUnparsed  [2]int
	metrics, metricsUnparsed  [2]int
	stdout                    string
	upstreamPort, pcap, where string
}

// runWireCase runs attach with output out (and --write file for json)
// over one connection of c.
func runWireCase(t *testing.T, c wireCase, out string) wireRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan *recConn, 1)
	go func() { // serves one connection, then ends
		conn, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		rc := &recConn{Conn: conn}
		c.serve(t, conn, rc)
		conn.Close()
		served <- rc
	}()
	var r wireRun
	_, r.upstreamPort, _ = net.SplitHostPort(ln.Addr().String())
	args := append([]string{"attach", ln.Addr().String(), "--listen", "127.0.0.1:0", "--output", out, "--metrics", "127.0.0.1:0"}, c.flags...)
	if out == "json" {
		r.pcap = filepath.Join(t.TempDir(), "attach.pcapng")
		args = append(args, "--write", r.pcap)
	}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, args, &stdout, &stderr) }()
	var addr, metrics string
	smuxtest.Eventually(t, "attach's listen address and metrics on stderr", func() bool {
		if m := attachWhere.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if m := metricsURL.FindStringSubmatch(stderr.String()); m != nil {
			metrics = m[1]
		}
		return addr != "" && metrics != ""
	})

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recConn{Conn: conn}
	c.client(t, conn, rc)
	conn.Close()
	srv := <-served
	if srv == nil {
		t.Fatal("the upstream accepted no connection")
	}
	r.raw = [2]int{len(rc.bytes()), len(srv.bytes())}

	var exposition map[string]float64
	smuxtest.Eventually(t, "the session to end in the metrics", func() bool {
		exposition = scrape(t, metrics)
		return exposition["muxtop_sessions_opened_total"] == 1 && exposition["muxtop_sessions_live"] == 0
	})
	for d, dir := range []string{"c2s", "s2c"} {
		for k, v := range exposition {
			if strings.HasPrefix(k, "muxtop_frame_bytes_total{") && strings.Contains(k, `direction="`+dir+`"`) {
				r.metrics[d] += int(v)
			}
		}
		r.metricsUnparsed[d] = int(exposition[`muxtop_unparsed_bytes_total{direction="`+dir+`"}`])
		r.metrics[d] += r.metricsUnparsed[d]
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("attach exit %d: %s", code, stderr.String())
	}
	r.stdout = stdout.String()
	if out == "json" {
		r.summary, r.summaryUnparsed = jsonWire(t, parseJSON(t, r.stdout).summary)
	} else {
		r.summary, r.summaryUnparsed = plainWire(t, r.stdout)
	}
	return r
}

// scrape returns the samples of an exposition by their series.
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(get(t, u)))
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// jsonWire returns a JSON summary's bytes and unparsed.
func jsonWire(t *testing.T, s map[string]any) (wire, unparsed [2]int) {
	t.Helper()
	for d, dir := range []string{"c2s", "s2c"} {
		b, ok1 := s["bytes"].(map[string]any)[dir].(float64)
		u, ok2 := s["unparsed"].(map[string]any)[dir].(float64)
		if !ok1 || !ok2 {
			t.Fatalf("summary without bytes or unparsed %s: %v", dir, s)
		}
		wire[d], unparsed[d] = int(b), int(u)
	}
	return wire, unparsed
}

var (
	plainBytes    = regexp.MustCompile(`(?m)^  bytes +→ (\d+)  ← (\d+)`)
	plainUnparsed = regexp.MustCompile(`(?m)^  bytes .*\(of which not framed[^:]*: → (\d+)  ← (\d+)\)`)
)

// plainWire returns a plain summary's bytes and the unparsed ones it
// says are among them.
func plainWire(t *testing.T, out string) (wire, unparsed [2]int) {
	t.Helper()
	m := plainBytes.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no bytes line in the plain summary:\n%s", out)
	}
	wire[0], _ = strconv.Atoi(m[1])
	wire[1], _ = strconv.Atoi(m[2])
	if m := plainUnparsed.FindStringSubmatch(out); m != nil {
		unparsed[0], _ = strconv.Atoi(m[1])
		unparsed[1], _ = strconv.Atoi(m[2])
	}
	return wire, unparsed
}

// TestWireBytesAgree: the wire bytes and the unparsed bytes are one
// count, whatever says them — the plain summary, the JSON summary, the
// metrics (frame bytes plus unparsed), and read of the capture attach
// wrote — and that count is what the two ends wrote: for a normal
// session, one after a skipped prefix, and a connection that is not a
// mux. (The UI's counts bar: tui's TestWireBytesInCountsBar.)
func TestWireBytesAgree(t *testing.T) {
	for _, c := range wireCases {
		t.Run(c.name, func(t *testing.T) {
			for _, out := range []string{"plain", "json"} {
				r := runWireCase(t, c, out)
				unparsed := c.unparsed(r.raw)
				check := func(what string, wire, unp [2]int) {
					t.Helper()
					t.Logf("%-22s wire %v unparsed %v; the ends wrote %v, %v unframed", what, wire, unp, r.raw, unparsed)
					if wire != r.raw || unp != unparsed {
						t.Errorf("%s: wire bytes %v, unparsed %v; the ends wrote %v, of which %v no frame holds", what, wire, unp, r.raw, unparsed)
					}
				}
				check(out+" summary", r.summary, r.summaryUnparsed)
				check(out+" run's metrics", r.metrics, r.metricsUnparsed)
				if out != "json" {
					continue
				}
				args := append([]string{"read", r.pcap, "-o", "json"}, c.flags...)
				if c.readPort {
					args = append(args, "--port", r.upstreamPort)
				}
				var stdout, stderr syncBuffer
				if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
				}
				wire, unp := jsonWire(t, parseJSON(t, stdout.String()).summary)
				check(fmt.Sprintf("read of --write's file"), wire, unp)
			}
		})
	}
}
