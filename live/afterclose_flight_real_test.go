package live_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// The fault twins of TestHealthyMorePushClosedByReader and
// TestHealthyMoreUploadRejected, whose writers were writing as their
// reader's FIN went out and stop as soon as they know: their frames on
// the way are in flight and count for nothing (the in-flight window,
// watch.go). These writers are DATA_AFTER_CLOSE's, at both taps, on real
// smux v1 and v2 pairs evaluated in real time (metrics.Diagnose):
//   - closeThenAnswer, the classic: the client asks and calls Close, the
//     server answers once its read returned io.EOF (smux discards it);
//   - answerAfterARead: the server greets, the client reads the greeting
//     and calls Close, the server answers after io.EOF: one message
//     before the FIN is no run of writes, and the answer counts;
//   - pushIgnoresEOF: the push of pushClosedByReader, whose server
//     writes on for a second after its read returned io.EOF: its first
//     frames after the FIN may be in flight, the rest count;
//   - uploadIgnoresRefusal: the upload of uploadRejected, whose client
//     writes on for a second after it read the refusal.

// closeThenAnswer: 4 clients, each opening a stream, asking and calling
// Close at once; the server reads to io.EOF (the client's FIN) and then
// writes its answer, 3 frames, and closes.
func closeThenAnswer(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		if _, err := io.Copy(io.Discard, st); err != nil {
			return
		}
		for range 3 {
			st.Write(make([]byte, 512))
		}
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "GET /answer\n")
		st.Close()
		sleepCtx(ctx, 20*time.Millisecond)
	})
}

// answerAfterARead: the server greets each stream, the client reads the
// greeting and calls Close, and the server, once its read returned
// io.EOF, writes its answer and closes.
func answerAfterARead(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		io.WriteString(st, "HELLO\n")
		if _, err := io.Copy(io.Discard, st); err != nil {
			return
		}
		st.Write(make([]byte, 512))
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "GET /answer\n")
		bufio.NewReader(st).ReadString('\n')
		st.Close()
		sleepCtx(ctx, 20*time.Millisecond)
	})
}

// pushIgnoresEOF: pushClosedByReader's clients; its server writes 512
// bytes every millisecond, and once its read of the stream returned
// io.EOF (the client's FIN) writes on for 2 s, 256 bytes every 5 ms:
// 100 KiB, which a v2 window its reader no longer opens still takes
// (at 512 bytes a millisecond, smux held the writer at its window after
// 100 ms: all the wire carried was a burst no longer than the in-flight
// window, and WINDOW_STALL's to tell, its writer held at the window).
func pushIgnoresEOF(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		r := bufio.NewReader(st)
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		var goneAt atomic.Int64
		go func() {
			io.Copy(io.Discard, r)
			goneAt.Store(time.Now().UnixNano())
			st.SetWriteDeadline(time.Now().Add(3 * time.Second)) // should a window hold it
		}()
		line := make([]byte, 512)
		for {
			pace := time.Millisecond
			if g := goneAt.Load(); g != 0 {
				if time.Since(time.Unix(0, g)) > 2*time.Second {
					return
				}
				line, pace = line[:256], 5*time.Millisecond
			}
			if _, err := st.Write(line); err != nil {
				return
			}
			time.Sleep(pace)
		}
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "TAIL /var/log/app\n")
		st.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		io.Copy(io.Discard, st)
		st.Close()
	})
}

// uploadIgnoresRefusal: uploadRejected's server; its clients write 512
// bytes every millisecond, and once they read the refusal write on for
// 2 s, 256 bytes every 5 ms, as pushIgnoresEOF's server.
func uploadIgnoresRefusal(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		st.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		io.Copy(io.Discard, st)
		io.WriteString(st, "413 too large\n")
		st.Close()
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		var refusedAt atomic.Int64
		go func() {
			bufio.NewReader(st).ReadString('\n')
			refusedAt.Store(time.Now().UnixNano())
			st.SetWriteDeadline(time.Now().Add(3 * time.Second)) // as pushIgnoresEOF's

		}()
		chunk := make([]byte, 512)
		for {
			pace := time.Millisecond
			if r := refusedAt.Load(); r != 0 {
				if time.Since(time.Unix(0, r)) > 2*time.Second {
					break
				}
				chunk, pace = chunk[:256], 5*time.Millisecond
			}
			if _, err := st.Write(chunk); err != nil {
				break
			}
			time.Sleep(pace)
		}
		st.Close()
	})
}

// lateFindings runs run on su for d, evaluated in real time with
// TestHealthyMore's thresholds, lets 2.5 s pass (the late writers' 2 s,
// and evaluations after them), and returns the DATA_AFTER_CLOSE findings opened, by tap ("cli", "srv").
func lateFindings(t *testing.T, su setup, run func(ctx context.Context, t *testing.T, a, b muxEnd), d time.Duration) map[string][]*live.Finding {
	reg := live.New(live.Config{History: 1024, Snaplen: 16})
	cli, srv := su.pair(t, reg)
	stop := metrics.Diagnose(reg, moreThresholds(morePattern{}))
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	run(ctx, t, cli, srv)
	time.Sleep(2500 * time.Millisecond)
	stop()
	tapOf := map[uint64]string{}
	for _, s := range reg.Snapshot().Sessions {
		tapOf[s.ID] = s.Info.Label
	}
	got := map[string][]*live.Finding{}
	for _, f := range openedFindings(reg) {
		if f.Code == live.CodeDataAfterClose {
			got[tapOf[f.Session]] = append(got[tapOf[f.Session]], f)
		}
	}
	return got
}

// TestAfterCloseInFlightFaultsRealSmux: each fault twin above opens
// DATA_AFTER_CLOSE at both taps, in the direction of the writer at fault,
// in smux v1 and v2; those that write on after the FIN count at least
// min frames (of the 400 a stream's 2 s carry, those after the in-flight
// window, on about 8 streams: far more).
// Before the in-flight window each opened too (a test written with it).
func TestAfterCloseInFlightFaultsRealSmux(t *testing.T) {
	if testing.Short() {
		t.Skip("real sessions for seconds")
	}
	if racetest.Enabled {
		t.Skip("the race detector slows the sessions: the windows are real time")
	}
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, t *testing.T, a, b muxEnd)
		dir  live.Dir
		min  uint64
	}{
		{"close-then-answer", closeThenAnswer, live.ServerToClient, 1},
		{"answer-after-a-read", answerAfterARead, live.ServerToClient, 1},
		{"push-ignores-eof", pushIgnoresEOF, live.ServerToClient, 100},
		{"upload-ignores-refusal", uploadIgnoresRefusal, live.ClientToServer, 100},
		{"prefix-then-answer", prefixThenAnswer, live.ServerToClient, 1},          // D1
		{"header-body-then-answer", headerBodyThenAnswer, live.ServerToClient, 1}, // D1
		{"split-write-then-answer", splitThenAnswer, live.ServerToClient, 1},      // D1
		{"two-chunks-read", twoChunksRead, live.ServerToClient, 1},                // D2
		{"slow-service-answers", slowServiceAnswers, live.ServerToClient, 1},      // D3
	} {
		for _, su := range moreSetups[:2] { // v1 and v2, keepalive 100ms
			t.Run(tc.name+"/"+su.name, func(t *testing.T) {
				t.Parallel()
				got := lateFindings(t, su, tc.run, 2*time.Second)
				for _, tap := range []string{"cli", "srv"} {
					fs := got[tap]
					var n uint64
					for _, f := range fs {
						if f.Dir != tc.dir {
							t.Errorf("at the %s tap: %s DATA_AFTER_CLOSE, want %s: %s", tap, f.Dir.Code(), tc.dir.Code(), f.Text)
						}
						n += f.Evidence.Count
					}
					if len(fs) == 0 || n < tc.min {
						t.Errorf("at the %s tap: DATA_AFTER_CLOSE counted %d frames in %d findings, want %d at least", tap, n, len(fs), tc.min)
						continue
					}
					if want := tc.dir.Sender().String() + " wrote "; !strings.HasPrefix(fs[0].Text, "the "+want) {
						t.Errorf("at the %s tap: %q, want \"the %s…\"", tap, fs[0].Text, want)
					}
					t.Logf("at the %s tap: %d frames counted in %d findings: %s", tap, n, len(fs), fs[0].Text)
				}
			})
		}
	}
}

// The reviewer's faults (D1 to D3): a writer that sent one message of
// several frames, or two chunks, or streamed on a slow service, before
// its reader's FIN is no stream in flight, and what it writes after it
// counts:
//   - prefixThenAnswer: the greeting a length prefix (binary.Write) and
//     its payload written back to back (D1);
//   - headerBodyThenAnswer: a header, its body 5 ms later (D1);
//   - splitThenAnswer: one 100 KiB Write, which smux splits into frames
//     (D1);
//   - twoChunksRead: 6 chunks of 300 bytes 30 ms apart, never reading;
//     the client reads two and calls Close (D2);
//   - slowServiceAnswers: handlers that take 600 ms, a push up to the
//     client's FIN, then answers 400 ms and 800 ms after io.EOF (D3):
//     handling time is no round trip.

// greetThenAnswer runs clients that read n bytes of the server's
// greeting, written by greet, and call Close; the server, once its read
// returned io.EOF, answers 512 bytes (smux discards them) and closes.
func greetThenAnswer(ctx context.Context, a, b muxEnd, n int, greet func(st io.Writer)) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		greet(st)
		if _, err := io.Copy(io.Discard, st); err != nil {
			return
		}
		st.Write(make([]byte, 512))
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "GET /answer\n")
		st.SetReadDeadline(time.Now().Add(time.Second))
		io.ReadFull(st, make([]byte, n))
		st.Close()
		sleepCtx(ctx, 20*time.Millisecond)
	})
}

func prefixThenAnswer(ctx context.Context, t *testing.T, a, b muxEnd) {
	greetThenAnswer(ctx, a, b, 4+5, func(st io.Writer) {
		binary.Write(st, binary.BigEndian, uint32(5))
		io.WriteString(st, "HELLO")
	})
}

func headerBodyThenAnswer(ctx context.Context, t *testing.T, a, b muxEnd) {
	greetThenAnswer(ctx, a, b, 16+300, func(st io.Writer) {
		st.Write(make([]byte, 16))
		time.Sleep(5 * time.Millisecond)
		st.Write(make([]byte, 300))
	})
}

func splitThenAnswer(ctx context.Context, t *testing.T, a, b muxEnd) {
	greetThenAnswer(ctx, a, b, 100<<10, func(st io.Writer) {
		st.Write(make([]byte, 100<<10))
	})
}

// twoChunksRead: the server writes 6 chunks of 300 bytes 30 ms apart
// and never reads; the client reads two and calls Close.
func twoChunksRead(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		for i := range 6 {
			if i > 0 {
				time.Sleep(30 * time.Millisecond)
			}
			if _, err := st.Write(make([]byte, 300)); err != nil {
				return
			}
		}
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "WATCH\n")
		st.SetReadDeadline(time.Now().Add(time.Second))
		io.ReadFull(st, make([]byte, 600))
		st.Close()
		sleepCtx(ctx, 20*time.Millisecond)
	})
}

// slowServiceAnswers: each handler takes 600 ms, then pushes 256 bytes
// every 5 ms up to the client's FIN (the client reads 10 of them and
// calls Close); once its read returned io.EOF it answers twice, 400 ms
// and 800 ms after it.
func slowServiceAnswers(ctx context.Context, t *testing.T, a, b muxEnd) {
	go serveEach(b, func(st muxStream) {
		defer st.Close()
		r := bufio.NewReader(st)
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		time.Sleep(600 * time.Millisecond)
		eof := make(chan struct{})
		go func() {
			io.Copy(io.Discard, r)
			close(eof)
		}()
	push:
		for {
			select {
			case <-eof:
				break push
			case <-time.After(5 * time.Millisecond):
				if _, err := st.Write(make([]byte, 256)); err != nil {
					return
				}
			}
		}
		for range 2 {
			time.Sleep(400 * time.Millisecond)
			st.Write(make([]byte, 128))
		}
	})
	openEach(ctx, a, 4, nil, func(st muxStream) {
		io.WriteString(st, "GET /slow\n")
		st.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.ReadFull(st, make([]byte, 10*256))
		st.Close()
		sleepCtx(ctx, 20*time.Millisecond)
	})
}
