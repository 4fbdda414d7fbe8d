package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
)

// writeCaptureFile writes ps to path: pcap, or pcapng if the name ends
// in .pcapng, gzip-compressed if it ends in .gz.
func writeCaptureFile(t *testing.T, path string, ps []pcaptest.Packet) {
	t.Helper()
	var buf bytes.Buffer
	if strings.HasSuffix(path, ".pcapng") {
		pcaptest.Write(t, &buf, ps)
	} else {
		w := pcapgo.NewWriterNanos(&buf)
		if err := w.WriteFileHeader(65600, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if err := w.WritePacket(p.CI, p.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := buf.Bytes()
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b = z.Bytes()
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPlain runs read with args and plain output, and returns what it
// printed.
func readPlain(t *testing.T, args ...string) string {
	t.Helper()
	return readOK(t, append([]string{"-o", "plain"}, args...)...)
}

// TestReadRing: tcpdump captures a real yamux session, and the capture is
// split in three consecutive files, as a tcpdump ring (-C) writes them
// (one pcap, one pcapng, one gzip-compressed pcap). read given the three,
// in any order, prints what it prints of the whole capture, byte for byte,
// a filter after the files too; so it does of two captures that overlap
// in time, the session's packets dealt between them
// time by time. Before, the files
// after the first were taken for a filter: `filter "ring1.pcapng
// ring2.pcap.gz": "ring1.pcapng" is not understood`.
func TestReadRing(t *testing.T) {
	bin := tcpdumpPath(t)
	file, addr := tcpdumpOf(t, bin, "whole.pcap", func(ln net.Listener) { lastBigSession(t, ln, smuxtest.MuxOf(true)) })
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	ps := pcaptest.Read(t, f)
	f.Close()
	if len(ps) < 12 {
		t.Fatalf("the capture has %d packets", len(ps))
	}
	dir := t.TempDir()
	ring := []string{filepath.Join(dir, "ring0.pcap"), filepath.Join(dir, "ring1.pcapng"), filepath.Join(dir, "ring2.pcap.gz")}
	n := len(ps) / 3
	writeCaptureFile(t, ring[0], ps[:n])
	writeCaptureFile(t, ring[1], ps[n:2*n])
	writeCaptureFile(t, ring[2], ps[2*n:])
	// Packets of the same time go to the same file: across files, which
	// came first is not in the captures.
	var even, odd []pcaptest.Packet
	side := 0
	for i, p := range ps {
		if i > 0 && !p.CI.Timestamp.Equal(ps[i-1].CI.Timestamp) {
			side ^= 1
		}
		if side == 0 {
			even = append(even, p)
		} else {
			odd = append(odd, p)
		}
	}
	pair := []string{filepath.Join(dir, "even.pcap"), filepath.Join(dir, "odd.pcap")}
	writeCaptureFile(t, pair[0], even)
	writeCaptureFile(t, pair[1], odd)

	whole := readPlain(t, file)
	if !strings.Contains(whole, "sessions  1 (0 live, 1 ended)") {
		t.Fatalf("the whole capture:\n%s", whole)
	}
	// The plain output names no file: it is the same of any files that
	// hold the same packets.
	for _, args := range [][]string{
		{ring[2], ring[0], ring[1]},
		{ring[1], ring[2], ring[0]},
		{ring[0], ring[1], ring[2]},
		{pair[1], pair[0]},
		{pair[0], pair[1]},
	} {
		if got := readPlain(t, args...); got != whole {
			t.Errorf("read %q:\n%s\nwant, as of the whole capture:\n%s", args, got, whole)
		}
	}
	_, port, _ := strings.Cut(addr, ":")
	filtered := readPlain(t, file, "port", port)
	for _, args := range [][]string{
		{ring[1], ring[0], ring[2], "port", port},
		{ring[1], ring[0], ring[2], "--", "port", port},
	} {
		if got := readPlain(t, args...); got != filtered {
			t.Errorf("read %q:\n%s\nwant, as of the whole capture:\n%s", args, got, filtered)
		}
	}
}

// TestReadFilesErrors: read's arguments that name no file are each one
// line: a file of a ring that is not there (not a filter word "not
// understood"), standard input with files, a filter with no file, and a
// file that is no capture among others, named; a word that is neither a
// file's name nor a filter's is still the filter's error.
func TestReadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join("capture", "testdata", "base-yamux.pcapng")
	notCap := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCap, []byte("hello, this is text"), 0o644)
	missing := filepath.Join(dir, "ring.pcap9")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read", good, missing}, 1, "read: open " + missing + ": no such file or directory"},
		{[]string{"read", good, "ring.pcap9", "port", "9000"}, 1, "read: open ring.pcap9: no such file or directory"},
		{[]string{"read", good, notCap}, 1, "read " + notCap + ": capture: not a pcap or pcapng file"},
		{[]string{"read", good, "-"}, 2, "read -: standard input is read alone"},
		{[]string{"read", "--", "port", "9000"}, 2, "read takes a capture file"},
		{[]string{"read", good, "udp", "port", "53"}, 2, `"udp" is not understood`},
		{[]string{"read", good, "10.0.0.5", "and", "port", "53"}, 2, `"10.0.0.5" is not understood`},
	} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), append([]string{"read", "-o", "plain"}, tc.args[1:]...), &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != tc.code || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and one line with %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
