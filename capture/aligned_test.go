package capture_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestJoinedRecordsInTimeOrder reads the captures of real smux v1, v2 and
// yamux traffic joined mid-stream, as read finds their connections and
// picked by the server's port with the protocol forced: the frames of the
// two directions are recorded in the order their packets came. Before
// each direction's first frame boundary was looked for in the bytes held
// (aligning), the first frames of the direction whose chain of headers
// completed later were recorded after the other's later frames, and the
// history stepped back in time (0.4 ms in joined-answer-first-v2, 100 ms
// in joined-after-server-fin-v1).
func TestJoinedRecordsInTimeOrder(t *testing.T) {
	paths, _ := filepath.Glob("testdata/joined-*")
	more, _ := filepath.Glob("testdata/midstream-*")
	paths = append(paths, more...)
	if len(paths) < 7 {
		t.Fatalf("%d joined captures in testdata", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ps := readPackets(t, path)
			found := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1})
			ss := found.Snapshot().Sessions
			if len(ss) == 0 {
				t.Fatal("no session found")
			}
			server, err := netip.ParseAddrPort(ss[0].Info.Server)
			if err != nil {
				t.Fatal(err)
			}
			proto := tap.Smux
			if ss[0].Info.Proto == live.Yamux {
				proto = tap.Yamux
			}
			picked := readEvaluated(ps, capture.Config{Filter: capture.Port(server.Port()), Protocol: proto}, live.FindingsConfig{Churn: -1})
			var frames [2]int
			for i, reg := range []*live.Registry{found, picked} {
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				var last time.Time
				for _, r := range recs {
					if r.Kind != live.FrameRecord && r.Kind != live.ResyncRecord {
						continue
					}
					if r.Kind == live.FrameRecord {
						frames[i]++
					}
					if r.At.Before(last) {
						t.Errorf("read %d: record %d (%v %s) at %v, after one at %v", i, r.Seq, r.Kind, r.Dir, r.At.Format("05.000000"), last.Format("05.000000"))
					}
					last = r.At
				}
			}
			if frames[0] == 0 || frames[0] != frames[1] {
				t.Errorf("%d frames found, %d picked by port %d", frames[0], frames[1], server.Port())
			}
		})
	}
}

// TestJoinedLateDataAfterHeldFIN: a capture joins a connection 3 bytes
// before the client's FIN of stream 3, which began before it; the
// client's next frames come later, so a chain of three headers that
// frames its direction completes only at 0.3 s. Meanwhile, at 0.15 s, the
// server writes on stream 3, after the client closed it:
// DATA_AFTER_CLOSE. Recorded in the order the chains completed, the FIN
// came after the data, and the finding was missed.
func TestJoinedLateDataAfterHeldFIN(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, []byte("xyz"+v1("\x01", 1, "")+v1("\x01", 1, "")+v1("\x01", 1, "")))
		at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
		for _, s := range []float64{0.05, 0.06, 0.07} {
			c.Write(live.ServerToClient, at(s), []byte(v1("\x03", 0, ""))) // keepalive NOPs: its chain completes at once
		}
		c.Write(live.ClientToServer, at(0.1), []byte(v1("\x01", 3, "")))
		c.Write(live.ServerToClient, at(0.15), []byte(v1("\x02", 3, "late")))
		c.Write(live.ClientToServer, at(0.2), []byte(v1("\x00", 5, "")))
		c.Write(live.ClientToServer, at(0.3), []byte(v1("\x02", 5, "RAND")))
		c.Write(live.ServerToClient, at(0.4), []byte(v1("\x02", 5, "12345678")))
	})
	var ps []pkt
	joined := false
	for _, p := range readPackets(t, path) {
		if !joined && len(p.Payload) == 0 {
			continue // the handshake, before the capture
		}
		if !joined {
			// The capture joins 3 bytes before the FIN: only the end of the
			// FINs before it, which the first packet carries, is in it.
			p, joined = trim(t, p, len(p.Payload)-3), true
		}
		ps = append(ps, p)
	}
	for _, filter := range []capture.Config{{}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
		fs := findingsOf(t, ps, filter.Filter, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
		var got []string
		for _, r := range fs {
			if r.Kind == live.FindingOpened {
				got = append(got, r.Finding.Code.String()+"/"+r.Finding.Dir.Code())
			}
		}
		if strings.Join(got, " ") != "DATA_AFTER_CLOSE/s2c" {
			t.Errorf("filter %v: findings opened %q, want the server's DATA_AFTER_CLOSE", filter.Filter, got)
		}
	}
}

// alignedCapture writes a connection to port 9000 with write and returns
// its packets from the first that carries bytes on: the handshake is
// before the capture, which joins it mid-stream.
func alignedCapture(t *testing.T, t0 time.Time, write func(c tap.ConnRecorder, at func(s float64) time.Time)) []pkt {
	t.Helper()
	path := writeCapture(t, func(w *pcapout.Writer) {
		write(w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0), func(s float64) time.Time {
			return t0.Add(time.Duration(s * float64(time.Second)))
		})
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if len(ps) == 0 && len(p.Payload) == 0 {
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

// framesOf returns the frames a registry recorded, as "dir cmd sid len".
func framesOf(reg *live.Registry) []string {
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var out []string
	for _, r := range recs {
		if r.Kind == live.FrameRecord {
			out = append(out, fmt.Sprintf("%s %v %d %d", r.Dir.Code(), r.Header.Cmd(), r.Header.StreamID(), r.Header.Length()))
		}
	}
	return out
}

// TestAlignedLossFirst: the capture lost the server's first bytes after
// it joined the connection: its first packet is a bare ACK, the next, of
// 10 bytes, is lost, and the client's ACK of what followed shows the
// loss while the connection is held for the client's boundary. The loss
// counts, and the server's direction, whose boundary was found only after
// it, is hunted for as bytes come (Resync): its boundary in the held bytes
// counts the lost bytes, which the feeder skips by Gap, not by ResyncAt.
func TestAlignedLossFirst(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
		c.Write(live.ServerToClient, at(0), []byte(v1("\x03", 0, "")))
		c.Write(live.ClientToServer, at(0.01), []byte("xyz"+v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, at(0.02), []byte(v1("\x02", 1, "ab"))) // lost
		c.Write(live.ServerToClient, at(0.03), []byte(v1("\x02", 3, "12345678")+v1("\x03", 0, "")+v1("\x03", 0, "")))
		c.Write(live.ClientToServer, at(0.04), []byte(v1("\x03", 0, "")+v1("\x03", 0, "")))
		c.Write(live.ServerToClient, at(0.05), []byte(v1("\x03", 0, "")))
	})
	var out []pkt
	for i, p := range ps {
		switch {
		case i == 0:
			// The server's first packet, its NOP's bytes not captured: a
			// bare ACK where its bytes begin.
			out = append(out, reserialize(t, p, p.TCP, nil))
		case i == 1:
			out = append(out, trim(t, p, 3)) // joined 3 bytes into the client's bytes
		case i == 2:
			// lost
		default:
			out = append(out, p)
		}
	}
	for _, cfg := range []capture.Config{{}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
		reg := readEvaluated(out, cfg, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 {
			t.Fatalf("filter %v: %d sessions", cfg.Filter, len(ss))
		}
		if want := [2]int64{0, 18}; ss[0].Lost != want {
			t.Errorf("filter %v: lost %v, want %v", cfg.Filter, ss[0].Lost, want)
		}
		got := strings.Join(framesOf(reg), ", ")
		want := "c2s SYN 3 0, c2s PSH 3 4, s2c PSH 3 8, s2c NOP 0 0, s2c NOP 0 0, c2s NOP 0 0, c2s NOP 0 0, s2c NOP 0 0"
		if got != want {
			t.Errorf("filter %v: frames\n%s\nwant\n%s", cfg.Filter, got, want)
		}
	}
}

// shownAt reads ps packet by packet and returns the time of the packet
// after which the registry first shows the connection to port 9000 (zero:
// not before the capture's end), and the registry once read.
func shownAt(t *testing.T, ps []pkt, cfg capture.Config) (time.Time, *live.Registry) {
	t.Helper()
	reg := live.New(live.Config{})
	cfg.Registry = reg
	rd := capture.NewReader(cfg)
	var shown time.Time
	for _, p := range ps {
		rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
		for _, ss := range reg.Snapshot().Sessions {
			if strings.HasSuffix(ss.Info.Server, ":9000") && shown.IsZero() {
				shown = p.CI.Timestamp
			}
		}
	}
	rd.Close()
	return shown, reg
}

// TestAlignedEndWhileHeld: the client's direction ends (FIN) while the
// connection is held, or still probed, for its boundary, which its two
// frames are too few to show but for the end: a chain that ends where
// the bytes do, which the client's feeder, flushed by its end, would find
// too. The connection is decoded at once, not held on, the client's two
// frames in time order before the server's answer, and its end reaches
// its feeder. (Read without the port, the roles are a guess, which no
// stream opened by a chain tells: held orienting instead, to the
// capture's end; the end of the direction, replayed then, tells the
// boundary as it does to the feeder.)
func TestAlignedEndWhileHeld(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name               string
		fin, server, shown float64 // capture times of the FIN, the server's chain, and when shown
		frames             string
	}{
		{"held", 0.02, 0.01, 0.02, "c2s SYN 3 0, c2s PSH 3 4, s2c PSH 3 8, s2c NOP 0 0, s2c NOP 0 0, s2c NOP 0 0, s2c NOP 0 0"},
		{"probed", 0.01, 0.02, 0.02, "c2s SYN 3 0, c2s PSH 3 4, s2c PSH 3 8, s2c NOP 0 0, s2c NOP 0 0, s2c NOP 0 0, s2c NOP 0 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var shownAfter time.Time
			ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
				c.Write(live.ClientToServer, at(0), []byte("xyz"+v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
				for _, s := range []float64{min(tc.fin, tc.server), max(tc.fin, tc.server)} {
					if s == tc.fin {
						c.End(live.ClientToServer, at(s))
					} else {
						c.Write(live.ServerToClient, at(s), []byte(v1("\x02", 3, "12345678")+v1("\x03", 0, "")+v1("\x03", 0, "")))
					}
				}
				c.Write(live.ServerToClient, at(1), []byte(v1("\x03", 0, "")))
				c.Write(live.ServerToClient, at(1.5), []byte(v1("\x03", 0, "")))
				shownAfter = at(tc.shown)
			})
			ps[0] = trim(t, ps[0], 3)
			for _, cfg := range []capture.Config{{}, {Filter: capture.Port(9000)}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
				shown, reg := shownAt(t, ps, cfg)
				if !cfg.Filter.Empty() && !shown.Equal(shownAfter) {
					t.Errorf("filter %v: shown after the packet at %v, want %v", cfg.Filter, shown.Sub(t0), shownAfter.Sub(t0))
				}
				if got := strings.Join(framesOf(reg), ", "); got != tc.frames {
					t.Errorf("filter %v: frames\n%s\nwant\n%s", cfg.Filter, got, tc.frames)
				}
			}
		})
	}
}

// TestAlignedBounds: a connection is held aligning no longer than
// alignMax bytes, nor alignWait of capture time counted from its first
// byte, orientation's wait included, and settled when that time is up
// even if it carries nothing more (sweep, at other connections' packets).
func TestAlignedBounds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	big := strings.Repeat("x", 16<<10)
	for _, tc := range []struct {
		name     string
		write    func(c tap.ConnRecorder)
		from, to float64 // shown after a packet in [from, to] s
	}{{
		// The client opens a stream, which tells the roles, and chains;
		// the server, silent, shows no boundary: held until 2 s, then
		// settled at the other connection's packet.
		"silent server", func(c tap.ConnRecorder) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"+v1("\x00", 3, "")+v1("\x02", 3, "RAND")+v1("\x03", 0, "")+v1("\x03", 0, "")))
		}, 2, 3,
	}, {
		// The server sends 16 KiB frames, 40 in 0.4 s: past 256 KiB held,
		// the connection is settled though the client shows nothing.
		"bulk", func(c tap.ConnRecorder) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"+v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
			for i := range 40 {
				c.Write(live.ServerToClient, at(0.01*float64(i+1)), []byte(v1("\x02", 3, big)))
			}
		}, 0.15, 0.2,
	}, {
		// No stream opens: roles are a guess, held orienting for 2 s from
		// the probe's verdict at 0.5 s (the second packet completes the
		// chain), to the packet at 3 s; the client's NOPs chain at once,
		// the server is silent. Aligning's wait, counted from the first
		// byte, is over then too: not held 2 s more.
		"oriented first", func(c tap.ConnRecorder) {
			for i := range 8 {
				c.Write(live.ClientToServer, at(0.5*float64(i)), []byte(v1("\x03", 0, "")+v1("\x03", 0, "")+v1("\x03", 0, "")))
			}
		}, 2.5, 3,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCapture(t, func(w *pcapout.Writer) {
				tc.write(w.Conn("127.0.0.1:40009", "127.0.0.1:9000", t0))
				busy := w.Conn("127.0.0.1:40010", "127.0.0.1:9001", t0)
				for i := range 10 {
					busy.Write(live.ClientToServer, at(0.5*float64(i)+0.25), []byte(v1("\x03", 0, "")))
				}
			})
			var ps []pkt
			trimmed := false
			for _, p := range readPackets(t, path) {
				if p.TCP.SrcPort == 9000 || p.TCP.DstPort == 9000 {
					if !trimmed && len(p.Payload) == 0 {
						continue // joined after the handshake
					}
					if !trimmed {
						p, trimmed = trim(t, p, 3), true // 3 bytes into the client's
					}
				}
				ps = append(ps, p)
			}
			shown, _ := shownAt(t, ps, capture.Config{})
			if shown.Before(at(tc.from)) || shown.After(at(tc.to)) {
				t.Errorf("shown after the packet at %v, want %v–%v s", shown.Sub(t0), tc.from, tc.to)
			}
		})
	}
}

// TestAlignedCaptureEnd: the capture ends while a connection is held for
// the client's boundary, which its two frames are too few to show but for
// the end: they end where its bytes do, as the feeder's decoder, flushed
// at the capture's end, would find. They are recorded in time order,
// before the server's answer.
func TestAlignedCaptureEnd(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
		c.Write(live.ClientToServer, at(0), []byte("xyz"+v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, at(0.01), []byte(v1("\x02", 3, "12345678")+v1("\x03", 0, "")+v1("\x03", 0, "")))
		c.Write(live.ServerToClient, at(0.5), []byte(v1("\x03", 0, "")))
	})
	ps[0] = trim(t, ps[0], 3)
	for _, cfg := range []capture.Config{{}, {Filter: capture.Port(9000)}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
		_, reg := shownAt(t, ps, cfg)
		want := "c2s SYN 3 0, c2s PSH 3 4, s2c PSH 3 8, s2c NOP 0 0, s2c NOP 0 0, s2c NOP 0 0"
		if got := strings.Join(framesOf(reg), ", "); got != want {
			t.Errorf("filter %v: frames\n%s\nwant\n%s", cfg.Filter, got, want)
		}
	}
}

// TestAlignedAfterClientSYN: the capture missed the client's SYN and has
// the server's SYN-ACK: the server's direction begins at its SYN, the
// client's, though it begins at its first byte, is framed by a chain of
// headers as if joined, which its request's two frames do not complete
// before the server's answer. Picked by port with the protocol forced,
// as found, the connection is held for the client's boundary, and its
// request recorded before the answer.
func TestAlignedAfterClientSYN(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40011", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, at(0.01), []byte(v1("\x00", 3, "")+v1("\x02", 3, "RAND")))
		c.Write(live.ServerToClient, at(0.02), []byte(v1("\x02", 3, "12345678")+v1("\x01", 3, "")+v1("\x03", 0, "")))
		c.Write(live.ClientToServer, at(0.03), []byte(v1("\x01", 3, "")))
	})
	ps := readPackets(t, path)[1:] // without the client's SYN
	if !ps[0].TCP.SYN || !ps[0].TCP.ACK {
		t.Fatal("the capture does not begin with the SYN-ACK")
	}
	for _, cfg := range []capture.Config{{}, {Filter: capture.Port(9000)}, {Filter: capture.Port(9000), Protocol: tap.Smux}} {
		_, reg := shownAt(t, ps, cfg)
		// Picked, the connection starts at its first packet, the SYN-ACK;
		// found, at its first byte, whose chain of headers found it.
		start := at(0.01)
		if cfg.Protocol != tap.Detect {
			start = t0
		}
		if ss := reg.Snapshot().Sessions; len(ss) != 1 || !ss[0].Start.Equal(start) {
			t.Errorf("filter %v, protocol %v: sessions %d, want one that starts at %v", cfg.Filter, cfg.Protocol, len(ss), start.Sub(t0))
		}
		want := "c2s SYN 3 0, c2s PSH 3 4, s2c PSH 3 8, s2c FIN 3 0, s2c NOP 0 0, c2s FIN 3 0"
		if got := strings.Join(framesOf(reg), ", "); got != want {
			t.Errorf("filter %v, protocol %v: frames\n%s\nwant\n%s", cfg.Filter, cfg.Protocol, got, want)
		}
	}
}

// ym returns a yamux frame of type typ with flags on sid: Data carries
// payload, the others have length n.
func ym(typ yamux.Type, flags yamux.Flags, sid uint32, payload string, n uint32) string {
	if typ == yamux.Data {
		n = uint32(len(payload))
	}
	h := yamux.MakeHeader(typ, flags, sid, n)
	return string(h[:]) + payload
}

// TestAlignedYamux is TestAlignedLossFirst and TestAlignedCaptureEnd in
// yamux: a loss before the server's first bytes counts, and its boundary
// found after it is not used; the client's two frames, too few to chain,
// end where its bytes do when the capture ends, and are recorded in time
// order.
func TestAlignedYamux(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := ym(yamux.WindowUpdate, yamux.SYN, 3, "", 0) + ym(yamux.Data, 0, 3, "RAND", 0)
	answer := ym(yamux.WindowUpdate, yamux.ACK, 3, "", 0) + ym(yamux.Data, 0, 3, "12345678", 0) + ym(yamux.Ping, yamux.SYN, 0, "", 7)
	frames := func(reg *live.Registry) string {
		recs, _ := reg.Frames(live.Query{From: 1}, nil)
		var out []string
		for _, r := range recs {
			if r.Kind == live.FrameRecord {
				h := r.YamuxHeader
				out = append(out, fmt.Sprintf("%s %v %d %d", r.Dir.Code(), h.Type(), h.StreamID(), h.PayloadLength()))
			}
		}
		return strings.Join(out, ", ")
	}
	cfgs := []capture.Config{{}, {Filter: capture.Port(9000)}, {Filter: capture.Port(9000), Protocol: tap.Yamux}}
	t.Run("loss first", func(t *testing.T) {
		ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
			c.Write(live.ServerToClient, at(0), []byte(ym(yamux.Ping, yamux.ACK, 0, "", 6)))
			c.Write(live.ClientToServer, at(0.01), []byte("xyz"+req))
			c.Write(live.ServerToClient, at(0.02), []byte(ym(yamux.Data, 0, 1, "ab", 0))) // lost
			c.Write(live.ServerToClient, at(0.03), []byte(answer))
			c.Write(live.ClientToServer, at(0.04), []byte(ym(yamux.Ping, yamux.ACK, 0, "", 7)+ym(yamux.Ping, yamux.SYN, 0, "", 8)))
		})
		ps[0] = reserialize(t, ps[0], ps[0].TCP, nil) // the server's Ping not captured: a bare ACK
		ps[1] = trim(t, ps[1], 3)
		ps = slices.Delete(ps, 2, 3)
		for _, cfg := range cfgs {
			reg := readEvaluated(ps, cfg, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
			if ss := reg.Snapshot().Sessions; len(ss) != 1 || ss[0].Lost != [2]int64{0, 26} {
				t.Fatalf("filter %v: %d sessions, want one that lost 26 bytes from the server", cfg.Filter, len(ss))
			}
			want := "c2s WINDOW_UPDATE 3 0, c2s DATA 3 4, s2c WINDOW_UPDATE 3 0, s2c DATA 3 8, s2c PING 0 0, c2s PING 0 0, c2s PING 0 0"
			if got := frames(reg); got != want {
				t.Errorf("filter %v: frames\n%s\nwant\n%s", cfg.Filter, got, want)
			}
		}
	})
	t.Run("capture end", func(t *testing.T) {
		ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"+req))
			c.Write(live.ServerToClient, at(0.01), []byte(answer))
			c.Write(live.ServerToClient, at(0.5), []byte(ym(yamux.Ping, yamux.SYN, 0, "", 9)))
		})
		ps[0] = trim(t, ps[0], 3)
		for _, cfg := range cfgs {
			_, reg := shownAt(t, ps, cfg)
			want := "c2s WINDOW_UPDATE 3 0, c2s DATA 3 4, s2c WINDOW_UPDATE 3 0, s2c DATA 3 8, s2c PING 0 0, s2c PING 0 0"
			if got := frames(reg); got != want {
				t.Errorf("filter %v: frames\n%s\nwant\n%s", cfg.Filter, got, want)
			}
		}
	})
}

// TestAlignedHeldEnough: probing a yamux connection joined mid-stream
// took more than alignMax bytes (its frames are large: a chain of three
// ends past 256 KiB), so it is not held for the client's boundary, which
// the client, silent, does not show: decoded at the server's chain, not
// a packet later.
func TestAlignedHeldEnough(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	big := strings.Repeat("x", 150<<10)
	var chained time.Time
	ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
		c.Write(live.ServerToClient, at(0), []byte("xyz"+ym(yamux.Data, 0, 2, big, 0)))
		c.Write(live.ServerToClient, at(0.1), []byte(ym(yamux.Data, 0, 2, big, 0)))
		chained = at(0.2)
		h := yamux.MakeHeader(yamux.Data, 0, 2, uint32(len(big)))
		c.Write(live.ServerToClient, chained, h[:]) // the third header: the chain
		c.Write(live.ServerToClient, at(0.3), []byte(big))
	})
	ps[0] = trim(t, ps[0], 3)
	shown, reg := shownAt(t, ps, capture.Config{Filter: capture.Port(9000)})
	if !shown.Equal(chained) {
		t.Errorf("shown after the packet at %v, want the chain's, %v", shown.Sub(t0), chained.Sub(t0))
	}
	if ss := reg.Snapshot().Sessions; len(ss) != 1 || ss[0].Info.Proto != live.Yamux {
		t.Fatalf("%d sessions, want one of yamux", len(ss))
	}
}
