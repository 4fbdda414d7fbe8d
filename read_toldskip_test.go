package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// toldCapture records one real session over loopback TCP, its client
// end tapped with opts and recorded as --write does (the capture carries
// what the tap was told): a yamux client, or an smux v1 one, that makes
// three echoed requests and closes. It returns the capture's path and
// the server's port.
func toldCapture(t *testing.T, yam bool, opts ...tap.Option) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	var port string
	wrap := func(c net.Conn) net.Conn {
		_, port, _ = net.SplitHostPort(c.RemoteAddr().String())
		return tap.Wrap(c, live.Client, reg, "test", append(opts, tap.Record(w))...)
	}
	mux := smuxtest.MuxOf(yam)
	cc, sc := smuxtest.Conns(t)
	srv, err := mux.Server(sc)
	if err != nil {
		t.Fatal(err)
	}
	go func() { // echoes each stream until the session closes
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 4)
				if n, err := st.Read(b); err == nil {
					st.Write(b[:n])
				}
				st.Close()
			}()
		}
	}()
	cli, err := mux.Client(wrap(cc))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("RAND")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := st.Read(got); err != nil || string(got) != "RAND" {
			t.Fatalf("the echo: %q, %v", got, err)
		}
		st.Close()
	}
	cli.Close()
	srv.Close()
	smuxtest.Eventually(t, "the session to end", func() bool { return reg.Snapshot().LiveSessions == 0 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "told.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, port
}

// readFindings runs muxtop read path with args, -o json, and returns the
// summary's findings.
func readFindings(t *testing.T, path string, args ...string) []map[string]any {
	t.Helper()
	var stdout, stderr syncBuffer
	if code := run(context.Background(), append([]string{"read", path, "-o", "json"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("read %v: exit %d: %s", args, code, stderr.String())
	}
	var fs []map[string]any
	for _, f := range parseJSON(t, stdout.String()).summary["findings"].([]any) {
		fs = append(fs, f.(map[string]any))
	}
	return fs
}

// TestReadToldSkipNamesTap: read of the capture of a yamux client
// tapped with tap.WithProtocol(tap.Yamux) and tap.Skip(1) that sends no
// prefix: read skips the byte as the tap did (its capture says so),
// which cuts the client's first yamux header, and the finding names
// tap.Skip(1), not a --skip the user never gave; read with --port N
// --protocol yamux --skip 1 of the same capture names the flag. Before,
// both said "skipped by --skip 1" and "drop --skip 1". (Told the skip
// alone, read probes the connection, and may take the cut bytes for
// neither mux and skip it, with a notice: the protocol makes it decode
// them.)
func TestReadToldSkipNamesTap(t *testing.T) {
	path, port := toldCapture(t, true, tap.WithProtocol(tap.Yamux), tap.Skip(1))
	for _, tc := range []struct {
		args         []string
		skip, advice string
		not          string
	}{
		{nil, "skipped by tap.Skip(1)", "drop tap.Skip(1) from the program's tap", "--skip"},
		{[]string{"--port", port, "--protocol", "yamux", "--skip", "1"}, "skipped by --skip 1", "drop --skip 1:", "tap.Skip"},
	} {
		fs := readFindings(t, path, tc.args...)
		if len(fs) != 1 {
			t.Errorf("read %v: %d findings, want the client's PROTOCOL: %v", tc.args, len(fs), fs)
			continue
		}
		f := fs[0]
		text, advice := f["text"].(string), f["advice"].(string)
		t.Logf("read %v: %s — %s", tc.args, text, advice)
		if f["code"] != "PROTOCOL" || f["dir"] != "c2s" || f["severity"] != "warning" || !strings.Contains(text, tc.skip) ||
			!strings.HasPrefix(advice, tc.advice) || strings.Contains(text+advice, tc.not) {
			t.Errorf("read %v: %v %v %v: %q — %q; want %q and %q, no %q", tc.args, f["code"], f["dir"], f["severity"], text, advice, tc.skip, tc.advice, tc.not)
		}
	}
}
