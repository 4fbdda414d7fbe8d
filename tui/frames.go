package tui

import (
	"strconv"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// timeLayout is how the frames pane prints a record's time.
const timeLayout = "15:04:05.000000"

// renderFrames draws the frames pane's body: the visible records of the view.
func (m *Model) renderFrames(w, h int, focused bool) []string {
	if h <= 0 {
		return nil
	}
	n := m.view.len()
	if n == 0 {
		msg := " no frames yet"
		if m.filter != nil {
			msg = " no frames match " + m.filter.text
		}
		return []string{newLine(w).add(msg, m.st.dim).String()}
	}
	top := m.framesTop(h)
	mark := m.focus >= paneFrames
	out := make([]string, 0, h)
	buf := make([]byte, 0, 4*w)
	for i := top; i < n && len(out) < h; i++ {
		r := m.store.get(m.view.at(i))
		sel := mark && i == m.fr.idx
		out = append(out, m.frameLine(r, w, sel, sel && focused, buf))
	}
	return out
}

// frameLine draws one record of the frames pane:
//
//	▶12:01:03.441219 → v1 PSH sid 4413   len 4     52 41 4e 44              RAND
//
// Numbers are never cut. The payload shows as many bytes as fit, 32, 16, 8
// or 4 a row, with the ASCII in a column; "…" says the row does not show
// every byte of the payload.
func (m *Model) frameLine(r *live.Record, w int, mark, reverse bool, buf []byte) string {
	st := &m.st
	l := newLine(w)
	l.plain = reverse
	if mark {
		l.text("▶")
	} else {
		l.text(" ")
	}
	l.text(r.At.In(m.loc).Format(timeLayout) + " ")
	switch r.Kind {
	case live.FrameRecord:
		h := r.Header
		l.text(r.Dir.String() + " v" + strconv.Itoa(int(h.Version())) + " ")
		l.add(h.Cmd().String(), cmdStyle(st, h.Cmd()))
		if m.scope.stream {
			l.text(" ")
		} else {
			l.text(" sid ").num(strconv.FormatUint(uint64(h.StreamID()), 10), 6)
		}
		l.text("len ").num(strconv.Itoa(int(h.Length())), 5)
		if r.Anomaly != 0 {
			l.add(r.Anomaly.String(), st.bad).text(" ")
		}
		if h.Cmd() == decoder.UPD {
			l.text("consumed " + strconv.FormatUint(uint64(r.Consumed), 10) + " window " + strconv.FormatUint(uint64(r.Window), 10))
			break
		}
		p := r.Payload
		if len(p) == 0 {
			break
		}
		n, c, gap := payloadFit(l.room(), len(p), r.Truncated)
		if n <= 0 {
			break
		}
		l.text(string(printable.AppendHex(buf[:0], p[:n]))).spaces(3*(c-n) + gap)
		l.add(string(printable.AppendASCII(buf[:0], p[:n])), st.dim)
		if n < len(p) || r.Truncated {
			l.add("…", st.dim)
		}
	case live.SessionOpened:
		l.text("● session " + strconv.FormatUint(r.Session, 10) + " opened " + sanitize(r.Client+" → "+r.Server))
	case live.SessionEnded:
		l.add("● session "+strconv.FormatUint(r.Session, 10)+" ended: "+sanitize(endText(r)), st.dim)
	case live.FramingViolation:
		l.text(r.Dir.String() + " ")
		l.add("VIOLATION "+r.Code.String()+" at offset "+strconv.FormatInt(r.Offset, 10)+": "+sanitize(r.Detail), st.bad)
	case live.NoticeRecord:
		l.add("! "+sanitize(r.Detail), st.bad)
	}
	if reverse {
		return st.selected.render(l.String())
	}
	return l.String()
}

// payloadFit decides how a payload of have captured bytes shows in room
// cells: n bytes as hex, padded to c bytes' width so that the ASCII of
// short payloads lines up (at 16 bytes, or 8 or 4 when narrow), then gap
// blanks, the ASCII, and "…" when not every byte of the payload shows.
// Longer payloads take up to 32 bytes where the room allows.
func payloadFit(room, have int, truncated bool) (n, c, gap int) {
	align := 16
	for align > 4 && 4*align > room {
		align /= 2
	}
	width := func(n, c, gap int) int {
		w := 3*c - 1 + gap + n
		if n < have || truncated {
			w++
		}
		return w
	}
	for n = min(have, 32); n > 0; n-- {
		if c = max(n, align); width(n, c, 1) > room {
			c = n
		}
		if width(n, c, 1) <= room {
			break
		}
	}
	gap = 1
	if width(n, c, 2) <= room {
		gap = 2
	}
	return n, c, gap
}

// framesTitle is the frames pane's title.
func (m *Model) framesTitle() string {
	var s string
	switch {
	case m.scope.session == 0:
		s = "Frames"
	case m.scope.stream:
		s = "Frames of stream " + strconv.FormatUint(uint64(m.scope.sid), 10) + " (session " + strconv.FormatUint(m.scope.session, 10) + ")"
	default:
		s = "Frames of session " + strconv.FormatUint(m.scope.session, 10)
	}
	if m.filter != nil {
		s += " · filter " + m.filter.text + " · " + grouped(uint64(m.view.len())) + " match"
		if m.view.len() != 1 {
			s += "es"
		}
	} else {
		s += " · " + plural(uint64(m.view.len()), "record")
	}
	return s
}

// endText says why a SessionEnded record's session ended.
func endText(r *live.Record) string {
	if r.Detail == "" {
		return r.Reason.String()
	}
	return r.Reason.String() + ": " + r.Detail
}
