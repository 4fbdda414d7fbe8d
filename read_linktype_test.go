package main

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestReadUnsupportedLinkType checks that a capture of a link type read
// does not decode is one line that names the type by its number and says
// which captures are read, before anything is read: no summary of nothing
// on stdout.
func TestReadUnsupportedLinkType(t *testing.T) {
	name := filepath.Join(t.TempDir(), "lt.pcap")
	hdr := make([]byte, 24, 24+16+4)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 147) // LINKTYPE_USER0
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[0:], 1)
	binary.LittleEndian.PutUint32(rec[8:], 4)
	binary.LittleEndian.PutUint32(rec[12:], 4)
	if err := os.WriteFile(name, append(append(hdr, rec...), "abcd"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"read", name, "-o", "plain"}, &stdout, &stderr)
	want := "muxtop: read " + name + `: capture: link type 147 is not supported: capture on an Ethernet, loopback, Linux "any" or raw-IP (tun, WireGuard, IPIP) interface` + "\n"
	if code != 1 || stderr.String() != want || stdout.String() != "" {
		t.Errorf("exit %d, stderr %q, stdout %q; want 1, %q and nothing", code, stderr.String(), stdout.String(), want)
	}
}
