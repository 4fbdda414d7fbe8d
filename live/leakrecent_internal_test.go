package live

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
)

// TestLeakRecentWalkAsFull: LEAK's walk over the recent streams alone
// (recentLeaks) finds what the full walk over every counted stream
// finds. Two registries are fed the same smux v1, v2 or yamux sessions,
// at random: streams opened, asked, answered, half-closed, closed,
// written on past their window and read, keepalive NOPs (yamux: pings,
// from a random time on: before, a stream opened as the session began
// waits for the first, graceCut), a server that goes silent for a while;
// the second's every walk is a full one (noRecent). After each
// evaluation, ten a second, their findings (evidence and all), each
// session's count of suspected leaks and which streams they are, are the
// same; and the first looked at the recent streams alone in most walks.
func TestLeakRecentWalkAsFull(t *testing.T) {
	for _, ver := range []uint8{1, 2, yamuxVer} {
		for seed := range 6 {
			name := fmt.Sprintf("smux-v%d/seed=%d", ver, seed)
			if ver == yamuxVer {
				name = fmt.Sprintf("yamux/seed=%d", seed)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				leakRecentAsFull(t, ver, uint64(seed))
			})
		}
	}
}

// yamuxVer stands for yamux among leakRecentAsFull's smux versions.
const yamuxVer = 0

func leakRecentAsFull(t *testing.T, ver uint8, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, uint64(ver)))
	cfg := FindingsConfig{
		LeakAfter:       []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}[seed%3],
		UnansweredAfter: time.Second,
		StallAfter:      []time.Duration{time.Second, 4 * time.Second}[seed%2],
	}
	const sessions, steps = 4, 400
	type strm struct {
		sid        uint32
		finC, finS bool
		sent       uint32 // client to server, payload bytes
	}
	type sess struct {
		s          [2]*Session
		offs       [2][2]int64
		next       uint32
		open       []*strm
		mute, talk int // the server sends nothing from step mute to talk
		ping       int // yamux: the first step whose keepalive pings
	}
	regs := [2]*Registry{New(Config{}), New(Config{})}
	all := make([]*sess, sessions)
	for i := range all {
		ss := &sess{next: 1, mute: 50 + rnd.IntN(300), ping: rnd.IntN(200)}
		ss.talk = ss.mute + rnd.IntN(100)
		info := SessionInfo{Client: "c", Server: "s"}
		if ver == yamuxVer {
			info.Proto = Yamux
		}
		for r, reg := range regs {
			ss.s[r] = reg.Open(info, time.Unix(0, 0))
			ss.s[r].mu.Lock()
			ss.s[r].w.noRecent = r == 1
			ss.s[r].mu.Unlock()
		}
		all[i] = ss
	}
	rec := func(ss *sess, at time.Time, dir Dir, cmd decoder.Cmd, sid uint32, payload string) {
		if ver == yamuxVer {
			recYamux(ss.s, &ss.offs, at, dir, cmd, sid, payload)
			return
		}
		for r := range regs {
			h := decoder.MakeHeader(ver, cmd, uint16(len(payload)), sid)
			f := decoder.Frame{Header: h, Payload: []byte(payload), Offset: ss.offs[r][dir]}
			ss.offs[r][dir] += int64(len(h) + len(payload))
			ss.s[r].Record(dir, at, &f)
		}
	}
	big := strings.Repeat("x", 60000)
	for step := range steps {
		base := time.Unix(0, 0).Add(time.Duration(step) * 100 * time.Millisecond)
		for _, ss := range all {
			at := base
			tick := func() time.Time { at = at.Add(time.Duration(rnd.IntN(10)) * time.Millisecond); return at }
			server := step < ss.mute || step >= ss.talk
			if step%10 == 0 && (ver != yamuxVer || step >= ss.ping) {
				rec(ss, tick(), ClientToServer, decoder.NOP, 0, "")
				if server {
					rec(ss, tick(), ServerToClient, decoder.NOP, 0, "")
				}
			}
			for range rnd.IntN(4) {
				var st *strm
				if len(ss.open) > 0 {
					st = ss.open[rnd.IntN(len(ss.open))]
				}
				switch p := rnd.IntN(100); {
				case p < 30 || st == nil:
					st = &strm{sid: ss.next}
					ss.next += 2
					ss.open = append(ss.open, st)
					rec(ss, tick(), ClientToServer, decoder.SYN, st.sid, "")
					if ver == yamuxVer && server && rnd.IntN(4) > 0 {
						rec(ss, tick(), ServerToClient, decoder.SYN, st.sid, "") // its ACK
					}
					if rnd.IntN(5) > 0 {
						rec(ss, tick(), ClientToServer, decoder.PSH, st.sid, "RAND")
						st.sent += 4
					}
				case p < 55 && server && !st.finS:
					rec(ss, tick(), ServerToClient, decoder.PSH, st.sid, "answered")
				case p < 70 && !st.finC:
					st.finC = true
					rec(ss, tick(), ClientToServer, decoder.FIN, st.sid, "")
				case p < 80 && server && !st.finS:
					st.finS = true
					rec(ss, tick(), ServerToClient, decoder.FIN, st.sid, "")
				case p < 87 && !st.finC:
					payload, n := "more", 1
					if rnd.IntN(2) == 0 {
						payload, n = big, 1+rnd.IntN(4) // up to 4 s of an smux v1 reader's drain (V1DrainRate)
					}
					for range n {
						rec(ss, tick(), ClientToServer, decoder.PSH, st.sid, payload)
						st.sent += uint32(len(payload))
					}
				case p < 95 && server && ver == yamuxVer && !st.finS && st.sent > 0:
					rec(ss, tick(), ServerToClient, decoder.UPD, st.sid, string(rune(1+rnd.IntN(2)))) // a window update of all, or half, it was sent
				case p < 95 && server && ver == 2 && !st.finS:
					var b [8]byte
					consumed := st.sent
					if rnd.IntN(2) == 0 {
						consumed /= 2
					}
					b[0], b[1], b[2], b[3] = byte(consumed), byte(consumed>>8), byte(consumed>>16), byte(consumed>>24)
					b[6] = 4 // a 256 KiB window
					rec(ss, tick(), ServerToClient, decoder.UPD, st.sid, string(b[:]))
				}
				if st.finC && st.finS {
					for k, o := range ss.open {
						if o == st {
							ss.open = append(ss.open[:k], ss.open[k+1:]...)
							break
						}
					}
				}
			}
		}
		now := base.Add(100 * time.Millisecond)
		for _, reg := range regs {
			reg.Evaluate(now, cfg)
		}
		if msg := sameLeakFindings(regs[0], regs[1]); msg != "" {
			t.Fatalf("step %d (%v, --leak-after %v): %s", step, now.Sub(time.Unix(0, 0)), cfg.LeakAfter, msg)
		}
	}
	var short, walks uint64
	for _, ss := range all {
		ss.s[0].mu.Lock()
		short += ss.s[0].w.recentWalks
		ss.s[0].mu.Unlock()
	}
	walks = steps * sessions
	if short == 0 {
		t.Fatalf("no walk of %d evaluations looked at the recent streams alone", walks)
	}
	t.Logf("%d of %d session evaluations walked the recent streams alone", short, walks)
}

// recYamux records on ss, at at, the yamux frame that stands for an smux
// one: a SYN from the server is its ACK, a NOP a ping (the client's
// request, the server's answer), a UPD a window update of what was sent
// on the stream (payload "\x01": all of it; "\x02": half), a PSH data.
// Window updates are counted as the payload sent on the stream.
func recYamux(ss [2]*Session, offs *[2][2]int64, at time.Time, dir Dir, cmd decoder.Cmd, sid uint32, payload string) {
	t, flags, length := yamux.Data, yamux.Flags(0), uint32(len(payload))
	switch cmd {
	case decoder.SYN:
		t, flags, length = yamux.WindowUpdate, yamux.SYN, 0
		if dir == ServerToClient {
			flags = yamux.ACK
		}
	case decoder.FIN:
		t, flags, length = yamux.WindowUpdate, yamux.FIN, 0
	case decoder.NOP:
		t, flags, length = yamux.Ping, yamux.SYN, 7
		if dir == ServerToClient {
			flags = yamux.ACK
		}
	case decoder.UPD:
		t, flags, length = yamux.WindowUpdate, 0, 60000
		if payload == "\x02" {
			length = 30000
		}
		payload = ""
	}
	for r := range ss {
		f := &yamux.Frame{Offset: offs[r][dir], Header: yamux.MakeHeader(t, flags, sid, length), Payload: []byte(payload)}
		offs[r][dir] += f.Size()
		ss[r].RecordYamux(dir, at, f)
	}
}

// sameLeakFindings says how the findings of a and b, and their suspected
// leaks, differ: "" for not at all.
func sameLeakFindings(a, b *Registry) string {
	sa, sb := a.Snapshot(), b.Snapshot()
	if len(sa.Findings) != len(sb.Findings) {
		return fmt.Sprintf("%d findings open, the full walk's %d: %v / %v", len(sa.Findings), len(sb.Findings), codes(sa.Findings), codes(sb.Findings))
	}
	for i := range sa.Findings {
		if !reflect.DeepEqual(sa.Findings[i], sb.Findings[i]) {
			return fmt.Sprintf("finding %d: %+v, the full walk's %+v", i, *sa.Findings[i], *sb.Findings[i])
		}
	}
	if sa.FindingsResolvedBy != sb.FindingsResolvedBy || sa.FindingsOpenedBy != sb.FindingsOpenedBy || sa.Leaks != sb.Leaks {
		return fmt.Sprintf("counts differ: leaks %d, the full walk's %d", sa.Leaks, sb.Leaks)
	}
	for i, s := range sa.Sessions {
		o := sb.Sessions[i]
		if s.Leaks != o.Leaks {
			return fmt.Sprintf("session %d: %d leaks, the full walk's %d", s.ID, s.Leaks, o.Leaks)
		}
		for j, st := range s.Streams {
			if st.Leak != o.Streams[j].Leak {
				return fmt.Sprintf("session %d stream %d: leak %v, the full walk's %v", s.ID, st.ID, st.Leak, o.Streams[j].Leak)
			}
		}
	}
	return ""
}

func codes(fs []*Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%v#%d", f.Code, f.Stream))
	}
	return out
}
