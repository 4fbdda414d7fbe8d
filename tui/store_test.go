package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestIngestDoesNotAllocate: a tick copies records straight from the
// registry's ring into the store, with no allocation per record.
func TestIngestDoesNotAllocate(t *testing.T) {
	c := newCapture(live.Config{History: 4096})
	s := c.open("127.0.0.1:1", "127.0.0.1:2", base)
	for i := range 500 {
		c.exchange(s, 1, uint32(3+2*i), base.Add(time.Duration(i)*time.Millisecond), "12345678")
	}
	store := newFrameStore(c.reg.Config())
	next := c.reg.Snapshot().History.Next
	allocs := testing.AllocsPerRun(20, func() {
		store.next = 1
		store.ingest(c.reg, next)
	})
	if allocs != 0 {
		t.Fatalf("ingest of %d records: %v allocations, want 0", next-1, allocs)
	}
	if n := store.tail - store.head; n != 4096 {
		t.Fatalf("store holds %d records, want as many as history, 4096", n)
	}
	r := store.get(store.tail - 1)
	if r == nil || r.Seq != next-1 {
		t.Fatalf("newest record %+v, want seq %d", r, next-1)
	}
}

// TestStoreCopiesPayloads: the store's records keep their payloads after
// the registry reuses its slots.
func TestStoreCopiesPayloads(t *testing.T) {
	c := newCapture(live.Config{History: 4})
	s := c.open("127.0.0.1:1", "127.0.0.1:2", base)
	store := newFrameStore(live.Config{History: 16, Snaplen: live.DefaultSnaplen})
	c.exchange(s, 1, 3, base, "ANSWER42")
	store.ingest(c.reg, c.reg.Snapshot().History.Next)
	c.exchange(s, 1, 5, base, "OVERWRIT")
	c.exchange(s, 1, 7, base, "OVERWRIT")
	var got []string
	for p := store.head; p < store.tail; p++ {
		got = append(got, string(store.get(p).Payload))
	}
	if got[1] != "ANSWER42" {
		t.Fatalf("payloads %q: the answer was overwritten", got)
	}
	recs, _ := c.reg.Frames(live.Query{}, nil)
	for _, r := range recs {
		if string(r.Payload) == "ANSWER42" {
			t.Fatal("the registry still holds the answer: the test proves nothing")
		}
	}
}

// Records read out of time order (a reply recorded before the request
// whose Write had not returned) are put in time order, payloads included,
// across the end of the ring: by swaps when the disorder is local, through
// a copy when it is not.
func TestStoreSortsByTime(t *testing.T) {
	tests := []struct {
		name  string
		times []int
		want  string
	}{
		{"local disorder: swaps", []int{1, 3, 2, 5, 4}, "1a 2c 3b 4e 5d"},
		// 66 swaps would be needed, more than the budget of 4 per record.
		{"reversed: a copy", []int{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, "1l 2k 3j 4i 5h 6g 7f 8e 9d 10c 11b 12a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const ring = 16
			reg := live.New(live.Config{History: ring, Snaplen: 4})
			s := newFrameStore(reg.Config())
			sess := reg.Open(live.SessionInfo{}, time.Unix(0, 0))
			base := time.Unix(100, 0)
			record := func(i, at int) {
				f := &decoder.Frame{Header: decoder.MakeHeader(1, decoder.PSH, 1, 3), Payload: []byte{byte('a' + i)}}
				sess.Record(live.ClientToServer, base.Add(time.Duration(at)*time.Second), f)
			}
			for i := range 12 { // the next batch starts at position 14 and wraps
				record(i, -10+i)
			}
			s.ingest(reg, reg.Snapshot().History.Next)
			for i, at := range tt.times {
				record(i, at)
			}
			from, to := s.ingest(reg, reg.Snapshot().History.Next)
			if from%ring+uint64(len(tt.times)) <= ring {
				t.Fatalf("batch at positions %d..%d does not wrap the %d-record ring", from, to, ring)
			}
			var got []string
			for p := from; p < to; p++ {
				got = append(got, fmt.Sprintf("%d%s", s.get(p).At.Unix()-100, s.get(p).Payload))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("records = %v, want %s", got, tt.want)
			}
		})
	}
}
