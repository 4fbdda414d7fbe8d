package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// detailInfo returns the lines above the hex dump: the header decoded
// field by field, where and when, and what smux makes of it.
func (m *Model) detailInfo(r *live.Record, w int) []string {
	st := &m.st
	var out []string
	add := func(s string, sty style) { out = append(out, newLine(w).add(s, sty).String()) }
	wrap := func(s string, sty style) {
		for _, part := range wrapText(s, w) {
			add(part, sty)
		}
	}
	at := r.At.In(m.loc).Format(timeLayout)
	sess := "session " + strconv.FormatUint(r.Session, 10)
	switch r.Kind {
	case live.FrameRecord:
		out = append(out, m.headerLine(r.Header, w))
		add(sess+" · "+r.Dir.String()+" "+dirName(r.Dir)+" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, style{})
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
		case r.Truncated:
			add("payload "+strconv.Itoa(len(r.Payload))+" of "+strconv.Itoa(n)+
				" bytes: truncated by the snaplen, the rest was not kept", st.warn)
		default:
			add("payload "+strconv.Itoa(n)+" bytes", st.dim)
		}
	case live.FramingViolation:
		wrap("VIOLATION "+r.Code.String()+" · "+sess+" · "+r.Dir.String()+" "+dirName(r.Dir)+
			" · offset "+strconv.FormatInt(r.Offset, 10)+" · "+at, st.bad)
		wrap(sanitize(r.Detail), st.bad)
		out = append(out, m.headerLine(r.Header, w))
		wrap("smux: "+r.Code.SmuxReaction(), style{})
	case live.SessionOpened:
		wrap(sess+" opened "+sanitize(r.Client+" → "+r.Server)+" · "+at, style{})
	case live.SessionEnded:
		wrap(sess+" ended: "+sanitize(endText(r))+" · "+at, style{})
	case live.NoticeRecord:
		wrap(sanitize(r.Detail)+" · "+at, st.bad)
	}
	return out
}

func dirName(d live.Dir) string {
	if d == live.ClientToServer {
		return "client to server"
	}
	return "server to client"
}

// headerLine decodes the eight header bytes:
//
//	header  01 02 08 00 3d 11 00 00   ver 1  cmd PSH  len 8  sid 4413
func (m *Model) headerLine(h decoder.Header, w int) string {
	l := newLine(w)
	l.add("header", m.st.dim).text("  " + string(printable.AppendHex(nil, h[:])) + "   ")
	l.text("ver " + strconv.Itoa(int(h.Version())) + "  cmd ")
	l.add(h.Cmd().String(), cmdStyle(&m.st, h.Cmd()))
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

// detailLen returns how many lines the detail of the selected record takes.
func (m *Model) detailLen(w int) int {
	r := m.store.get(m.detail.pos)
	if r == nil || w <= 0 {
		return 0
	}
	bpl := bytesPerLine(w)
	return len(m.detailInfo(r, w)) + (len(r.Payload)+bpl-1)/bpl
}

// renderDetail draws the visible part of the selected record's detail.
// Only the visible hex dump lines are made, whatever the snaplen.
func (m *Model) renderDetail(w, h int) []string {
	r := m.store.get(m.detail.pos)
	if r == nil || h <= 0 {
		return []string{newLine(w).add(" select a frame: enter on a stream, then on a frame", m.st.dim).String()}
	}
	info := m.detailInfo(r, w)
	bpl := bytesPerLine(w)
	total := len(info) + (len(r.Payload)+bpl-1)/bpl
	top := max(0, min(m.detail.top, total-h))
	out := make([]string, 0, h)
	for i := top; i < total && len(out) < h; i++ {
		if i < len(info) {
			out = append(out, info[i])
		} else {
			out = append(out, hexLine(r.Payload, i-len(info), bpl, w))
		}
	}
	return out
}

// detailTitle is the detail pane's title.
func (m *Model) detailTitle() string {
	r := m.store.get(m.detail.pos)
	if r == nil {
		return "Frame detail"
	}
	return "Frame detail · seq " + strconv.FormatUint(r.Seq, 10)
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
