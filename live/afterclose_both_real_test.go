package live_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestAfterCloseBothFINsRealSmux: a raw client sends smux frames to a
// real smux server, whose end is tapped. On stream 3 it sends a request
// and its FIN, the server reads it and closes (FIN), and the client then
// writes on: after both FINs smux removes the stream (stream.go,
// tryHalfCloseCleanup) and discards its PSH (session.go, recvLoop),
// whichever call the server made, and the server's Read shows it: io.EOF,
// the late bytes never read. In v2 the server's UPD shows it had read all
// that came before: the finding must give only that reading. In v1 the
// wire does not show it (smux keeps the stream of a reader that had not,
// after CloseWrite: TestAfterCloseBothFINsUnreadRealSmux): both readings.
// With mixed, stream 5 gets data after the server's FIN alone, which
// smux delivers after CloseWrite: the finding says which is which.
func TestAfterCloseBothFINsRealSmux(t *testing.T) {
	const late = "afterboth"
	for _, version := range []int{1, 2} {
		for _, mixed := range []bool{false, true} {
			for _, closeWrite := range []bool{true, false} {
				t.Run(fmt.Sprintf("v%d/mixed=%v/closewrite=%v", version, mixed, closeWrite), func(t *testing.T) {
					reg := live.New(live.Config{})
					cc, sc := smuxtest.Conns(t)
					srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "test"), smuxtest.Config(version))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { srv.Close() })
					rc := newRawSmux(t, cc, byte(version))
					// Each stream: the server reads its request, ends its
					// side, and reads on to EOF: what it reads after its
					// FIN goes to read.
					read := make(chan string, 2)
					go func() {
						for {
							st, err := srv.AcceptStream()
							if err != nil {
								return
							}
							go func() {
								buf := make([]byte, 64)
								n, _ := st.Read(buf)
								if closeWrite {
									st.CloseWrite()
								} else {
									st.Close()
								}
								after, _ := io.ReadAll(st)
								read <- fmt.Sprintf("%d %s %q", st.ID(), buf[:n], after)
							}()
						}
					}()
					rc.send(0, 3, nil)
					rc.send(2, 3, []byte("req3"))
					rc.send(1, 3, nil)
					rc.waitFIN(3)
					if closeWrite {
						// The server's read returns io.EOF as both FINs are in.
						if got := <-read; got != `3 req3 ""` {
							t.Fatalf("server read %s", got)
						}
					}
					rc.send(2, 3, []byte(late))
					if mixed {
						rc.send(0, 5, nil)
						rc.send(2, 5, []byte("req5"))
						rc.waitFIN(5)
						rc.send(2, 5, []byte("late5"))
					}
					smuxtest.Eventually(t, "the late frames recorded", func() bool {
						snap := reg.Snapshot()
						if len(snap.Sessions) != 1 {
							return false
						}
						st3, st5 := snap.Sessions[0].Stream(3), snap.Sessions[0].Stream(5)
						return st3 != nil && st3.Bytes[c2s] == uint64(4+len(late)) && (!mixed || st5 != nil && st5.Bytes[c2s] == 9)
					})
					cfg := live.FindingsConfig{Churn: -1}
					reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
					reg.Evaluate(time.Now().Add(time.Second), cfg)
					fs := reg.Snapshot().Findings
					if len(fs) != 1 || fs[0].Code != live.CodeDataAfterClose {
						t.Fatalf("findings %+v; want DATA_AFTER_CLOSE alone", fs)
					}
					f := fs[0]
					if version == 1 {
						// A v1 reader sends nothing when it reads: the wire
						// does not show that the server had read the
						// request before both FINs, after which smux keeps
						// a stream half-closed with CloseWrite
						// (TestAfterCloseBothFINsUnreadRealSmux). Both
						// readings, every frame.
						if strings.Contains(f.Text, "whichever call") || !strings.Contains(f.Text, "smux discards them if the server called Close, and delivers them only after CloseWrite") ||
							!strings.Contains(f.Advice, "they were delivered and nothing is wrong") {
							t.Errorf("text %q, advice %q: want both readings", f.Text, f.Advice)
						}
						return
					}
					if !mixed {
						if !strings.Contains(f.Text, "after both sides had sent FIN: smux discards them whichever call the server made") {
							t.Errorf("text %q: want the discarded reading alone", f.Text)
						}
						if strings.Contains(f.Text, "CloseWrite") || strings.Contains(f.Advice, "delivered") || strings.Contains(f.Advice, "nothing is wrong") {
							t.Errorf("text %q, advice %q: data after both FINs is discarded whichever call the server made", f.Text, f.Advice)
						}
						return
					}
					if !strings.Contains(f.Text, "1 of them after both sides had sent FIN, which smux discards whichever call the server made") ||
						!strings.Contains(f.Text, "the other 1") {
						t.Errorf("text %q: want which frames are which", f.Text)
					}
					if !strings.Contains(f.Advice, "for the 1 after both sides' FINs, which smux discarded: ") || !strings.Contains(f.Advice, "they were delivered and nothing is wrong") {
						t.Errorf("advice %q: want each reading for its frames", f.Advice)
					}
				})
			}
		}
	}
}

// rawSmux writes smux frames of one version on a conn, and reads what
// comes back, noting the FINs.
type rawSmux struct {
	t    *testing.T
	c    net.Conn
	ver  byte
	fins chan uint32
}

func newRawSmux(t *testing.T, c net.Conn, ver byte) *rawSmux {
	r := &rawSmux{t: t, c: c, ver: ver, fins: make(chan uint32, 16)}
	go func() { // ends with the conn, which the test's cleanup closes
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, c, int64(binary.LittleEndian.Uint16(hdr[2:]))); err != nil {
				return
			}
			if hdr[1] == 1 {
				r.fins <- binary.LittleEndian.Uint32(hdr[4:])
			}
		}
	}()
	return r
}

func (r *rawSmux) send(cmd byte, sid uint32, payload []byte) {
	r.t.Helper()
	b := make([]byte, 8+len(payload))
	b[0], b[1] = r.ver, cmd
	binary.LittleEndian.PutUint16(b[2:], uint16(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], sid)
	copy(b[8:], payload)
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawSmux) waitFIN(sid uint32) {
	r.t.Helper()
	select {
	case got := <-r.fins:
		if got != sid {
			r.t.Fatalf("FIN of stream %d; want %d", got, sid)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no FIN of stream %d", sid)
	}
}

// TestAfterCloseBothFINsUnreadRealSmux: a raw client sends a request and
// its FIN to a real smux server, tapped, that ended its side at accept
// (CloseWrite, or Close) and reads nothing yet, then writes after both
// FINs. smux v1.5.58 keeps a stream half-closed with CloseWrite in its
// session's map until its reader has read what came before both FINs
// (stream.go, tryHalfCloseCleanup), and recvLoop pushes the PSH into it:
// the server's later read gets both (an exploratory review's G1..G4,
// "smux discards them whichever call the server made" as fact). After
// Close its Read fails, the data gone. The wire shows neither call, nor
// (v1, or v2 before a UPD) whether the reader had read all before: no
// finding, nor the frame's anomaly, may say it was surely discarded.
func TestAfterCloseBothFINsUnreadRealSmux(t *testing.T) {
	const late = "LATE-AFTER-BOTH-FINS"
	for _, version := range []int{1, 2} {
		for _, closeWrite := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d/closewrite=%v", version, closeWrite), func(t *testing.T) {
				reg := live.New(live.Config{})
				cc, sc := smuxtest.Conns(t)
				srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "test"), smuxtest.Config(version))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				rc := newRawSmux(t, cc, byte(version))
				read := make(chan struct{})
				served := serveOne(srv, func(st *smux.Stream) error {
					if closeWrite {
						st.CloseWrite()
					} else {
						st.Close()
					}
					<-read
					got, err := io.ReadAll(st)
					switch {
					case closeWrite && (err != nil || string(got) != "aaaa"+late):
						return fmt.Errorf("read %q, %v; want both frames", got, err)
					case !closeWrite && err == nil:
						return fmt.Errorf("read %q after Close", got)
					}
					return nil
				})
				rc.send(0, 3, nil)
				rc.send(2, 3, []byte("aaaa"))
				rc.waitFIN(3)
				rc.send(1, 3, nil)
				rc.send(2, 3, []byte(late))
				waitStream(t, reg, 3, "the late frame", func(s *live.StreamSnap) bool { return s.Bytes[c2s] == uint64(4+len(late)) })
				close(read)
				if err := <-served; err != nil {
					t.Fatal(err)
				}
				for _, r := range allRecords(reg) {
					if r.Kind == live.FrameRecord && r.Dir == c2s && string(r.Payload) == late && r.Anomaly == live.ClosedStream {
						t.Errorf("the late frame is %v: smux keeps a stream whose reader has not read all before both FINs, after CloseWrite", r.Anomaly)
					}
				}
				cfg := live.FindingsConfig{Churn: -1}
				t0 := time.Now()
				reg.Evaluate(t0.Add(100*time.Millisecond), cfg)
				reg.Evaluate(t0.Add(time.Second), cfg)
				fs := reg.Snapshot().Findings
				for _, f := range fs {
					if strings.Contains(f.Text, "whichever call") || strings.Contains(f.Advice, "smux drops the stream and discards") {
						t.Errorf("text %q, advice %q: the server had not read all that came before both FINs: smux delivers the late data after CloseWrite", f.Text, f.Advice)
					}
				}
				if version == 1 || !closeWrite { // no UPD shows the read
					if len(fs) != 1 || fs[0].Code != live.CodeDataAfterClose || !strings.Contains(fs[0].Text, "CloseWrite") {
						t.Fatalf("findings %+v; want DATA_AFTER_CLOSE giving both readings", fs)
					}
				}
			})
		}
	}
}
