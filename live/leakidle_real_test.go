package live_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// The leak clock, with real smux v1 and v2 and yamux pairs, both ends
// tapped (each end a session of its own): a stream is a LEAK only once it
// has been live, and has carried no frame, for LeakAfter. Before, a
// stream live longer than LeakAfter was one however busy: a subscription
// written every 500 ms, a transfer longer than LeakAfter (LEAK warning:
// "1 stream open longer than 1.5 s with no FIN from either side"), and
// MuxtopStreamLeak fired for ever for a service with long-lived streams.

// idleLeakAfter is the tests' --leak-after, idleRun how long each runs:
// every stream of the healthy ones lives past it.
const (
	idleLeakAfter = 1500 * time.Millisecond
	idleRun       = 4 * time.Second
)

var idleSetups = []setup{smuxSetup("v1", 1, nil), smuxSetup("v2", 2, nil), yamuxSetup("yamux", nil)}

// idleServe serves cli's streams on srv by their first byte until ctx is
// done: 'W' a watch, written every 500 ms; 'B' a bulk download, 16 KiB
// every 20 ms; 'L' answered "ok" and never closed, a leak; 'R' a request,
// answered and closed.
func idleServe(ctx context.Context, t *testing.T, srv muxEnd, wg *sync.WaitGroup) {
	wg.Go(func() {
		for {
			st, err := srv.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				b := make([]byte, 1)
				if _, err := io.ReadFull(st, b); err != nil {
					return
				}
				switch b[0] {
				case 'W', 'B':
					msg, d := []byte("tick"), 500*time.Millisecond
					if b[0] == 'B' {
						msg, d = make([]byte, 16<<10), 20*time.Millisecond
					}
					every(ctx, d, func() bool { _, err := st.Write(msg); return err == nil })
					st.Close()
				case 'L':
					st.Write([]byte("ok"))
					io.Copy(io.Discard, st) // to the client's FIN; never closed
				case 'R':
					st.Write([]byte("ok"))
					st.Close()
				}
			})
		}
	})
}

// idleOpen opens a stream on cli and sends kind, its first byte.
func idleOpen(t *testing.T, cli muxEnd, kind byte) muxStream {
	t.Helper()
	st, err := cli.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte{kind}); err != nil {
		t.Fatal(err)
	}
	return st
}

// idleRunPair runs the pair for idleRun, evaluating every 100 ms, with
// drive the client's traffic; it returns when the evaluations stopped.
func idleRunPair(t *testing.T, reg *live.Registry, drive func(ctx context.Context, cli muxEnd, wg *sync.WaitGroup), s setup) {
	cli, srv := s.pair(t, reg)
	ctx, cancel := context.WithTimeout(context.Background(), idleRun)
	defer cancel()
	var wg sync.WaitGroup
	idleServe(ctx, t, srv, &wg)
	drive(ctx, cli, &wg)
	cfg := live.FindingsConfig{LeakAfter: idleLeakAfter, Churn: -1}
	every(ctx, 100*time.Millisecond, func() bool { reg.Evaluate(time.Now(), cfg); return true })
	// The streams were live longer than LeakAfter: LEAK judged them.
	snap := reg.SnapshotWith(live.SnapshotOptions{LeakAfter: idleLeakAfter})
	if snap.Aged == 0 {
		t.Errorf("no stream live longer than %v: the test shows nothing", idleLeakAfter)
	}
	cli.Close()
	srv.Close()
	wg.Wait()
}

// idleLeaks returns the LEAK records, opened or updated.
func idleLeaks(reg *live.Registry) []live.Record {
	var out []live.Record
	for _, r := range allRecords(reg) {
		if r.Finding != nil && r.Finding.Code == live.CodeLeak && (r.Kind == live.FindingOpened || r.Kind == live.FindingUpdated) {
			out = append(out, r)
		}
	}
	return out
}

// readAll reads st until it fails.
func readAll(st muxStream) {
	io.Copy(io.Discard, st)
}

// TestNoLeakForAWatchRealMux: a subscription stream, opened by the client
// and written by the server every 500 ms, never closed while the pair
// runs, lives 4 s, past a 1.5 s --leak-after: it is in use, no LEAK.
func TestNoLeakForAWatchRealMux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	for _, s := range idleSetups {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			idleRunPair(t, reg, func(ctx context.Context, cli muxEnd, wg *sync.WaitGroup) {
				st := idleOpen(t, cli, 'W')
				wg.Go(func() { readAll(st) })
			}, s)
			if l := idleLeaks(reg); len(l) != 0 {
				t.Errorf("a watch written every 500 ms is a LEAK:%s", describeRecords(l))
			}
		})
	}
}

// TestNoLeakForABulkTransferRealMux: a download of 16 KiB every 20 ms
// that takes 4 s, past a 1.5 s --leak-after: in use, no LEAK.
func TestNoLeakForABulkTransferRealMux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	for _, s := range idleSetups {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			var got int64
			idleRunPair(t, reg, func(ctx context.Context, cli muxEnd, wg *sync.WaitGroup) {
				st := idleOpen(t, cli, 'B')
				wg.Go(func() { got, _ = io.Copy(io.Discard, st) })
			}, s)
			if got < 1<<20 {
				t.Errorf("the transfer moved %d bytes: no bulk transfer", got)
			}
			if l := idleLeaks(reg); len(l) != 0 {
				t.Errorf("a transfer longer than --leak-after is a LEAK:%s", describeRecords(l))
			}
		})
	}
}

// TestLeakIdleAmongTrafficRealMux: beside a watch, a bulk transfer and a
// request every 100 ms, a stream the client half-closed after its answer
// and the server never closes: it alone is the LEAK, once idle 1.5 s,
// worded with its idle time, in both ends' sessions.
func TestLeakIdleAmongTrafficRealMux(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	for _, s := range idleSetups {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			var leaked uint32
			idleRunPair(t, reg, func(ctx context.Context, cli muxEnd, wg *sync.WaitGroup) {
				w := idleOpen(t, cli, 'W')
				wg.Go(func() { readAll(w) })
				b := idleOpen(t, cli, 'B')
				wg.Go(func() { readAll(b) })
				l := idleOpen(t, cli, 'L')
				if y, ok := l.(yamuxStream); ok {
					leaked = y.StreamID()
				} else {
					leaked = smuxtest.StreamID(l)
				}
				buf := make([]byte, 2)
				if _, err := io.ReadFull(l, buf); err != nil {
					t.Fatal(err)
				}
				if err := l.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					every(ctx, 100*time.Millisecond, func() bool {
						r, err := cli.Open()
						if err != nil {
							return false
						}
						defer r.Close()
						if _, err := r.Write([]byte{'R'}); err != nil {
							return false
						}
						_, err = io.ReadFull(r, buf[:2])
						return err == nil || errors.Is(err, io.EOF)
					})
				})
			}, s)
			recs := idleLeaks(reg)
			sessions := map[uint64]bool{}
			for _, r := range recs {
				f := r.Finding
				sessions[f.Session] = true
				if f.Stream != leaked || f.Evidence.Count != 1 || !slices.Equal(f.StreamIDs, []uint32{leaked}) ||
					!f.HasDir || f.Dir != live.ServerToClient || f.Evidence.Idle < idleLeakAfter || f.Evidence.Idle > f.Evidence.Age ||
					!strings.HasPrefix(f.Text, "the server never closes its streams: 1 half-closed by the client and idle 1.5 s or more, oldest ") ||
					!strings.Contains(f.Text, ", idle ") {
					t.Errorf("LEAK %s: stream %d, count %d, ids %v, idle %v, age %v, %q; want stream %d alone, idle 1.5 s or more",
						r.Kind, f.Stream, f.Evidence.Count, f.StreamIDs, f.Evidence.Idle, f.Evidence.Age, f.Text, leaked)
				}
			}
			if len(sessions) != 2 {
				t.Errorf("LEAK in %d sessions, want both ends':%s", len(sessions), describeRecords(recs))
			}
		})
	}
}
