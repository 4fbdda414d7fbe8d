package capture_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/tap"
)

// TestJoinedFakeSynKeepsGuess reads tcpdump's captures of a client that
// writes 6000 bytes on its stream (smux v1, v2, yamux; "fakev1": a v1
// tail on a v2 session) whose last bytes look like one header that opens
// an even stream (smux: SYN sid 2, 8 bytes; yamux: a window update with
// SYN, sid 2, 12 bytes), each capture begun inside that payload, the
// server's port the lower (the port guess right). Then the client closes
// (fin), the capture ends (captureend), or, 2.5 s later, the server
// answers and the client opens a second stream (wait). Each is read as a
// file is, and as a told connection is (--protocol and a host filter, as
// a Live viewer joins one), which orients from the first packet on.
//
// One header-like tail where a direction's bytes end is no evidence
// against the port guess, nor is a direction quiet for orientWait: the
// roles stay the guess's. Before, orienting took the tail for the
// server's SYN, a chain of one, at the direction's FIN, the capture's end
// or, for the told connection, at orientWait while the direction was
// still open, and swapped client and server.
//
// The wait captures read untold are left out: there protocol detection
// itself starts at the fake header, which chains with the client's next
// frames (UPD, SYN, PSH): a chain of four, as real as any, which read
// took for the server's SYN before 7a45648 too.
func TestJoinedFakeSynKeepsGuess(t *testing.T) {
	files, err := filepath.Glob("testdata/fakesyn-*.pcapng")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	host, err := capture.ParseFilter("host 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		proto := tap.Smux
		if strings.Contains(file, "yamux") {
			proto = tap.Yamux
		}
		for _, told := range []bool{false, true} {
			if !told && strings.HasSuffix(file, "-wait.pcapng") {
				continue
			}
			cfg := capture.Config{}
			if told {
				cfg = capture.Config{Filter: host, Protocol: proto}
			}
			t.Run(fmt.Sprintf("%s/told=%v", filepath.Base(file), told), func(t *testing.T) {
				f, err := os.Open(file)
				if err != nil {
					t.Fatal(err)
				}
				ps := pcaptest.Read(t, f)
				f.Close()
				// The capture begins with a segment of the client's payload.
				client := ps[0].TCP.SrcPort
				reg, _ := pcaptest.ReadFile(t, file, cfg)
				snap := reg.Snapshot()
				if len(snap.Sessions) != 1 {
					t.Fatalf("%d sessions, want 1", len(snap.Sessions))
				}
				s := snap.Sessions[0]
				if !strings.HasSuffix(s.Info.Client, fmt.Sprintf(":%d", client)) {
					t.Errorf("read's session is %s → %s, want the client at port %d, whose payload the capture begins in", s.Info.Client, s.Info.Server, client)
				}
			})
		}
	}
}
