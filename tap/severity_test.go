package tap

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// protocolAnswered taps a real net/http client into a new registry; it
// asks a real net/http server that answers only after an evaluation at
// now has seen the request, and returns once the client has read the
// answer "hello": the registry, the client's transport, now and the
// findings config evaluated with.
func protocolAnswered(t *testing.T) (*live.Registry, *http.Transport, time.Time, live.FindingsConfig) {
	t.Helper()
	arrived, answer := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-answer
		io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	reg := live.New(live.Config{})
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c, live.Client, reg, "test"), nil
	}}
	client := &http.Client{Transport: tr}
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	cfg := live.FindingsConfig{Churn: -1}
	<-arrived // the request went through the tap
	now := time.Now()
	reg.Evaluate(now, cfg)
	close(answer)
	if body := <-got; body != "hello" {
		t.Fatalf("the client got %q: the two ends do not work", body)
	}
	return reg, tr, now, cfg
}

// endSession closes tr's idle connection, whose tapped Close ends its
// session, and waits until reg's one session has ended.
func endSession(t *testing.T, reg *live.Registry, tr *http.Transport) {
	t.Helper()
	tr.CloseIdleConnections() // the tapped conn's Close ends its session
	smuxtest.Eventually(t, "the session to end", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && !snap.Sessions[0].End.IsZero()
	})
}

// protocolRecords returns reg's finding records, in order, and fails t
// for any that is not the client's PROTOCOL.
func protocolRecords(t *testing.T, reg *live.Registry) []live.Record {
	t.Helper()
	var recs []live.Record
	for next := uint64(0); ; {
		rs, n := reg.Frames(live.Query{From: next}, nil)
		for _, r := range rs {
			if r.Finding != nil {
				if r.Finding.Code != live.CodeProtocol || r.Finding.Dir != live.ClientToServer {
					t.Errorf("a %v finding in %v, want only the client's PROTOCOL", r.Finding.Code, r.Finding.Dir)
				}
				recs = append(recs, r)
			}
		}
		if n == next {
			return recs
		}
		next = n
	}
}

// TestProtocolSeverityChangeTold: a real net/http client, tapped, talks
// to a real net/http server that answers only after an evaluation has
// seen the request. The PROTOCOL finding opens critical (only the client
// has spoken: it may be talking HTTP to a mux port), and becomes a
// warning as the server answers in HTTP (both ends fine: no mux here).
// The change is told at once, in a finding-updated record whose finding
// is the warning, though the finding's count never changes and less than
// UpdateEvery has passed; once, not again; and the resolution says
// warning. Before, the records went opened(critical) → resolved(warning),
// the change never told.
func TestProtocolSeverityChangeTold(t *testing.T) {
	reg, tr, now, cfg := protocolAnswered(t)
	reg.Evaluate(now.Add(100*time.Millisecond), cfg)
	reg.Evaluate(now.Add(200*time.Millisecond), cfg)
	endSession(t, reg, tr)
	reg.Evaluate(now.Add(300*time.Millisecond), cfg)

	type told struct {
		Kind          live.Kind
		Severity, Was live.Severity
	}
	var recs []told
	for _, r := range protocolRecords(t, reg) {
		recs = append(recs, told{r.Kind, r.Finding.Severity, r.Was})
	}
	want := []told{{live.FindingOpened, live.Critical, 0}, {live.FindingUpdated, live.Warning, live.Critical}, {live.FindingResolved, live.Warning, 0}}
	if len(recs) != len(want) {
		t.Fatalf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
			break
		}
	}
}

// TestProtocolSeverityChangeToldAtEnd: as TestProtocolSeverityChangeTold,
// but the connection closes right after the server's answer, before any
// evaluation has seen it (an HTTP/1.0 or Connection: close client whose
// server took longer than an evaluation's interval to answer). The
// finding still takes its final evidence before it resolves: the change
// to warning is told, re-worded, and the resolution says warning. Before,
// the records went opened(critical) → resolved(critical): the finding
// resolved with the evidence of the last evaluation before the end, and
// a critical PROTOCOL resolution paged for two ends that were fine.
func TestProtocolSeverityChangeToldAtEnd(t *testing.T) {
	reg, tr, now, cfg := protocolAnswered(t)
	endSession(t, reg, tr)
	reg.Evaluate(now.Add(100*time.Millisecond), cfg)
	reg.Evaluate(now.Add(200*time.Millisecond), cfg)

	type told struct {
		Kind          live.Kind
		Severity, Was live.Severity
	}
	var recs []told
	var texts []string
	for _, r := range protocolRecords(t, reg) {
		recs = append(recs, told{r.Kind, r.Finding.Severity, r.Was})
		texts = append(texts, r.Finding.Text+" "+r.Finding.Advice)
	}
	want := []told{{live.FindingOpened, live.Critical, 0}, {live.FindingUpdated, live.Warning, live.Critical}, {live.FindingResolved, live.Warning, 0}}
	if len(recs) != len(want) {
		t.Fatalf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Fatalf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
		}
	}
	if texts[1] == texts[0] || texts[2] != texts[1] {
		t.Errorf("texts %q: want the update re-worded, and the resolution worded as the update", texts)
	}
	if s := reg.Snapshot(); s.FindingsResolvedBy[live.CodeProtocol][live.Critical] != 0 || s.FindingsResolvedBy[live.CodeProtocol][live.Warning] != 1 {
		t.Errorf("resolved by severity %v, want one warning and no critical", s.FindingsResolvedBy[live.CodeProtocol])
	}
}

// TestProtocolSeverityChangeToldAtStop: as TestProtocolSeverityChangeToldAtEnd,
// but muxtop stops (attach's Ctrl-C, a test that stops it once the
// session's end is printed) before any evaluation has seen the session
// end: the live run ends with Registry.ResolveEnded, which must give the
// finding its final evidence too. Before, ResolveEnded resolved it with
// the last evaluation's, critical, no update told: the flake of
// TestAttachHTTPBothEndsSlowAnswer under load ('the finding resolved
// {…"severity":"critical"…"detail":"the session ended (EOF)"}, want a
// warning'), and a critical resolution MuxtopProtocolViolation pages on.
func TestProtocolSeverityChangeToldAtStop(t *testing.T) {
	reg, tr, now, _ := protocolAnswered(t)
	endSession(t, reg, tr)
	stop := time.Now().Add(time.Millisecond) // the session ended before muxtop's stop began
	reg.ResolveEnded(stop.Add(time.Millisecond), stop)

	type told struct {
		Kind          live.Kind
		Severity, Was live.Severity
	}
	var recs []told
	var texts []string
	var why string
	for _, r := range protocolRecords(t, reg) {
		recs = append(recs, told{r.Kind, r.Finding.Severity, r.Was})
		texts = append(texts, r.Finding.Text+" "+r.Finding.Advice)
		why = r.Detail
	}
	want := []told{{live.FindingOpened, live.Critical, 0}, {live.FindingUpdated, live.Warning, live.Critical}, {live.FindingResolved, live.Warning, 0}}
	if len(recs) != len(want) {
		t.Fatalf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Fatalf("finding records %v, want %v: opened critical, updated to warning, resolved", recs, want)
		}
	}
	if texts[1] == texts[0] || texts[2] != texts[1] {
		t.Errorf("texts %q: want the update re-worded, and the resolution worded as the update", texts)
	}
	if want := "the session ended (" + live.LocalClose.String() + ")"; why != want {
		t.Errorf("resolved %q, want %q: the session ended on its own, before the stop", why, want)
	}
	if s := reg.Snapshot(); s.FindingsResolvedBy[live.CodeProtocol][live.Critical] != 0 || s.FindingsResolvedBy[live.CodeProtocol][live.Warning] != 1 ||
		len(s.Unwatched) != 0 {
		t.Errorf("resolved by severity %v, unwatched %d, want one warning, no critical, none unwatched", s.FindingsResolvedBy[live.CodeProtocol], len(s.Unwatched))
	}
	// An evaluation after the stop neither tells nor resolves it again.
	reg.Evaluate(now.Add(time.Second), live.FindingsConfig{Churn: -1})
	if n := len(protocolRecords(t, reg)); n != len(want) {
		t.Errorf("%d finding records after a later evaluation, want %d", n, len(want))
	}
}
