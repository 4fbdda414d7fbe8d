package live_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// inUseLeakAfter is the --leak-after of the tests below, inUseCfg their
// thresholds.
const inUseLeakAfter = 400 * time.Millisecond

var inUseCfg = live.FindingsConfig{LeakAfter: inUseLeakAfter, StallAfter: 200 * time.Millisecond, Churn: -1, UnansweredAfter: time.Hour}

// inUseSetups are the real pairs of the tests below, and how long their
// streams idle before both LEAKs open: past --leak-after; in yamux
// NOPLateness more, as a session's streams opened as it began wait that
// long past their deadline for its first ping (30 s into it at yamux's
// defaults), which would say whether a side froze.
var inUseSetups = []struct {
	s    setup
	idle time.Duration
}{
	{smuxSetup("v2", 2, nil), inUseLeakAfter + 200*time.Millisecond},
	{yamuxSetup("yamux", nil), inUseLeakAfter + live.NOPLateness + 200*time.Millisecond},
}

// inUseRig is a real pair, both ends tapped, with two leaking streams of
// different kinds: H, which the client half-closed after its answer and
// the server never closes, and O, which neither closes. h and o are the
// client's ends, hs and os the server's.
type inUseRig struct {
	t            *testing.T
	reg          *live.Registry
	h, hs, o, os muxStream
	next         uint64 // the history's seq from which records reads
}

// newInUseRig opens H and O on a pair of s, each with a request the
// server reads and answers "ok", lets them idle for idle, evaluates, and
// checks that each end's session opened the two LEAKs.
func newInUseRig(t *testing.T, s setup, idle time.Duration) *inUseRig {
	r := &inUseRig{t: t, reg: live.New(live.Config{}), next: 1}
	cli, srv := s.pair(t, r.reg)
	ask := func(req string) (c, sv muxStream) {
		c, err := cli.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if sv, err = srv.Accept(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(sv, make([]byte, len(req))); err != nil {
			t.Fatal(err)
		}
		if _, err := sv.Write([]byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		return c, sv
	}
	r.h, r.hs = ask("H")
	if err := r.h.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r.o, r.os = ask("O")
	time.Sleep(idle)
	r.reg.Evaluate(time.Now(), inUseCfg)
	recs := r.records()
	if r.count(recs, live.FindingOpened, "open", "") != 2 || r.count(recs, live.FindingOpened, "half-closed", "") != 2 || len(recs) != 4 {
		t.Fatalf("idle: LEAK records %s; want each end's session to open the open LEAK and the half-closed one", describeRecords(recs))
	}
	return r
}

// use makes the stream of kind carry frames again: the client writes on
// O ("open"), or the server on H ("half-closed"), which the client
// half-closed; the other end reads it. It returns once both taps have
// recorded it.
func (r *inUseRig) use(kind string) {
	r.t.Helper()
	w, rd := r.o, r.os
	if kind == "half-closed" {
		w, rd = r.hs, r.h
	}
	sid := inUseID(rd)
	at := time.Now()
	if _, err := w.Write([]byte("again")); err != nil {
		r.t.Fatal(err)
	}
	if _, err := io.ReadFull(rd, make([]byte, 5)); err != nil {
		r.t.Fatal(err)
	}
	smuxtest.Eventually(r.t, "both taps recorded the frame", func() bool {
		snap := r.reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
		seen := 0
		for _, ss := range snap.Sessions {
			for _, st := range ss.Streams {
				if st.ID == sid && !st.Last.Before(at) {
					seen++
				}
			}
		}
		return seen == 2
	})
}

// records returns the LEAK records, opened or resolved, since the last
// call.
func (r *inUseRig) records() []live.Record {
	var out []live.Record
	for {
		recs, next := r.reg.Frames(live.Query{From: r.next}, nil)
		for _, rec := range recs {
			if rec.Finding != nil && rec.Finding.Code == live.CodeLeak && (rec.Kind == live.FindingOpened || rec.Kind == live.FindingResolved) {
				out = append(out, rec)
			}
		}
		if next == r.next {
			return out
		}
		r.next = next
	}
}

// count returns how many of recs are of kind for a LEAK of leak's kind
// (leakKindOf), checking that each resolved one's detail says why.
func (r *inUseRig) count(recs []live.Record, kind live.Kind, leak, why string) (n int) {
	for _, rec := range recs {
		if rec.Kind == kind && leakKindOf(rec.Finding) == leak {
			n++
			if kind == live.FindingResolved && !strings.Contains(rec.Detail, why) {
				r.t.Errorf("the %s LEAK of session %d resolved %q; want %q", leak, rec.Session, rec.Detail, why)
			}
		}
	}
	return n
}

// leakKindOf names the kind of LEAK f is: "half-closed" for the server's
// (the client half-closed its streams, the server never closes them),
// "open" for streams neither side closed.
func leakKindOf(f *live.Finding) string {
	switch {
	case !f.HasDir:
		return "open"
	case f.Dir == live.ServerToClient:
		return "half-closed"
	}
	return "client's"
}

// inUseID returns the id of st, a stream of either library.
func inUseID(st muxStream) uint32 {
	if y, ok := st.(yamuxStream); ok {
		return y.StreamID()
	}
	return smuxtest.StreamID(st)
}

const (
	inUse     = "in use again"
	explained = "another condition explains them"
)

// TestLeakInUseAgainPerKindRealMux: a LEAK resolves as "in use again"
// when its own streams carry frames again, and the check is per kind of
// leak. With real smux v2 and yamux pairs (inUseRig), each end's session
// has the server's LEAK (H, half-closed by the client) and the open one
// (O). One stream carries frames again, a request and its answer: that
// stream's LEAK resolves "in use again" at the next evaluation, and the
// other kind's stays open, its stream still idle; then the other stream
// carries frames, and its LEAK resolves "in use again" too. Both ways
// round: O first, then H; H first, then O.
func TestLeakInUseAgainPerKindRealMux(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, tc := range inUseSetups {
		for _, order := range [][2]string{{"open", "half-closed"}, {"half-closed", "open"}} {
			t.Run(tc.s.name+"/"+order[0]+"-first", func(t *testing.T) {
				r := newInUseRig(t, tc.s, tc.idle)
				r.use(order[0])
				r.reg.Evaluate(time.Now(), inUseCfg)
				if recs := r.records(); r.count(recs, live.FindingResolved, order[0], inUse) != 2 || len(recs) != 2 {
					t.Fatalf("after the %s stream carried frames: LEAK records %s; want its LEAK resolved in each session, in use again, and the %s one still open",
						order[0], describeRecords(recs), order[1])
				}
				r.use(order[1])
				r.reg.Evaluate(time.Now(), inUseCfg)
				if recs := r.records(); r.count(recs, live.FindingResolved, order[1], inUse) != 2 {
					t.Errorf("after the %s stream carried frames: LEAK records %s; want its LEAK resolved in each session, in use again",
						order[1], describeRecords(recs))
				}
			})
		}
	}
}

// TestLeakExplainedWhileAnotherKindInUseRealMux: the other side of the
// per-kind check, on the same real pairs (inUseRig). The server writes 1
// MiB on O, which the client never reads: the server's writes stop at the
// stream's flow-control window, and O, idle past --leak-after again and
// held at the full window past --stall-after, is explained (WINDOW_STALL),
// not in use. At the evaluation that finds it so, H carries frames: O's
// LEAK resolves "another condition explains them", and H's "in use
// again". A check over every kind would call O's in use because H is.
func TestLeakExplainedWhileAnotherKindInUseRealMux(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, tc := range inUseSetups {
		t.Run(tc.s.name, func(t *testing.T) {
			r := newInUseRig(t, tc.s, tc.idle)
			go r.os.Write(make([]byte, 1<<20)) // returns as the pair closes
			// Idle past --leak-after from O's last frame, which is when the
			// writer reached the window: a loaded machine took the writer
			// there late, and 700 ms after the Write began found O in use.
			sid := inUseID(r.os)
			var last time.Time
			smuxtest.Eventually(t, "O's writer held at the window in both taps", func() bool {
				snap := r.reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
				held := 0
				for _, ss := range snap.Sessions {
					for _, st := range ss.Streams {
						if st.ID == sid && !st.Flow[live.ServerToClient].FullSince.IsZero() {
							held++
							for _, at := range []time.Time{st.Last, st.Flow[live.ServerToClient].FullSince} {
								if at.After(last) {
									last = at
								}
							}
						}
					}
				}
				return held == 2
			})
			time.Sleep(time.Until(last.Add(inUseLeakAfter + 300*time.Millisecond)))
			r.use("half-closed")
			r.reg.Evaluate(time.Now(), inUseCfg)
			recs := r.records()
			if r.count(recs, live.FindingResolved, "open", explained) != 2 || r.count(recs, live.FindingResolved, "half-closed", inUse) != 2 {
				t.Errorf("LEAK records %s; want, in each session, the open LEAK resolved as explained and the half-closed one in use again", describeRecords(recs))
			}
		})
	}
}
