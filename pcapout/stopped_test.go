package pcapout_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// stats reads the pcapng capture b and returns its Interface Statistics
// Blocks, and how many packets came before the first of them and after
// the last.
func stats(t *testing.T, b []byte) (isbs []pcapgo.NgInterfaceStatistics, before, after int) {
	t.Helper()
	opts := pcapgo.DefaultNgReaderOptions
	opts.StatisticsCallback = func(_ int, st pcapgo.NgInterfaceStatistics) { isbs = append(isbs, st) }
	ng, err := pcapgo.NewNgReader(bytes.NewReader(b), opts)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := ng.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return isbs, before, after
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(isbs) == 0 {
			before++
		} else {
			after++
		}
	}
}

// TestCloseWritesWhereStopped: Close ends a file that holds packets with
// where the capture stopped, as dumpcap does: an Interface Statistics
// Block after the last packet, its time (and isb_endtime) the close's,
// so that a connection with no FIN before it reads as open when the
// capture stopped, and muxtop read's clock reaches the capture's end
// (a heartbeat) rather than stopping at the last packet. A file with no
// packet gets none.
func TestCloseWritesWhereStopped(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute)
	c := w.Conn("127.0.0.1:40000", "127.0.0.1:9000", at)
	c.Write(live.ClientToServer, at, []byte("ping"))
	closing := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	isbs, before, after := stats(t, buf.Bytes())
	if len(isbs) != 1 || before == 0 || after != 0 {
		t.Fatalf("%d statistics blocks, %d packets before, %d after; want one, after every packet", len(isbs), before, after)
	}
	st := isbs[0]
	if st.LastUpdate.Before(closing) || st.LastUpdate.After(time.Now()) || !st.EndTime.Equal(st.LastUpdate) {
		t.Errorf("the block: time %v, end time %v; want the close's time (%v) both", st.LastUpdate, st.EndTime, closing)
	}

	buf.Reset()
	if w, err = pcapout.New(&buf, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if isbs, _, _ := stats(t, buf.Bytes()); len(isbs) != 0 {
		t.Errorf("a capture with no packet: %d statistics blocks, want none", len(isbs))
	}
}
