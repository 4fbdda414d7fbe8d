package live

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// TestLeakMarksStress: static traffic (nothing is recorded once the
// evaluations start), evaluated at times that move on in a goroutine
// while snapshots are taken: streams cross --leak-after one by one, some
// unanswered (UNANSWERED explains them), some held by a full window. Every
// snapshot must mark as many streams of each session as its Leaks and
// its LEAK findings count: they are of one evaluation.
func TestLeakMarksStress(t *testing.T) {
	reg := New(Config{})
	sec := func(f float64) time.Time { return time.Unix(0, int64(f*float64(time.Second))) }
	var sessions []*Session
	var offs [][2]int64
	for range 60 {
		sessions = append(sessions, reg.Open(SessionInfo{Client: "c", Server: "s"}, time.Unix(0, 0)))
		offs = append(offs, [2]int64{})
	}
	rec := func(i int, at float64, dir Dir, cmd decoder.Cmd, sid uint32, payload string) {
		h := decoder.MakeHeader(2, cmd, uint16(len(payload)), sid)
		f := decoder.Frame{Header: h, Payload: []byte(payload), Offset: offs[i][dir]}
		offs[i][dir] += int64(len(h) + len(payload))
		sessions[i].Record(dir, sec(at), &f)
	}
	for i := range sessions {
		for k := range 40 {
			sid := uint32(3 + 2*k)
			at := 0.2 + 0.25*float64(k) + 0.01*float64(i)
			rec(i, at, ClientToServer, decoder.SYN, sid, "")
			rec(i, at, ClientToServer, decoder.PSH, sid, "RAND")
			switch k % 4 {
			case 0, 1: // answered, never closed: a leak
				rec(i, at, ServerToClient, decoder.PSH, sid, "answered")
			case 2: // never answered: UNANSWERED's
			case 3: // answered, then its writer held at a full window
				rec(i, at, ServerToClient, decoder.PSH, sid, "answered")
				for range 8 {
					rec(i, at+0.1, ClientToServer, decoder.PSH, sid, strings.Repeat("x", 32<<10))
				}
			}
		}
		// the server keeps talking, so that UNANSWERED holds
		for k := range 200 {
			rec(i, 0.1*float64(k), ServerToClient, decoder.NOP, 0, "")
		}
	}
	cfg := FindingsConfig{LeakAfter: 2 * time.Second, StallAfter: time.Second, UnansweredAfter: time.Second, Churn: 1000}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for k := range 400 {
			reg.Evaluate(sec(1+0.05*float64(k)), cfg)
		}
	})
	all := SnapshotOptions{Streams: func(uint64) bool { return true }}
	bad, withLeaks, outlasted := 0, 0, 0
	for n := 0; ; n++ {
		select {
		case <-stop:
			wg.Wait()
			f := reg.SnapshotWith(all)
			codes := map[FindingCode]int{}
			for _, x := range f.Findings {
				codes[x.Code]++
			}
			t.Logf("%d snapshots (%d outlasted an evaluation), %d with leaks; at the end leaks %d, findings by code %v", n, outlasted, withLeaks, f.Leaks, codes)
			return
		default:
		}
		d0 := reg.eng.done.Load()
		snap := reg.SnapshotWith(all)
		if reg.eng.done.Load() > d0 {
			outlasted++
			continue // an evaluation ended meanwhile, and the next may have begun: a whole one outlasted, documented to show the newest marks
		}
		total := 0
		for _, ss := range snap.Sessions {
			marks := 0
			for _, st := range ss.Streams {
				if st.Leak {
					marks++
				}
			}
			count := 0
			for _, f := range snap.Findings {
				if f.Code == CodeLeak && f.Session == ss.ID {
					count += int(f.Evidence.Count)
				}
			}
			total += count
			if marks != ss.Leaks || count != ss.Leaks {
				if bad++; bad < 10 {
					t.Errorf("snapshot %d (evaluated %v): session %d marks %d streams, Leaks %d, LEAK counts %d", n, snap.Evaluated, ss.ID, marks, ss.Leaks, count)
				}
			}
		}
		if total > 0 {
			withLeaks++
		}
		if total != snap.Leaks {
			t.Errorf("snapshot %d: Leaks %d, LEAK counts %d", n, snap.Leaks, total)
		}
	}
}
