package tui

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/printable"
)

// filterHelp lists the filter terms; parse errors end with it.
const filterHelp = `cmd:psh sid:4413 session:2 dir:< len>100 ver:2 violation "text" hex:52414e44`

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
	termBytes                     // "text" or hex:…, in the captured payload
)

// term is one condition of a filter.
type term struct {
	kind  termKind
	cmd   decoder.Cmd
	dir   live.Dir
	op    byte // '<', '>', '=', 'l' (<=), 'g' (>=) for termLen
	n     uint64
	bytes []byte
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
	if rest, ok := cutPrefixFold(tok, "len"); ok {
		return parseLen(tok, rest)
	}
	name, val, ok := strings.Cut(tok, ":")
	switch strings.ToLower(name) {
	case "cmd", "sid", "session", "ver", "dir", "hex":
	default:
		ok = false
	}
	if !ok {
		return term{}, fmt.Errorf("filter: unknown term %q; try %s", tok, filterHelp)
	}
	if val == "" {
		return term{}, fmt.Errorf("filter: %q needs a value after the colon; try %s", tok, filterHelp)
	}
	switch strings.ToLower(name) {
	case "cmd":
		c, ok := decoder.ParseCmd(val)
		if !ok {
			return term{}, fmt.Errorf("filter: unknown cmd %q; smux has SYN FIN PSH NOP UPD", val)
		}
		return term{kind: termCmd, cmd: c}, nil
	case "sid":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return term{}, fmt.Errorf("filter: sid %q is not a stream id (0 to 4294967295)", val)
		}
		return term{kind: termSID, n: n}, nil
	case "session":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return term{}, fmt.Errorf("filter: session %q is not a session number", val)
		}
		return term{kind: termSession, n: n}, nil
	case "ver":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil {
			return term{}, fmt.Errorf("filter: ver %q is not a version (1 or 2)", val)
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
		return term{}, fmt.Errorf("filter: dir %q: use dir:> (%s) or dir:< (%s)", val, live.ClientToServer.Words(), live.ServerToClient.Words())
	case "hex":
		b, err := hex.DecodeString(val)
		if err != nil || len(b) == 0 {
			return term{}, fmt.Errorf("filter: hex %q: give whole bytes, such as hex:52414e44", val)
		}
		return term{kind: termBytes, bytes: b}, nil
	}
	return term{}, fmt.Errorf("filter: unknown term %q; try %s", tok, filterHelp)
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
		return term{}, fmt.Errorf("filter: %q: compare the length, such as len>100, len<8 or len=0", tok)
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	if err != nil {
		return term{}, fmt.Errorf("filter: %q: the length must be a number, such as len>100", tok)
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
// violation matches violation, session and dir.
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
	switch t.kind {
	case termSession:
		return r.Session == t.n
	case termDir:
		return (frame || r.Kind == live.FramingViolation) && r.Dir == t.dir
	case termViolation:
		return r.Kind == live.FramingViolation || (frame && r.Anomaly != 0)
	}
	if !frame {
		return false
	}
	switch t.kind {
	case termCmd:
		return r.Header.Cmd() == t.cmd
	case termSID:
		return uint64(r.Header.StreamID()) == t.n
	case termVer:
		return uint64(r.Header.Version()) == t.n
	case termLen:
		n := uint64(r.Header.Length())
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
	}
	return false
}
