package pcapout_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestLiveHeartbeat: a viewer's stream of a real smux session that goes
// idle carries heartbeats, pcapng Interface Statistics Blocks as pcapgo's
// reader gives them (StatisticsCallback), stamped after the packets
// before them and never after the moment they were read: the time up to
// which everything tapped was sent, which muxtop read's clock goes on by
// while the program is idle. Before, an idle program's stream carried
// nothing at all, and a reader could not tell it from a stalled stream:
//
//	no heartbeat in the idle stream: the reader cannot tell an idle program from a stalled stream
func TestLiveHeartbeat(t *testing.T) {
	m := livecaptest.Muxes()[1] // smux v2, keepalive off: idle is idle
	lc := pcapout.NewLive()
	url := serveLive(t, lc)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	viewers(t, lc, 1)

	// What the reader read, in its order: packets (beat false) and
	// heartbeats, each with its time and, for a heartbeat, the wall time
	// it was read. The callback runs in the reading goroutine, amid its
	// reads of packets.
	type read struct {
		beat     bool
		at, when time.Time
	}
	var mu sync.Mutex
	var got []read
	add := func(r read) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	}
	opts := pcapgo.DefaultNgReaderOptions
	opts.StatisticsCallback = func(_ int, st pcapgo.NgInterfaceStatistics) {
		add(read{true, st.LastUpdate, time.Now()})
	}
	go func() { // ends as the body is closed
		ng, err := pcapgo.NewNgReader(resp.Body, opts)
		if err != nil {
			return
		}
		for {
			_, ci, err := ng.ReadPacketData()
			if err != nil {
				return
			}
			add(read{false, ci.Timestamp, time.Time{}})
		}
	}()

	reg := live.New(live.Config{})
	cli := livecaptest.Tapped(t, m, reg, lc)
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	livecaptest.RoundTrip(t, st, "then-idle")
	livecaptest.Settle(t, reg, 1)
	// Two heartbeats after the session's packets: the program is idle.
	deadline := time.Now().Add(10 * time.Second) // a bound for failing, not a measure
	for {
		mu.Lock()
		rs := slices.Clone(got)
		mu.Unlock()
		var latest, beat time.Time
		packets, after := 0, 0
		for i, r := range rs {
			if !r.beat {
				packets, after = packets+1, 0
				if r.at.After(latest) {
					latest = r.at
				}
				continue
			}
			after++
			if r.at.Before(latest) {
				t.Fatalf("heartbeat %d at %v, before a packet at %v it follows", i, r.at, latest)
			}
			if r.at.After(r.when) {
				t.Fatalf("heartbeat %d at %v, after it was read at %v: it promises a time not reached", i, r.at, r.when)
			}
			if r.at.Before(beat) {
				t.Fatalf("heartbeat %d at %v goes back from %v", i, r.at, beat)
			}
			beat = r.at
		}
		if packets >= 5 && after >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat in the idle stream: the reader cannot tell an idle program from a stalled stream (%d packets read, %d heartbeats after them)", packets, after)
		}
		time.Sleep(20 * time.Millisecond) // polling the reader, which has no event to await
	}
}
