package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// yamuxFrame returns a hashicorp/yamux frame: its 12-byte header (version
// 0, typ, flags, sid, and the payload's length, or delta for a
// WINDOW_UPDATE) and payload.
func yamuxFrame(typ uint8, flags uint16, sid, delta uint32, payload []byte) []byte {
	h := make([]byte, 12, 12+len(payload))
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], sid)
	if typ == 0 { // DATA
		delta = uint32(len(payload))
	}
	binary.BigEndian.PutUint32(h[8:], delta)
	return append(h, payload...)
}

// TestReadPlainOrderAtItsPrecision: plain output's times are truncated to
// the µs, so records that go back by the capture's own disorder, as read
// prints them in the capture's order, can print as up to a µs further
// back; the order check allows that µs fraction and no more. The capture
// is TestReadInTimeOrder's that failed ("plain output goes back 270µs in
// time: 18:19:24.470462 #3 → DATA sid 79 len 8 … REQ 100. /
// 18:19:24.470192 #2 → WINDOW_UPDATE SYN sid 79", its packets going back
// 269.333µs), crafted: two yamux sessions asking "REQ 100" in lockstep,
// each stream's request of the second session's tap stamped before, and
// queued after, the first's, as a recording goroutine descheduled between
// the two does.
func TestReadPlainOrderAtItsPrecision(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 5, 18, 19, 24, 0, time.UTC)
	b := w.Conn("127.0.0.1:58216", "127.0.0.1:41277", base) // #1 here, #2 in the failing run
	c := w.Conn("127.0.0.1:58226", "127.0.0.1:41277", base) // #2 here, #3 there
	const (
		syn, ack, fin = 1, 2, 4
		data, update  = 0, 1
	)
	c2s, s2c := live.ClientToServer, live.ServerToClient
	req, answer := []byte("REQ 100\n"), bytes.Repeat([]byte{'a'}, 100)
	for i := range 20 {
		sid := uint32(2*i + 1)
		at := base.Add(470 * time.Millisecond).Add(time.Duration(i) * 50 * time.Millisecond)
		us := func(ns int64) time.Time { return at.Add(time.Duration(ns)) }
		c.Write(c2s, us(100_000), yamuxFrame(update, syn, sid, 0, nil))
		c.Write(c2s, us(462_241), yamuxFrame(data, 0, sid, 0, req))     // .470462241
		b.Write(c2s, us(192_908), yamuxFrame(update, syn, sid, 0, nil)) // .470192908: 269.333µs back
		b.Write(c2s, us(500_000), yamuxFrame(data, 0, sid, 0, req))
		for k, s := range []tap.ConnRecorder{b, c} {
			off := int64(k) * 50_000
			s.Write(s2c, us(600_000+off), yamuxFrame(update, ack, sid, 0, nil))
			s.Write(s2c, us(610_000+off), yamuxFrame(data, 0, sid, 0, answer))
			s.Write(c2s, us(700_000+off), yamuxFrame(update, fin, sid, 0, nil))
			s.Write(s2c, us(800_000+off), yamuxFrame(update, fin, sid, 0, nil))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lockstep.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	slack := disorder(t, path)
	if slack != 269333*time.Nanosecond {
		t.Fatalf("the crafted capture goes back %v, want 269.333µs", slack)
	}

	var plain, stderr syncBuffer
	if code := run(context.Background(), []string{"read", path, "-o", "plain"}, &plain, &stderr); code != 0 {
		t.Fatalf("read -o plain: exit %d: %s", code, stderr.String())
	}
	out := plain.String()
	if !strings.Contains(out, "18:19:24.470462 #2 → DATA sid 1 len 8") || !strings.Contains(out, "18:19:24.470192 #1 → WINDOW_UPDATE SYN sid 1") {
		t.Fatalf("read did not print the frames of the failing run:\n%s", out)
	}
	checkPlainOrder(t, out, slack)
	// Still a check: a µs tighter, the same output goes back too far.
	if _, back := plainGoesBack(out, slack-time.Microsecond); len(back) == 0 {
		t.Errorf("plain output checked against %v: nothing goes back too far", slack-time.Microsecond)
	}

	// JSON's times are whole: its records go back as far as the
	// capture's packets, not a nanosecond more.
	var js syncBuffer
	stderr = syncBuffer{}
	if code := run(context.Background(), []string{"read", path, "-o", "json"}, &js, &stderr); code != 0 {
		t.Fatalf("read -o json: exit %d: %s", code, stderr.String())
	}
	var latest time.Time
	var back time.Duration
	for _, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var rec struct{ Time time.Time }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if rec.Time.IsZero() {
			continue
		}
		back = max(back, latest.Sub(rec.Time))
		if rec.Time.After(latest) {
			latest = rec.Time
		}
	}
	if back != slack {
		t.Errorf("JSON goes back %v, the capture %v", back, slack)
	}
}
