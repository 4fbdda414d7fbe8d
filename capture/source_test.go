package capture_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestGzip checks that a gzip-compressed capture, told by its magic
// number, not its name, reads as the capture itself does.
func TestGzip(t *testing.T) {
	raw, err := os.ReadFile(fixture("v1", "base"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	read := func(b []byte) string {
		file, err := capture.Open(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		reg := live.New(live.Config{})
		if err := capture.NewReader(capture.Config{Registry: reg}).Run(context.Background(), file); err != nil {
			t.Fatal(err)
		}
		return counts(reg.Snapshot())
	}
	if a, b := read(raw), read(gz.Bytes()); a != b || !strings.Contains(a, "sessions 1") {
		t.Fatalf("plain %s\ngzip  %s", a, b)
	}
}

// TestNotACapture checks the one-line errors for what is no capture.
func TestNotACapture(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty or too short"},
		{"text", "GET / HTTP/1.1\r\n", "not a pcap or pcapng file (it begins 47 45 54 20)"},
		{"gzip of nothing", "\x1f\x8b", "gzip"},
		// Cut inside the header: as short as an empty file, not "pcap:
		// unexpected EOF".
		{"pcap header cut", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "empty or too short"},
		{"pcapng header cut", "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c", "empty or too short"},
		{"gzip header cut", "\x1f\x8b\x08\x00\x00\x00", "empty or too short"},
		{"gzip of a cut pcap header", gzipped("\xd4\xc3\xb2\xa1\x02\x00"), "empty or too short"},
		{"gzip cut before its pcap header ends", gzipped("\xd4\xc3\xb2\xa1" + strings.Repeat("\x00", 40))[:14], "empty or too short"},
		// Compressed otherwise than gzip, as a bug report's attachment may
		// be: say so, and how to read it.
		{"xz", "\xfd7zXZ\x00\x00\x04", "xz-compressed: xz -dc FILE | muxtop read -"},
		{"zstd", "\x28\xb5\x2f\xfd\x24\x00", "zstd-compressed: zstd -dc FILE | muxtop read -"},
		{"bzip2", "BZh91AY&SY", "bzip2-compressed: bzip2 -dc FILE | muxtop read -"},
		{"lz4", "\x04\x22\x4d\x18\x64\x40", "lz4-compressed: lz4 -dc FILE | muxtop read -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := capture.Open(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// gzipped returns s gzip-compressed.
func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

// TestTruncatedCapture checks that a capture cut in the middle of a
// packet, as one still being written, reads up to the cut and then says so.
func TestTruncatedCapture(t *testing.T) {
	raw, err := os.ReadFile(fixture("v1", "base"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := capture.Open(bytes.NewReader(raw[:len(raw)/2+3]))
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	err = capture.NewReader(capture.Config{Registry: reg}).Run(context.Background(), file)
	if err == nil || !strings.HasPrefix(err.Error(), "capture: ") {
		t.Fatalf("got %v, want a capture: error", err)
	}
	if reg.Snapshot().Totals.Total() == 0 {
		t.Fatal("nothing read before the cut")
	}
}

func TestParseFilter(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.5:9000")
	b := netip.MustParseAddrPort("10.0.0.9:51000")
	c := netip.MustParseAddrPort("10.0.0.7:51001")
	for _, tc := range []struct {
		expr    string
		matchAB bool // a and b
		matchBC bool // b and c
		err     string
	}{
		{"", true, true, ""},
		{"port 9000", true, false, ""},
		{"tcp port 9000", true, false, ""},
		{"host 10.0.0.5 and port 9000", true, false, ""},
		{"host 10.0.0.9", true, true, ""},
		{"host 10.0.0.9 && port 51001", false, true, ""},
		{"port", false, false, "port needs a value"},
		{"port 0", false, false, "not a port number"},
		{"host example.com", false, false, "not an IP address"},
		{"udp port 53", false, false, `"udp" is not understood`},
		// read FILE -- port 9000 -o plain: -- ended the flags.
		{"port 9000 -o plain", false, false, `"-o" is a flag, not a filter's word: flags go before --`},
	} {
		f, err := capture.ParseFilter(tc.expr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want %q", tc.expr, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := f.Match(a, b); got != tc.matchAB {
			t.Errorf("%q matches a-b: %v, want %v", tc.expr, got, tc.matchAB)
		}
		if got := f.Match(b, c); got != tc.matchBC {
			t.Errorf("%q matches b-c: %v, want %v", tc.expr, got, tc.matchBC)
		}
	}
}

// TestFilterSkips reads the base fixture with a filter that picks none of
// its connection: nothing is decoded, the connection is counted skipped.
func TestFilterSkips(t *testing.T) {
	f, _ := capture.ParseFilter("port 1")
	s, stats := readFile(t, fixture("v1", "base"), f)
	if len(s.Sessions) != 0 || stats.Connections != 1 || stats.Skipped != 1 || stats.Decoded != 0 {
		t.Fatalf("%d sessions, stats %+v; want none and one connection skipped", len(s.Sessions), stats)
	}
}

// TestNotSmuxSkipped writes a capture of two connections, one carrying
// HTTP and one smux, and reads it without a filter: the smux one is
// decoded, the HTTP one counted and skipped; with a filter that picks the
// HTTP one, it is decoded and its bytes are a violation, as attach shows.
func TestNotSmuxSkipped(t *testing.T) {
	path := writeCapture(t, func(w *pcapout.Writer) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		web := w.Conn("127.0.0.1:40001", "127.0.0.1:8080", at)
		web.Write(live.ClientToServer, at, []byte("GET /rand HTTP/1.1\r\nHost: x\r\n\r\n"))
		web.Write(live.ServerToClient, at, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		mux := w.Conn("127.0.0.1:40002", "127.0.0.1:9000", at)
		for _, f := range []string{v1("\x00", 3, ""), v1("\x02", 3, "RAND"), v1("\x01", 3, "")} {
			mux.Write(live.ClientToServer, at, []byte(f))
		}
		for _, c := range []tap.ConnRecorder{web, mux} {
			c.End(live.ClientToServer, at)
			c.End(live.ServerToClient, at)
		}
	})
	s, stats := readFile(t, path, capture.Filter{})
	if len(s.Sessions) != 1 || s.Sessions[0].Info.Server != "127.0.0.1:9000" || stats.Skipped != 1 || stats.Decoded != 1 || s.Totals.Total() != 3 {
		t.Fatalf("%d sessions, %d frames, stats %+v; want the smux one, 3 frames, the HTTP one skipped", len(s.Sessions), s.Totals.Total(), stats)
	}
	s, _ = readFile(t, path, capture.Port(8080))
	if len(s.Sessions) != 1 || s.Violations == 0 {
		t.Fatalf("picked by port: %d sessions, %d violations; want the HTTP one, flagged", len(s.Sessions), s.Violations)
	}
}

// v1 returns a v1 frame of cmd on sid.
func v1(cmd string, sid uint32, payload string) string {
	h := decoder.MakeHeader(1, decoder.Cmd(cmd[0]), uint16(len(payload)), sid)
	return string(h[:]) + payload
}

// TestTruncatedAtEveryCut checks a capture cut at every offset of its
// first packets: at a packet's (pcapng: a block's) boundary it reads to
// the cut without error; anywhere else, in the first packet too and just
// after a pcap record's header (no byte of its data), it ends with
// ErrTruncated, as a file still being written, rather than with a bare
// "unexpected EOF" from Open or as a capture that ended.
func TestTruncatedAtEveryCut(t *testing.T) {
	for _, name := range []string{"goyamux-idle-reset.pcap", "base-v1.pcapng"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		// Where each record (block) begins, from the first packet's on.
		var bounds []int
		if strings.HasSuffix(name, ".pcapng") {
			for off := 0; off+8 <= len(raw) && len(bounds) < 5; {
				typ, n := binary.LittleEndian.Uint32(raw[off:]), int(binary.LittleEndian.Uint32(raw[off+4:]))
				if typ == 6 || len(bounds) > 0 { // the first Enhanced Packet Block on
					bounds = append(bounds, off)
				}
				off += n
			}
		} else {
			for off := 24; off+16 <= len(raw) && len(bounds) < 5; off += 16 + int(binary.LittleEndian.Uint32(raw[off+8:])) {
				bounds = append(bounds, off)
			}
		}
		for cut := bounds[0]; cut <= bounds[len(bounds)-1]; cut++ {
			file, err := capture.Open(bytes.NewReader(raw[:cut]))
			if err != nil {
				t.Fatalf("%s cut at %d: Open: %v", name, cut, err)
			}
			// A small history: the default's 100,000 slots, allocated
			// and zeroed for each of the 700 cuts, were 15 s of the test.
			reg := live.New(live.Config{History: 64})
			err = capture.NewReader(capture.Config{Registry: reg}).Run(context.Background(), file)
			if slices.Contains(bounds, cut) {
				if err != nil {
					t.Errorf("%s cut at %d, a packet's boundary: %v", name, cut, err)
				}
			} else if !errors.Is(err, capture.ErrTruncated) {
				t.Errorf("%s cut at %d, in a packet: %v, want ErrTruncated", name, cut, err)
			}
		}
	}
}
