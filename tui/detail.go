package tui

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
	"github.com/muxtop/muxtop/wirekind"
)

// detailPane shows one record: the frames pane's cursor's. It keeps its
// own copy, so the detail stays while history moves on.
type detailPane struct {
	keys *keyMap
	rec  *live.Record
	top  int // the first line shown
	w, h int
	// note, when not "", is what the pane says while it shows no record
	// instead of how to select one: the root sets it from the frames
	// pane as it draws, where that pane has no frame to select.
	note string
}

func newDetailPane(keys *keyMap) detailPane { return detailPane{keys: keys} }

// Update handles the frames pane's selection and the scrolling keys.
func (p detailPane) Update(msg tea.Msg) (detailPane, tea.Cmd) {
	if msg, ok := msg.(frameSelectedMsg); ok {
		if p.rec == nil || msg.rec == nil || p.rec.Seq != msg.rec.Seq {
			p.top = 0
		}
		p.rec = msg.rec
	}
	if d, ok := p.keys.step(msg, p.h-2); ok {
		p.scroll(d)
	}
	return p, nil
}

// scroll moves the view by d lines, within the detail's length.
func (p *detailPane) scroll(d int) {
	n := detailLen(p.rec, p.w-2) - (p.h - 2)
	p.top = max(0, min(p.top+d, n))
}

// detailLen returns how many lines the detail of r takes at width w.
func detailLen(r *live.Record, w int) int {
	if r == nil || w <= 0 {
		return 0
	}
	bpl := bytesPerLine(w)
	plain := theme{loc: time.UTC} // the styles and zone change no line count
	return len(detailInfo(&plain, r, w)) + (len(r.Payload)+bpl-1)/bpl
}

// detailInfo returns the lines above the hex dump: the header decoded
// field by field, where and when, and what smux makes of it.
func detailInfo(th *theme, r *live.Record, w int) []string {
	st := &th.styles
	var out []string
	add := func(s string, sty style) { out = append(out, newLine(w).add(s, sty).String()) }
	wrap := func(s string, sty style) {
		for _, part := range wrapText(s, w) {
			add(part, sty)
		}
	}
	at := r.At.In(th.loc).Format(live.TimeLayout)
	sess := "session " + strconv.FormatUint(r.Session, 10)
	if r.Proto == live.Yamux && (r.Kind == live.FrameRecord || r.Kind == live.FramingViolation) {
		yamuxDetail(th, r, w, func(s string) { out = append(out, s) }, add, wrap, sess, at)
		return out
	}
	switch r.Kind {
	case live.FrameRecord:
		out = append(out, headerLine(st, r.Header, w))
		add(sess+" · "+r.Dir.String()+" "+r.Dir.Words()+" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, style{})
		if r.Header.Cmd() == decoder.UPD {
			add("window update: consumed "+strconv.FormatUint(uint64(r.Consumed), 10)+
				"  window "+strconv.FormatUint(uint64(r.Window), 10), st.upd)
		}
		if r.Anomaly != 0 {
			wrap(r.Anomaly.String()+": "+r.Anomaly.SmuxReaction(), st.bad)
		}
		n := int(r.Header.Length())
		switch {
		case n == 0:
			add("no payload", st.dim)
		case r.Lost > 0:
			wrap(lostPayload(len(r.Payload), int64(n), r.Lost), st.warn)
		case r.Truncated:
			wrap(keptPayload(len(r.Payload), int64(n)), st.warn)
		default:
			add("payload "+strconv.Itoa(n)+" bytes", st.dim)
		}
		if n == 8 && len(r.Payload) == 8 && r.Header.Cmd() != decoder.UPD {
			// Eight bytes are often a number, such as the demo's RAND answer.
			wrap("uint64  "+strconv.FormatUint(binary.BigEndian.Uint64(r.Payload), 10)+" big-endian · "+
				strconv.FormatUint(binary.LittleEndian.Uint64(r.Payload), 10)+" little-endian", style{})
		}
	case live.FramingViolation:
		wrap("VIOLATION "+r.Code.String()+" · "+sess+" · "+r.Dir.String()+" "+r.Dir.Words()+
			" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, st.bad)
		wrap(printable.Text(r.Detail), st.bad)
		out = append(out, headerLine(st, r.Header, w))
		// The bytes that broke the framing, as text: "GET / HT" tells
		// more than a bad version 71.
		add("as text "+strconv.Quote(string(printable.AppendASCII(nil, r.Header[:]))), style{})
		if g := wirekind.Guess(r.Header[:]); g != wirekind.Unknown {
			wrap("looks like "+g.String()+": the "+r.Dir.Sender().String()+" "+g.Hint(), st.warn)
		}
		if t := r.NotMuxText(); t != "" { // another protocol from the first byte: no smux reacts
			wrap(t, style{})
		} else {
			wrap(r.Code.SmuxReaction(), style{}) // it names smux
		}

	case live.SessionOpened:
		wrap(sess+" opened "+printable.Text(live.Ends(r.Client, r.Server))+" · "+at, style{})
	case live.SessionEnded:
		wrap(sess+" ended: "+printable.Text(r.EndText())+" · "+at, style{})
	case live.SessionHalfClosed:
		wrap(sess+" "+r.HalfClosedName()+": "+printable.Text(r.Detail)+" · "+at, st.warn)
	case live.NoticeRecord:
		wrap(printable.Text(r.Detail)+" · "+at, st.bad)
	case live.ResyncRecord:
		wrap(sess+" "+r.Dir.Words()+": "+printable.Text(r.Detail)+" · "+at, st.bad)
		wrap("counts of this session are incomplete: they are what the capture saw", style{})
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		if f := r.Finding; f != nil {
			sev := f.Severity.String()
			if r.Kind == live.FindingUpdated && r.Was != 0 {
				sev += ", was " + r.Was.String()
			}
			// When what it is about began, then when this record came,
			// worded as the findings pane words them: a bare time after
			// "stream 9" would read as the stream's.
			where := r.Kind.String() + " " + f.Code.String() + " (" + sev + ") · " + sess
			if f.Stream != 0 {
				where += " · stream " + strconv.FormatUint(uint64(f.Stream), 10)
			}
			when := "finding opened "
			switch r.Kind {
			case live.FindingUpdated:
				when = "finding updated "
			case live.FindingResolved:
				when = "finding resolved "
			}
			wrap(where+" · since "+f.Since.In(th.loc).Format(time.TimeOnly)+" · "+when+at, st.bad)
			wrap(printable.Text(f.Text), style{})
			if len(f.StreamIDs) > 0 {
				wrap(leakStreams(f), style{})
				// How to see them: the filter's sid: matches a stream's
				// frames and the LEAK records that count it, in every
				// session; session: keeps n and N to this one.
				wrap("/"+sidFilter(r.Session, f.StreamIDs[0])+" shows the stream's frames and the findings that name it", st.dim)
			}
			wrap("what to do: "+printable.Text(f.Advice), style{})
			if r.Detail != "" {
				wrap(printable.Text(r.Detail), st.dim)
			}
			// What each stream carried, which history may no longer hold:
			// up to 32 lines, last, where a short pane says how many more
			// (detailPane.body).
			for i, id := range f.StreamIDs[:min(len(f.StreamIDs), len(f.Heads))] {
				wrap(firstLine(id, &f.Heads[i]), style{})
			}
		}
	}
	return out
}

// yamuxDetail is detailInfo for a yamux frame or violation: it puts its
// lines with line (drawn ones), add and wrap, all onto detailInfo's.
func yamuxDetail(th *theme, r *live.Record, w int, line func(string), add func(string, style), wrap func(string, style), sess, at string) {
	st := &th.styles
	h := r.YamuxHeader
	if r.Kind == live.FramingViolation {
		wrap("VIOLATION "+r.YamuxCode.String()+" · "+sess+" · "+r.Dir.String()+" "+r.Dir.Words()+
			" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, st.bad)
		wrap(printable.Text(r.Detail), st.bad)
		add("header  "+string(printable.AppendHex(nil, h[:])), st.dim)
		add("as text "+strconv.Quote(string(printable.AppendASCII(nil, h[:]))), style{})
		if g := wirekind.Guess(h[:]); g != wirekind.Unknown {
			wrap("looks like "+g.String()+": the "+r.Dir.Sender().String()+" "+g.HintAt("yamux"), st.warn)
		}
		if t := r.NotMuxText(); t != "" { // another protocol from the first byte: no yamux reacts
			wrap(t, style{})
		} else {
			wrap(r.YamuxCode.YamuxReaction(), style{}) // it names yamux
		}
		return
	}
	l := newLine(w)
	l.add("header", st.dim).text("  " + string(printable.AppendHex(nil, h[:])) + "   ")
	l.text("ver " + strconv.Itoa(int(h.Version())) + "  type ")
	l.add(h.Type().String(), typeStyle(st, h.Type()))
	if f := h.Flags(); f != 0 {
		l.text("  flags ").add(f.String(), flagsStyle(st, f))
	}
	l.text("  sid " + strconv.FormatUint(uint64(h.StreamID()), 10) + "  length " + strconv.FormatUint(uint64(h.Length()), 10))
	line(l.String())
	add(sess+" · "+r.Dir.String()+" "+r.Dir.Words()+" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, style{})
	switch h.Type() {
	case yamux.WindowUpdate:
		add("window update: the receiver grants "+strconv.FormatUint(uint64(h.Length()), 10)+" more bytes", st.upd)
	case yamux.Ping:
		what := "ping request: the other side echoes the value with ACK"
		if h.Flags()&yamux.ACK != 0 {
			what = "ping reply to value " + strconv.FormatUint(uint64(h.Length()), 10)
		}
		add(what, style{})
	case yamux.GoAway:
		wrap("go away: "+yamux.GoAwayName(h.Length())+"; the sender accepts no new streams"+
			map[bool]string{true: "", false: " and ends the session"}[h.Length() == yamux.GoAwayNormal], st.bad)
	}
	if r.Anomaly != 0 {
		wrap(r.Anomaly.String()+": "+r.Anomaly.YamuxReaction(), st.bad)
	}
	n := int64(h.PayloadLength())
	switch {
	case h.Type() != yamux.Data:
	case n == 0:
		add("no payload", st.dim)
	case r.Lost > 0:
		wrap(lostPayload(len(r.Payload), n, r.Lost), st.warn)
	case r.Truncated:
		wrap(keptPayload(len(r.Payload), n), st.warn)
	default:
		add("payload "+strconv.FormatInt(n, 10)+" bytes", st.dim)
	}
	if n == 8 && len(r.Payload) == 8 {
		wrap("uint64  "+strconv.FormatUint(binary.BigEndian.Uint64(r.Payload), 10)+" big-endian · "+
			strconv.FormatUint(binary.LittleEndian.Uint64(r.Payload), 10)+" little-endian", style{})
	}
}

// lostPayload says what is known of the payload of n bytes of a frame the
// capture lost bytes of: the frame came whole but for them, and the kept
// bytes are those that came before them.
func lostPayload(kept int, n, lost int64) string {
	return "payload " + strconv.FormatInt(n, 10) + " bytes: the capture lost " + strconv.FormatInt(lost, 10) +
		" of them; " + strconv.Itoa(kept) + " kept, those before the loss"
}

// keptPayload says what is kept of the payload of n bytes of a frame
// whose payload muxtop's own --snaplen cut when it kept it: the frame came
// whole (a capture's loss is lostPayload's, and a capture file's snapshot
// length shows as such a loss), and its first kept bytes were kept.
func keptPayload(kept int, n int64) string {
	return "payload " + strconv.FormatInt(n, 10) + " bytes, " + strconv.Itoa(kept) +
		" kept: muxtop's --snaplen (the frame came whole)"
}

// headerLine decodes the eight header bytes:
//
//	header  01 02 08 00 3d 11 00 00   ver 1  cmd PSH  len 8  sid 4413
func headerLine(st *styles, h decoder.Header, w int) string {
	l := newLine(w)
	l.add("header", st.dim).text("  " + string(printable.AppendHex(nil, h[:])) + "   ")
	l.text("ver " + strconv.Itoa(int(h.Version())) + "  cmd ")
	l.add(h.Cmd().String(), cmdStyle(st, h.Cmd()))
	l.text("  len " + strconv.Itoa(int(h.Length())) + "  sid " + strconv.FormatUint(uint64(h.StreamID()), 10))
	return l.String()
}

// bytesPerLine is how many payload bytes a hex dump line of w cells shows.
func bytesPerLine(w int) int {
	switch {
	case w >= 78:
		return 16
	case w >= 45:
		return 8
	}
	return 4
}

// hexLine draws line i of a hex dump in the layout of hexdump -C:
//
//	00000010  0b 5e 9a 13 77 02 c1 aa  0b 5e 9a 13 77 02 c1 aa  |.^..w....^..w...|
func hexLine(p []byte, i, bpl, w int) string {
	off := i * bpl
	chunk := p[off:min(off+bpl, len(p))]
	b := fmt.Appendf(make([]byte, 0, 80), "%08x ", off)
	for j := 0; j < bpl; j += 8 { // two columns of 8 bytes, padded when short
		half := chunk[min(j, len(chunk)):min(j+8, len(chunk))]
		start := len(b)
		b = append(b, ' ')
		b = printable.AppendHex(b, half)
		for len(b)-start < 1+3*min(8, bpl-j) {
			b = append(b, ' ')
		}
	}
	b = append(b, " |"...)
	b = printable.AppendASCII(b, chunk)
	b = append(b, '|')
	return newLine(w).text(string(b)).String()
}

// View draws the pane in w×h cells: a function of its state alone. Only
// the visible hex dump lines are made, whatever the snaplen.
func (p detailPane) View(th *theme, w, h int, focused bool) string {
	title := "Frame detail"
	if p.rec != nil {
		title += " · seq " + strconv.FormatUint(p.rec.Seq, 10)
	}
	return boxed(th, title, focused, p.body(th, w-2, h-2, focused), w, h)
}

// body is the detail's lines in view; where more follow, the last line
// says how many, and how to scroll to them.
func (p *detailPane) body(th *theme, w, h int, focused bool) []string {
	r := p.rec
	if r == nil || h <= 0 {
		note := "select a frame: enter on a stream, then on a frame"
		if p.note != "" {
			note = p.note
		}
		var out []string
		for _, l := range wrapText(note, max(w-1, 1)) {
			out = append(out, newLine(w).add(" "+l, th.dim).String())
		}
		return out[:min(len(out), max(h, 1))]
	}
	info := detailInfo(th, r, w)
	bpl := bytesPerLine(w)
	total := len(info) + (len(r.Payload)+bpl-1)/bpl
	top := max(0, min(p.top, total-h))
	out := make([]string, 0, h)
	for i := top; i < total && len(out) < h; i++ {
		if i < len(info) {
			out = append(out, info[i])
		} else {
			out = append(out, hexLine(r.Payload, i-len(info), bpl, w))
		}
	}
	if more := total - top - h + 1; more > 1 && h >= 2 {
		how := "enter on the frame, then j/k or PgDn"
		if focused {
			how = "j/k or PgDn"
		}
		out[h-1] = moreLine(th, w, 0, more, "line", how)
	}
	return out
}

// moreLine is the last line of a pane that holds more than it shows:
// how many more of what (a singular noun) are above and below it, and,
// unless how is "", how to scroll to them. " ↓ 30 more lines: j/k or
// PgDn", " ↑ 5 ↓ 9 more sessions".
func moreLine(th *theme, w, above, below int, what, how string) string {
	return newLine(w).add(" "+moreText(above, below, what, how), th.styles.dim).String()
}

// moreText is what moreLine says: "↑ 5 ↓ 9 more sessions".
func moreText(above, below int, what, how string) string {
	if above+below != 1 {
		what += "s"
	}
	return moreWords(above, below, what, how)
}

// moreWords is moreText with what already worded for the number hidden:
// "↑ 5 ↓ 9 more anomalies".
func moreWords(above, below int, what, how string) string {
	s := ""
	if above > 0 {
		s += "↑ " + strconv.Itoa(above) + " "
	}
	if below > 0 {
		s += "↓ " + strconv.Itoa(below) + " "
	}
	s += "more " + what
	if how != "" {
		s += ": " + how
	}
	return s
}

// wrapText breaks plain text into lines of at most w cells at spaces.
func wrapText(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for width(s) > w {
		cutAt := strings.LastIndexByte(cut(s, w+1), ' ')
		if cutAt <= 0 {
			part := cut(s, w)
			out = append(out, part)
			s = s[len(part):]
			continue
		}
		out = append(out, s[:cutAt])
		s = strings.TrimLeft(s[cutAt:], " ")
	}
	return append(out, s)
}

// firstLine is a stream's first bytes each way as printable text, each
// quoted: `stream 7: "GET /bad HTTP/1.1.." → "ERR bad request"`.
func firstLine(sid uint32, h *[2]live.FirstBytes) string {
	return string(live.AppendFirstLine(nil, sid, h))
}

// firstDump is a stream's first bytes each way as a hex dump, under a
// line that names the direction and says how many bytes: for a stream
// whose frames history no longer holds.
func firstDump(th *theme, h *[2]live.FirstBytes, w int) []string {
	var out []string
	bpl := bytesPerLine(w)
	for d := range 2 {
		fb := &h[d]
		dir := live.Dir(d)
		what := " " + dir.String() + " " + dir.Words() + ": first " + strconv.Itoa(int(fb.N)) + " bytes"
		switch {
		case fb.N == 0 && !fb.Cut:
			what = " " + dir.String() + " " + dir.Words() + ": no payload"
		case fb.Cut:
			what += ", then bytes the capture did not see"
		}
		if fb.Joined {
			what += " (joined mid-stream: not the stream's first)"
		}
		out = append(out, newLine(w).add(cut(what, w), th.styles.dim).String())
		p := fb.Bytes()
		for i := 0; i*bpl < len(p); i++ {
			out = append(out, hexLine(p, i, bpl, w))
		}
	}
	return out
}

// sidFilter is the filter that selects stream sid of session id, its
// frames and the findings that name it: sid: alone matches that stream id
// in every session.
func sidFilter(id uint64, sid uint32) string {
	return "session:" + strconv.FormatUint(id, 10) + " sid:" + strconv.FormatUint(uint64(sid), 10)
}

// leakStreams names the streams of a LEAK record: "streams 3 5 7", and
// how many more it counts.
func leakStreams(f *live.Finding) string {
	b := []byte("streams")
	for _, id := range f.StreamIDs {
		b = strconv.AppendUint(append(b, ' '), uint64(id), 10)
	}
	if n := uint64(len(f.StreamIDs)); f.Evidence.Count > n {
		b = strconv.AppendUint(append(b, " and "...), f.Evidence.Count-n, 10)
		b = append(b, " more"...)
	}
	return string(b)
}
