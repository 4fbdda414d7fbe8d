package tui

import (
	"testing"
	"time"

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
