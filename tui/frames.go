package tui

import (
	"strconv"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
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
//	▶12:01:03.441219 → v1 PSH sid 4413   len 4     52 41 4e 44  RAND
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
			l.text(" sid ").col(strconv.FormatUint(uint64(h.StreamID()), 10), 6, style{})
		}
		l.text("len ").col(strconv.Itoa(int(h.Length())), 5, style{})
		if r.Anomaly != 0 {
			l.add(r.Anomaly.String(), st.bad).text(" ")
		}
		if h.Cmd() == decoder.UPD {
			l.text(" consumed " + strconv.FormatUint(uint64(r.Consumed), 10) + " window " + strconv.FormatUint(uint64(r.Window), 10))
			break
		}
		if len(r.Payload) > 0 && l.room() > 6 {
			// Each byte takes 3 cells as hex and 1 as ASCII; 2 separate them.
			k := min(len(r.Payload), (l.room()-3)/4, 32)
			hex := appendHex(buf[:0], r.Payload[:k])
			l.text(" ").col(string(hex), 3*k-1, style{})
			l.text(" ").add(string(appendASCII(buf[:0], r.Payload[:k])), st.dim)
		}
	case live.SessionOpened:
		l.text("● session " + strconv.FormatUint(r.Session, 10) + " opened " + sanitize(r.Note))
	case live.SessionEnded:
		l.add("● session "+strconv.FormatUint(r.Session, 10)+" ended: "+sanitize(r.Note), st.dim)
	case live.FramingViolation:
		l.text(r.Dir.String() + " ")
		l.add("VIOLATION "+r.Code.String()+" at offset "+strconv.FormatInt(r.Offset, 10)+": "+sanitize(r.Note), st.bad)
	case live.NoticeRecord:
		l.add("! "+sanitize(r.Note), st.bad)
	}
	if reverse {
		return st.selected.render(l.String())
	}
	return l.String()
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
