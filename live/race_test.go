package live_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestConcurrentFeeders runs a feeder per direction of many sessions, as
// taps do, while a front end takes snapshots and reads history. Counters
// stay exact and every record claimed in history is either readable,
// evicted or counted as dropped. Run it with -race.
func TestConcurrentFeeders(t *testing.T) {
	const (
		sessions = 16
		cycles   = 1000 // per session: 3 frames → and 2 ← each
		history  = 4096
	)
	reg := live.New(live.Config{History: history, ClosedStreams: 100, EndedSessions: 4, Anomalies: 10})

	// payload tags a PSH with its session and cycle so a reader can tell a
	// torn record from a whole one.
	payload := func(sess uint64, i int, d live.Dir) []byte {
		var b [9]byte
		binary.LittleEndian.PutUint32(b[:], uint32(sess))
		binary.LittleEndian.PutUint32(b[4:], uint32(i))
		b[8] = byte(d)
		return b[:]
	}
	// The client opens, writes and closes stream 3+2i; the server answers
	// and closes. The two directions race as they do on a real connection,
	// so a reply can arrive before its SYN (an UNKNOWN_STREAM anomaly).
	client := func(s *live.Session) {
		var off int64
		for i := range cycles {
			sid := uint32(3 + 2*i)
			for _, f := range []*decoder.Frame{
				{Header: decoder.MakeHeader(1, decoder.SYN, 0, sid)},
				{Header: decoder.MakeHeader(1, decoder.PSH, 9, sid), Payload: payload(s.ID(), i, c2s)},
				{Header: decoder.MakeHeader(1, decoder.FIN, 0, sid)},
			} {
				f.Offset = off
				off += f.Size()
				s.Record(c2s, time.Now(), f)
			}
		}
		// A tap ends the session when one direction fails; the other
		// direction may still be delivering, even after the session is
		// forgotten (EndedSessions is small).
		s.End(time.Now(), live.EOF, nil)
	}
	server := func(s *live.Session) {
		var off int64
		for i := range cycles {
			sid := uint32(3 + 2*i)
			for _, f := range []*decoder.Frame{
				{Header: decoder.MakeHeader(1, decoder.PSH, 9, sid), Payload: payload(s.ID(), i, s2c)},
				{Header: decoder.MakeHeader(1, decoder.FIN, 0, sid)},
			} {
				f.Offset = off
				off += f.Size()
				s.Record(s2c, time.Now(), f)
			}
		}
	}

	var feeders sync.WaitGroup
	for range sessions {
		s := reg.Open(live.SessionInfo{Client: "c", Server: "s"}, time.Now())
		feeders.Go(func() { client(s) })
		feeders.Go(func() { server(s) })
	}

	// The front end: snapshots and history reads while feeders run.
	done := make(chan struct{})
	var reader sync.WaitGroup
	var readErr error
	var read, gaps uint64
	reader.Go(func() {
		var cursor uint64 = 1
		var prevTotal uint64
		var recs []live.Record
		check := func() error {
			snap := reg.Snapshot()
			if tot := snap.Totals.Total(); tot < prevTotal {
				return fmt.Errorf("totals went back from %d to %d", prevTotal, tot)
			} else {
				prevTotal = tot
			}
			recs, _ = reg.Frames(live.Query{From: cursor, Max: 1000}, recs[:0])
			for _, r := range recs {
				if r.Seq < cursor {
					return fmt.Errorf("record seq %d before cursor %d", r.Seq, cursor)
				}
				gaps += r.Seq - cursor
				read++
				cursor = r.Seq + 1
				if r.Kind == live.FrameRecord && r.Header.Cmd() == decoder.PSH {
					p := r.Payload
					if len(p) != 9 || uint64(binary.LittleEndian.Uint32(p)) != r.Session ||
						3+2*binary.LittleEndian.Uint32(p[4:]) != r.Header.StreamID() || live.Dir(p[8]) != r.Dir {
						return fmt.Errorf("torn record %+v", r)
					}
				}
			}
			return nil
		}
		for {
			select {
			case <-done:
				// Catch up with everything fed.
				for range history {
					if err := check(); err != nil {
						readErr = err
						return
					}
					if cursor == reg.Snapshot().History.Next {
						return
					}
				}
				readErr = fmt.Errorf("could not catch up: cursor %d", cursor)
				return
			default:
			}
			if err := check(); err != nil {
				readErr = err
				return
			}
		}
	})
	feeders.Wait()
	close(done)
	reader.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}

	snap := reg.Snapshot()
	var want live.Counts
	n := uint64(sessions * cycles)
	want.Frames[c2s][decoder.SYN], want.Bytes[c2s][decoder.SYN] = n, 8*n
	want.Frames[c2s][decoder.PSH], want.Bytes[c2s][decoder.PSH] = n, 17*n
	want.Frames[c2s][decoder.FIN], want.Bytes[c2s][decoder.FIN] = n, 8*n
	want.Frames[s2c][decoder.PSH], want.Bytes[s2c][decoder.PSH] = n, 17*n
	want.Frames[s2c][decoder.FIN], want.Bytes[s2c][decoder.FIN] = n, 8*n
	if snap.Totals != want {
		t.Errorf("totals =\n%+v\nwant\n%+v", snap.Totals, want)
	}
	if snap.StreamsTotal != n {
		t.Errorf("streams total = %d, want %d", snap.StreamsTotal, n)
	}
	if got := snap.Forgotten.Sessions + uint64(len(snap.Sessions)); got != sessions || len(snap.Sessions) != 4 || snap.LiveSessions != 0 {
		t.Errorf("sessions: %d kept + %d forgotten, %d live; want 4 + %d, 0", len(snap.Sessions), snap.Forgotten.Sessions, snap.LiveSessions, sessions-4)
	}

	// Every record claimed is a frame or a session event; each is held,
	// evicted, or was dropped (a dropped record's slot is always already
	// taken by a newer one, so it is among the evicted seqs).
	h := snap.History
	events := uint64(2 * sessions)
	if claimed := h.Next - 1; claimed != snap.Totals.Total()+events {
		t.Errorf("history claimed %d records, want %d frames + %d events", claimed, snap.Totals.Total(), events)
	}
	if h.Cap != history || h.Len() != history || h.Evicted != h.First-1 || h.Dropped > h.Evicted {
		t.Errorf("history = %+v, len %d: want full, evicted = first-1, dropped <= evicted", h, h.Len())
	}
	if all := allRecords(reg); len(all) != h.Len() {
		t.Errorf("read %d records at rest, want %d", len(all), h.Len())
	}
	if read+gaps != h.Next-1 {
		t.Errorf("reader saw %d records and skipped %d, want %d in all", read, gaps, h.Next-1)
	}
	t.Logf("history %+v; the reader saw %d records, skipped %d", h, read, gaps)
}

// TestConcurrentSnapshotOfOneSession takes snapshots of a session that a
// feeder changes, checking each picture is consistent with itself.
func TestConcurrentSnapshotOfOneSession(t *testing.T) {
	reg := live.New(live.Config{ClosedStreams: 10})
	sc := openSession(reg, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 2000 {
			sc.feed(exchange(uint32(3+2*i), "RAND", "12345678")...)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			ss := reg.Snapshot().Session(sc.s.ID())
			var streams uint64 = ss.Closed.Streams
			frames := ss.Closed.Frames
			open := 0
			for _, st := range ss.Streams {
				streams++
				frames[0] += st.Frames[0]
				frames[1] += st.Frames[1]
				if st.State.Live() {
					open++
				}
			}
			if streams != ss.Total || open != ss.Open {
				t.Errorf("snapshot: %d streams (%d open), want %d (%d open)", streams, open, ss.Total, ss.Open)
				return
			}
			if c := ss.Counts; frames[0] != c.FramesDir(c2s) || frames[1] != c.FramesDir(s2c) {
				t.Errorf("snapshot: stream frames %v, session frames [%d %d]", frames, c.FramesDir(c2s), c.FramesDir(s2c))
				return
			}
		}
	})
	wg.Wait()
}
