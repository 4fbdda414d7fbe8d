package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestHalfClosedLeakFirst: within a severity a LEAK with a direction (a
// half-closed stream, a certain leak) is listed before one without (open
// and idle, which may be a pool), however much older the pool is; the
// other findings keep their places. The older pool was listed first
// before.
func TestHalfClosedLeakFirst(t *testing.T) {
	f := func(id uint64, code live.FindingCode, sev live.Severity, hasDir bool, ago time.Duration) *live.Finding {
		return &live.Finding{ID: id, Code: code, Severity: sev, Session: id, HasDir: hasDir, Dir: live.ServerToClient,
			Since: base.Add(-ago), Opened: base.Add(-ago)}
	}
	// The snapshot's order: most severe first, then oldest.
	snap := &live.Snapshot{At: base, Started: base.Add(-time.Hour), Findings: []*live.Finding{
		f(1, live.CodeSessionBlocked, live.Critical, false, time.Hour),
		f(2, live.CodeLeak, live.Warning, false, time.Hour), // the pool, idle since the start
		f(3, live.CodeWindowStall, live.Warning, true, 50*time.Minute),
		f(4, live.CodeLeak, live.Warning, false, 40*time.Minute), // another pool
		f(5, live.CodeLeak, live.Warning, true, 10*time.Minute),  // half-closed, later
		f(6, live.CodeLeak, live.Warning, true, 5*time.Minute),   // half-closed, later still
	}}
	keys := newKeyMap()
	p := feed(newFindingsPane(&keys), snapshotMsg{snap: snap})
	var got []uint64
	for _, f := range p.list {
		got = append(got, f.ID)
	}
	want := []uint64{1, 5, 3, 6, 2, 4}
	if len(got) != len(want) {
		t.Fatalf("the pane lists %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("the pane lists %v, want %v: the half-closed LEAKs first, in the LEAKs' places", got, want)
		}
	}
}

// TestFindingWhenWorded: the finding's detail, in the findings pane and
// in a finding record's detail, says "finding opened", not a bare
// "opened" that after "stream 9" reads as the stream opening after its
// own "since". Before: "the findings pane's detail does not say \"since
// 12:00:43 · finding opened 12:00:53\"", and the record's detail gave no
// since at all.
func TestFindingWhenWorded(t *testing.T) {
	f := &live.Finding{ID: 1, Code: live.CodeLeak, Severity: live.Warning, Session: 4, Stream: 9, HasDir: true, Dir: live.ServerToClient,
		Since: base.Add(-20 * time.Second), Opened: base.Add(-10 * time.Second), Text: "the server never closes its streams"}
	snap := &live.Snapshot{At: base, Started: base.Add(-time.Hour), Findings: []*live.Finding{f}}
	keys := newKeyMap()
	p := feed(newFindingsPane(&keys), snapshotMsg{snap: snap})
	th := &theme{styles: newStyles(true), loc: time.UTC}
	var pane string
	for _, l := range p.explain(th, 200) {
		pane += l.s + "\n"
	}
	since, opened := base.Add(-20*time.Second).UTC().Format(time.TimeOnly), base.Add(-10*time.Second).UTC().Format(time.TimeOnly)
	if !strings.Contains(pane, "stream 9 · ← server to client · since "+since+" · finding opened "+opened) {
		t.Errorf("the findings pane's detail does not say \"since %s · finding opened %s\":\n%s", since, opened, pane)
	}
	rec := &live.Record{Kind: live.FindingOpened, Session: 4, At: base.Add(-10 * time.Second), Finding: f}
	detail := ansi.Strip(strings.Join(detailInfo(th, rec, 200), "\n"))
	if !strings.Contains(detail, "session 4 · stream 9 · since "+since+" · finding opened "+opened) {
		t.Errorf("the record's detail does not say \"stream 9 · since %s · finding opened %s\":\n%s", since, opened, detail)
	}
}

// TestEvictedStreamDetailSaysSo: after enter on a LEAK whose stream's
// frames history evicted, the frames pane shows no frame but the first
// bytes; the frame detail says there is no frame of it left, not to
// select one. Before: "the frame detail says \"select a frame: enter on a
// stream, then on a frame\"".
func TestEvictedStreamDetailSaysSo(t *testing.T) {
	reg, _, _ := leakyModel(t, smuxtest.MuxOf(false), smuxtest.BadRequest)
	for _, size := range []struct{ w, h int }{{160, 45}, {100, 40}} { // 80×24 has no detail pane
		m := press(realModel(t, reg, size.w, size.h), "!", "enter")
		checkFits(t, m, size.w, size.h)
		detail := strings.Join(paneBox(screenOf(m), "Frame detail"), "\n")
		if strings.Contains(detail, "select a frame") || !strings.Contains(detail, "no frames of this stream left in history") {
			t.Errorf("%d×%d: the frame detail says %q, want that no frame of the stream is left", size.w, size.h, detail)
		}
	}
}

// TestFirstMatchFlashAgrees: /LEAK from a LEAK's stream, where no frame
// is a finding record, goes to the session's LEAK record; the status line
// says the stream had none and where the first match is, not "(none in
// the frames shown)" beside a frames pane that shows the match, and the
// detail shows the record under the frames pane's cursor, one the filter
// selects. Before: "first match: session 1 (none in the frames shown)"
// under a title that counts 1 match.
func TestFirstMatchFlashAgrees(t *testing.T) {
	m := findingsFixture().model(t, 160, 45)
	m = press(m, "!", "enter")
	if m.frames.scope != (scope{session: 1, sid: 3, stream: true}) {
		t.Fatalf("enter on the LEAK shows %+v, want stream 3 of session 1", m.frames.scope)
	}
	m = press(m, "/")
	m = typeText(m, "LEAK")
	m = press(m, "enter")
	screen := screenOf(m)
	if !strings.Contains(screen, "newest match: session 1 (none in stream 3)") || strings.Contains(screen, "none in the frames shown") {
		t.Errorf("the status line does not say that stream 3 had no match:\n%s", screen)
	}
	if !strings.Contains(screen, "Frames of session 1 · filter LEAK · 1 match") {
		t.Errorf("the frames pane does not show session 1's match:\n%s", screen)
	}
	r := selectedFrame(m)
	if r == nil || m.detail.rec == nil || m.detail.rec.Seq != r.Seq || !m.filter.match(m.detail.rec) {
		t.Errorf("the detail shows %+v, not the frames pane's selected match %+v", m.detail.rec, r)
	}
}

// TestLeakHintFilterStaysInSession: the LEAK record's detail names the
// filter that shows its stream: with the session as well as the sid, as
// sid: alone matches that stream id in every session. The filter parses,
// selects the LEAK's record, and N walks only that session's stream; the
// fixture's session 2 has a stream 3 too. Before: the hint was
// "/sid:3 shows a stream's frames and the findings that name it", and N
// from the LEAK went to stream 3 of session 2.
func TestLeakHintFilterStaysInSession(t *testing.T) {
	c := findingsFixture()
	recs, _ := c.reg.Frames(live.Query{Match: func(r *live.Record) bool {
		return r.Kind == live.FindingOpened && r.Finding.Code == live.CodeLeak
	}}, nil)
	if len(recs) == 0 {
		t.Fatal("the fixture's history has no LEAK opened")
	}
	th := &theme{styles: newStyles(true), loc: time.UTC}
	var hint string
	for _, l := range detailInfo(th, &recs[0], 158) {
		if l = strings.TrimSpace(ansi.Strip(l)); strings.HasPrefix(l, "/") {
			hint, _, _ = strings.Cut(strings.TrimPrefix(l, "/"), " shows")
		}
	}
	if hint != "session:1 sid:3" {
		t.Fatalf("the LEAK's detail hints the filter %q, want \"session:1 sid:3\"", hint)
	}
	f, err := parseFilter(hint)
	if err != nil || !f.match(&recs[0]) {
		t.Fatalf("the hinted filter %q does not parse (%v) or does not select the LEAK's record", hint, err)
	}
	m := c.model(t, 160, 45)
	m = press(m, "/")
	m = typeText(m, hint)
	m = press(m, "enter") // at the LEAK's record, the newest match
	for i := range 12 {
		r := selectedFrame(m)
		if r == nil || r.Session != 1 {
			t.Fatalf("after %d N the selection is %+v, want a record of session 1", i, r)
		}
		m = press(m, "N")
	}
}

// TestFindingsSessionColumnNamed: the findings pane titles its session
// column "sess", at 160 and at 80 columns, not "#", which elsewhere is a
// finding's id (the plain summary's "#1 LEAK warning, session 2"). Before:
// the heading read "sev  code         # sid dir".
func TestFindingsSessionColumnNamed(t *testing.T) {
	for _, w := range []int{160, 80} {
		m := press(findingsFixture().model(t, w, 24), "!")
		checkFits(t, m, w, 24)
		box := paneBox(screenOf(m), "Findings")
		if len(box) < 2 || !strings.Contains(box[1], " sess ") || strings.Contains(box[1], " # ") {
			t.Errorf("%d×24: the findings heading does not title the session column sess:\n%s", w, strings.Join(box, "\n"))
		}
	}
}

// TestFirstBytesNoneSent: a direction that carried no payload reads
// "(none sent)", in the findings pane's line and the LEAK record's
// detail alike, not "-". Before: "first bytes of stream 1: - → -".
func TestFirstBytesNoneSent(t *testing.T) {
	var none [2]live.FirstBytes
	if got, want := firstLine(1, &none), "stream 1: (none sent) → (none sent)"; got != want {
		t.Errorf("firstLine of a stream with no payload = %q, want %q", got, want)
	}
	f := &live.Finding{ID: 1, Code: live.CodeLeak, Severity: live.Warning, Session: 4, Stream: 1,
		Since: base.Add(-time.Minute), Opened: base, Heads: [][2]live.FirstBytes{none}}
	snap := &live.Snapshot{At: base, Started: base.Add(-time.Hour), Findings: []*live.Finding{f}}
	keys := newKeyMap()
	p := feed(newFindingsPane(&keys), snapshotMsg{snap: snap})
	var pane string
	for _, l := range p.explain(nil, 200) {
		pane += l.s + "\n"
	}
	if !strings.Contains(pane, "first bytes of stream 1: (none sent) → (none sent)") {
		t.Errorf("the findings pane says:\n%s", pane)
	}
}
