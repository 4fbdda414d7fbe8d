package capture_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// lostRequest is the request whose packet the capture loses.
const lostRequest = "LOST-REQUEST"

// recordLostRequest records, by pcapout through a tap on the client, a
// real smux (version) session over loopback TCP, both ends keeping alive
// every 100 ms: the client opens a stream and sends lostRequest on it;
// the server accepts it and, if answer, reads the request 50 ms later
// and answers it, else never reads nor answers (in v2 a read is an
// answer of sorts: smux sends a UPD for it); the recording stops 900 ms after the
// request with the session live. It returns the packets, the server's
// port and the stream's id.
func recordLostRequest(t *testing.T, version int, answer bool) (ps []pkt, port uint16, sid uint32) {
	t.Helper()
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		cc, sc := smuxtest.Conns(t)
		port = uint16(sc.LocalAddr().(*net.TCPAddr).Port)
		cfg := smuxtest.Config(version)
		cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 100*time.Millisecond, 10*time.Second
		cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "test", tap.Version(version), tap.Record(w)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smux.Server(sc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		defer cli.Close()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		sid = st.ID()
		time.Sleep(50 * time.Millisecond) // the SYN in a packet of its own, before the request's
		if _, err := st.Write([]byte(lostRequest)); err != nil {
			t.Fatal(err)
		}
		served, err := srv.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		if answer {
			time.Sleep(50 * time.Millisecond)
			if _, err := io.ReadFull(served, make([]byte, len(lostRequest))); err != nil {
				t.Fatal(err)
			}
			if _, err := served.Write([]byte("ANSWER")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, make([]byte, len("ANSWER"))); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(900 * time.Millisecond)
	})
	return readPackets(t, path), port, sid
}

// TestUnansweredRequestLostRealSmux: real smux v1 and v2 sessions over
// TCP, recorded, read with the packet that carries a stream's request
// (its whole PSH frame) left out, as tcpdump drops under load: a TCP
// sequence gap in the client's direction. The server accepts the stream
// and never reads nor answers: reading the capture opens UNANSWERED for that
// stream, counting from the loss (its Since is the gap's, between the
// lost packet and the client's next one), within --unanswered-after of
// it. The healthy twin, the same with the request read and
// answered 50 ms after it, opens none: the loss alone is no UNANSWERED.
func TestUnansweredRequestLostRealSmux(t *testing.T) {
	cfg := live.FindingsConfig{UnansweredAfter: 300 * time.Millisecond, LeakAfter: time.Hour, Churn: -1}
	for _, version := range []int{1, 2} {
		for _, answer := range []bool{false, true} {
			name := map[int]string{1: "v1", 2: "v2"}[version] + map[bool]string{false: "/unanswered", true: "/answered"}[answer]
			t.Run(name, func(t *testing.T) {
				all, port, sid := recordLostRequest(t, version, answer)
				var ps []pkt
				var lost, next time.Time
				for _, p := range all {
					switch {
					case lost.IsZero() && bytes.Contains(p.Payload, []byte(lostRequest)):
						if len(p.Payload) != decoder.HeaderSize+len(lostRequest) {
							t.Fatalf("the request's packet carries %d bytes, want its frame whole, %d", len(p.Payload), decoder.HeaderSize+len(lostRequest))
						}
						lost = p.CI.Timestamp
						continue
					case !lost.IsZero() && next.IsZero() && uint16(p.TCP.DstPort) == port && len(p.Payload) > 0:
						next = p.CI.Timestamp
					}
					ps = append(ps, p)
				}
				if lost.IsZero() || next.IsZero() {
					t.Fatal("no request packet to lose, or no client packet after it")
				}
				reg := readEvaluated(ps, capture.Config{Filter: capture.Port(port)}, cfg)
				snap := reg.Snapshot()
				if len(snap.Sessions) != 1 || snap.Sessions[0].Lost != [2]int64{int64(decoder.HeaderSize + len(lostRequest)), 0} {
					t.Fatalf("%d sessions (%+v); want one, the request's frame lost", len(snap.Sessions), snap.Sessions)
				}
				var opened []*live.Finding
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				for _, r := range recs {
					if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeUnanswered {
						opened = append(opened, r.Finding)
					}
				}
				if answer {
					if len(opened) != 0 {
						t.Errorf("UNANSWERED opened for a request answered 50 ms after it: %s", opened[0].Text)
					}
					return
				}
				if len(opened) != 1 {
					t.Fatalf("%d UNANSWERED opened, want 1, for the stream whose request the capture lost", len(opened))
				}
				f := opened[0]
				if f.Stream != sid || f.Since.Before(lost) || f.Since.After(next) ||
					f.Opened.Sub(f.Since) < cfg.UnansweredAfter || f.Opened.Sub(f.Since) > cfg.UnansweredAfter+250*time.Millisecond {
					t.Errorf("UNANSWERED of stream %d since %v, opened %v after; want stream %d, since the loss (between %v and %v), opened %v after it: %s",
						f.Stream, f.Since.Format("05.000"), f.Opened.Sub(f.Since), sid, lost.Format("05.000"), next.Format("05.000"), cfg.UnansweredAfter, f.Text)
				}
			})
		}
	}
}
