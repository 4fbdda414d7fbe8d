package tui

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// filterTerms names the filter's terms, for its errors; the help shows
// them all with examples. It fits an 80-column error line.
const filterTerms = "cmd sid dir len type flags proto hex, or see ?"

// termKind says what one filter term tests.
type termKind uint8

const (
	termCmd       termKind = iota // cmd:psh
	termSID                       // sid:4413
	termSession                   // session:2
	termDir                       // dir:> dir:<
	termLen                       // len>100 len<8 len=0
	termVer                       // ver:2
	termViolation                 // violation
	termBytes                     // RAND, "text" or hex:…, in the captured payload; a bare word, a finding's code too (LEAK)
	termU64                       // u64:N, eight bytes in the payload, big- or little-endian
	termProto                     // proto:yamux, proto:smux
	termType                      // type:data, cmd:window_update: a yamux frame type
	termFlags                     // flags:syn, flags:syn|ack: a yamux frame with every flag named
	termLost                      // lost: what a capture did not see, a frame marked LOST or a resync
)

// term is one condition of a filter.
type term struct {
	kind  termKind
	cmd   decoder.Cmd
	dir   live.Dir
	op    byte // '<', '>', '=', 'l' (<=), 'g' (>=) for termLen
	n     uint64
	bytes []byte
	le    []byte // termU64: the little-endian bytes; bytes are the big-endian ones
	proto live.Protocol
	typ   yamux.Type
	flags yamux.Flags
	word  bool // termBytes typed as a bare word: it matches a finding's records by their code too
}

// filter selects history records: every term must match.
type filter struct {
	text  string // as typed, for the header
	terms []term
}

// parseFilter parses a filter expression. A blank expression is no filter:
// nil and no error.
func parseFilter(s string) (*filter, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, nil
	}
	f := &filter{text: printable.Text(strings.Join(toks, " "))}
	for _, tok := range toks {
		t, err := parseTerm(tok)
		if err != nil {
			return nil, err
		}
		f.terms = append(f.terms, t)
	}
	return f, nil
}

// tokenize splits s at blanks; a double-quoted text is one token, quotes kept.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		r := rune(s[i])
		if r < 0x80 && unicode.IsSpace(r) {
			i++
			continue
		}
		j := i
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errors.New(`filter: a quoted text needs its closing "`)
			}
			j = i + 1 + end + 1
		} else {
			for j < len(s) && !(s[j] < 0x80 && unicode.IsSpace(rune(s[j]))) && s[j] != '"' {
				j++
			}
		}
		toks = append(toks, s[i:j])
		i = j
	}
	return toks, nil
}

// quoted returns s quoted for an error message, cut with "…" to n cells
// at most (16 if n is 0) so that the message fits an 80-column screen.
func quoted(s string, n ...int) string {
	max := 16
	if len(n) > 0 {
		max = n[0]
	}
	return strconv.Quote(ellipsis(s, max))
}

// cmdWords lists smux's commands, as cmd: takes them: "SYN FIN PSH NOP
// UPD". From the decoder's names, so that the list cannot drift from
// what the filter takes.
func cmdWords() string {
	var b strings.Builder
	for c := range decoder.Cmd(decoder.NumCmds) {
		if c > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// typeWords lists yamux's types, as cmd: and type: take them, each by
// its shortest name so that the error fits its line: "DATA WND PING
// GO_AWAY". From yamux's names, as cmdWords.
func typeWords() string {
	var b strings.Builder
	for t := range yamux.Type(yamux.NumTypes) {
		if t > 0 {
			b.WriteByte(' ')
		}
		names := t.Names()
		b.WriteString(slices.MinFunc(names, func(a, b string) int { return cmp.Compare(len(a), len(b)) }))
	}
	return b.String()
}

// termNames are the names a term has before its colon.
var termNames = map[string]bool{"cmd": true, "sid": true, "session": true, "ver": true, "dir": true, "hex": true, "u64": true, "len": true,
	"proto": true, "type": true, "flags": true}

// isName reports whether s could be a term's name: letters and digits.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// parseTerm parses one term. A word that is no term, such as RAND, is a
// text in the payload, as "RAND" is; a word that looks like a term with a
// name muxtop does not know (cdm:psh) is an error, not a silent search.
func parseTerm(tok string) (term, error) {
	if tok[0] == '"' {
		text := tok[1 : len(tok)-1]
		if text == "" {
			return term{}, errors.New(`filter: "" matches everything; put text between the quotes`)
		}
		return term{kind: termBytes, bytes: []byte(text)}, nil
	}
	if strings.EqualFold(tok, "violation") || strings.EqualFold(tok, "violations") {
		return term{kind: termViolation}, nil
	}
	if strings.EqualFold(tok, "lost") {
		return term{kind: termLost}, nil
	}
	if rest, ok := cutPrefixFold(tok, "len"); ok && rest != "" && strings.ContainsRune("<>=:", rune(rest[0])) {
		return parseLen(tok, rest)
	}
	name, val, ok := strings.Cut(tok, ":")
	name = strings.ToLower(name)
	switch {
	case !ok:
		return term{kind: termBytes, bytes: []byte(tok), word: true}, nil
	case !termNames[name] && isName(name):
		return term{}, fmt.Errorf("filter: no term %s; try %s", quoted(name+":", 8), filterTerms)
	case !termNames[name]:
		return term{kind: termBytes, bytes: []byte(tok)}, nil
	case val == "":
		return term{}, fmt.Errorf("filter: %s needs a value after the colon", quoted(tok))
	}
	switch name {
	case "cmd", "type":
		if c, ok := decoder.ParseCmd(val); ok && name == "cmd" {
			return term{kind: termCmd, cmd: c}, nil
		}
		if t, ok := yamux.ParseType(val); ok {
			return term{kind: termType, typ: t}, nil
		}
		if name == "type" {
			return term{}, fmt.Errorf("filter: unknown type %s; yamux %s", quoted(val, 7), typeWords())
		}
		// 79 columns at the most, the screen's 80 but one: the value is cut to 7.
		return term{}, fmt.Errorf("filter: unknown cmd %s; %s, yamux %s", quoted(val, 7), cmdWords(), typeWords())
	case "proto":
		p, ok := live.ParseProtocol(strings.ToLower(val))
		if !ok || p == live.ProtocolUnknown {
			return term{}, fmt.Errorf("filter: proto %s: use proto:smux or proto:yamux", quoted(val))
		}
		return term{kind: termProto, proto: p}, nil
	case "flags":
		var f yamux.Flags
		for _, n := range strings.Split(val, "|") {
			g, ok := yamux.ParseFlag(n)
			if !ok {
				return term{}, fmt.Errorf("filter: flags %s: yamux has SYN ACK FIN RST, joined by |", quoted(val))
			}
			f |= g
		}
		return term{kind: termFlags, flags: f}, nil
	case "sid":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return term{}, fmt.Errorf("filter: sid %s is not a stream id (0 to 4294967295)", quoted(val))
		}
		return term{kind: termSID, n: n}, nil
	case "session":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return term{}, fmt.Errorf("filter: session %s is not a session number", quoted(val))
		}
		return term{kind: termSession, n: n}, nil
	case "ver":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil {
			return term{}, fmt.Errorf("filter: ver %s is not a version (1 or 2)", quoted(val))
		}
		return term{kind: termVer, n: n}, nil
	case "dir":
		for _, d := range []live.Dir{live.ClientToServer, live.ServerToClient} {
			// The arrow, > or < for it, the code or the sender.
			switch strings.ToLower(val) {
			case d.String(), dirTyped[d], d.Code(), d.Sender().String():
				return term{kind: termDir, dir: d}, nil
			}
		}
		return term{}, fmt.Errorf("filter: dir %s: use dir:> (%s) or dir:<", quoted(val), live.ClientToServer.Words())
	case "u64":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return term{}, fmt.Errorf("filter: u64 %s is not a number from 0 to 2^64-1", quoted(val))
		}
		return term{kind: termU64, n: n,
			bytes: binary.BigEndian.AppendUint64(nil, n), le: binary.LittleEndian.AppendUint64(nil, n)}, nil
	case "hex":
		b, err := hex.DecodeString(val)
		if err != nil || len(b) == 0 {
			return term{}, fmt.Errorf("filter: hex %s: give whole bytes, such as hex:52414e44", quoted(val))
		}
		return term{kind: termBytes, bytes: b}, nil
	}
	return term{}, fmt.Errorf("filter: %s: compare the length, such as len>100 or len=0", quoted(tok))
}

// findingOf is the finding of a finding's record, nil for other records.
func findingOf(r *live.Record) *live.Finding {
	switch r.Kind {
	case live.FindingOpened, live.FindingUpdated, live.FindingResolved:
		return r.Finding
	}
	return nil
}

// dirTyped are the arrows of the directions as a keyboard types them.
var dirTyped = [2]string{">", "<"}

// parseLen parses the comparison after "len": >100, <8, =0, >=1, <=8, :0.
func parseLen(tok, rest string) (term, error) {
	var op byte
	switch {
	case strings.HasPrefix(rest, ">="):
		op, rest = 'g', rest[2:]
	case strings.HasPrefix(rest, "<="):
		op, rest = 'l', rest[2:]
	case strings.HasPrefix(rest, ">"), strings.HasPrefix(rest, "<"), strings.HasPrefix(rest, "="):
		op, rest = rest[0], rest[1:]
	case strings.HasPrefix(rest, ":"):
		op, rest = '=', rest[1:]
	default:
		return term{}, fmt.Errorf("filter: %s: compare the length, such as len>100 or len=0", quoted(tok))
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	if err != nil {
		return term{}, fmt.Errorf("filter: %s: the length must be a number, such as len>100", quoted(tok))
	}
	return term{kind: termLen, op: op, n: n}, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// match reports whether r passes every term. Terms about frames (cmd, sid,
// len, ver, payload) never match session events or notices; a framing
// violation matches violation, session and dir, and a resync record lost,
// session and dir. A finding's records (opened, updated, resolved) match
// session, dir, a bare word that is their code (LEAK, window_stall), and
// sid:N where N is the stream the finding names (never 0) or, in a LEAK's
// records, one of the streams the record lists (StreamIDs; a resolved
// record those its latest opened or updated record listed): sid:7 shows
// stream 7's frames and the findings about it.
func (f *filter) match(r *live.Record) bool {
	for i := range f.terms {
		if !f.terms[i].match(r) {
			return false
		}
	}
	return true
}

func (t *term) match(r *live.Record) bool {
	frame := r.Kind == live.FrameRecord
	if f := findingOf(r); f != nil {
		switch t.kind {
		case termSession:
			return r.Session == t.n
		case termDir:
			return f.HasDir && f.Dir == t.dir
		case termBytes:
			return t.word && strings.EqualFold(string(t.bytes), f.Code.String())
		case termSID:
			// Stream 0 is no stream: sid:0 picks session-level frames, not
			// the findings that name none.
			return f.Stream != 0 && uint64(f.Stream) == t.n || slices.Contains(f.StreamIDs, uint32(t.n))
		}
		return false
	}
	switch t.kind {
	case termSession:
		return r.Session == t.n
	case termDir:
		return (frame || r.Kind == live.FramingViolation || r.Kind == live.ResyncRecord || r.Kind == live.SessionHalfClosed) && r.Dir == t.dir
	case termViolation:
		return r.Kind == live.FramingViolation || (frame && r.Anomaly != 0)
	case termLost:
		// Where the capture joined or lost bytes (resync), and the frames
		// whose payload it lost bytes of (LOST in the list).
		return r.Kind == live.ResyncRecord || (frame && r.Lost > 0)
	}
	if !frame {
		return false
	}
	y := r.Proto == live.Yamux
	switch t.kind {
	case termProto:
		return r.Proto == t.proto
	case termCmd:
		return !y && r.Header.Cmd() == t.cmd
	case termType:
		return y && r.YamuxHeader.Type() == t.typ
	case termFlags:
		return y && r.YamuxHeader.Flags()&t.flags == t.flags
	case termSID:
		if y {
			return uint64(r.YamuxHeader.StreamID()) == t.n
		}
		return uint64(r.Header.StreamID()) == t.n
	case termVer:
		if y {
			return uint64(r.YamuxHeader.Version()) == t.n
		}
		return uint64(r.Header.Version()) == t.n
	case termLen:
		n := uint64(r.Header.Length())
		if y {
			n = uint64(r.YamuxHeader.Length())
		}
		switch t.op {
		case '<':
			return n < t.n
		case '>':
			return n > t.n
		case 'l':
			return n <= t.n
		case 'g':
			return n >= t.n
		}
		return n == t.n
	case termBytes:
		return bytes.Contains(r.Payload, t.bytes)
	case termU64:
		return bytes.Contains(r.Payload, t.bytes) || bytes.Contains(r.Payload, t.le)
	}
	return false
}
