package pcapout_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// readCapture reads the pcapng capture b through capture, as muxtop read
// does, into a registry in the capture's time, which it returns with the
// capture's clock.
func readCapture(t *testing.T, b []byte) (*live.Registry, *capture.Clock) {
	t.Helper()
	file, err := capture.Open(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	clock := new(capture.Clock)
	clock.Set(file.Start())
	reg := live.New(live.Config{Clock: clock.Now})
	if err := capture.NewReader(capture.Config{Registry: reg, Clock: clock}).Run(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	return reg, clock
}

// halfClosed returns the words of reg's session-half-closed records, the
// session's addresses replaced by CLIENT and SERVER: a capture of a conn
// with no IP address (a unix socket, a pipe) has made-up ones.
func halfClosed(reg *live.Registry, info live.SessionInfo) []string {
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var words []string
	for _, r := range recs {
		if r.Kind == live.SessionHalfClosed {
			words = append(words, anonymous(r.Detail, info))
		}
	}
	return words
}

// anonymous is s without the addresses of info's ends: read of a unix or
// pipe conn's capture names its ends by role, where the tap names a unix
// server by its path.
func anonymous(s string, info live.SessionInfo) string {
	var pairs []string
	if info.Client != "" {
		pairs = append(pairs, "client "+info.Client, "client")
	}
	if info.Server != "" {
		pairs = append(pairs, "server "+info.Server, "server")
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// onlySession returns reg's one session, failing t if it has another
// number of them.
func onlySession(t *testing.T, what string, reg *live.Registry) *live.SessionSnap {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%s: %d sessions, want 1", what, len(snap.Sessions))
	}
	return snap.Sessions[0]
}

// closeWait returns the transport's words of reg's CLOSE_WAIT finding
// once evaluated at at: its text from the session it holds on (what
// comes before counts times, which a capture stamps as the tap's clock
// read them, not as its registry's), and its advice.
func closeWait(t *testing.T, what string, reg *live.Registry, at time.Time, info live.SessionInfo) (text, advice string) {
	t.Helper()
	reg.Evaluate(at, live.FindingsConfig{CloseWaitAfter: time.Minute, Churn: -1})
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeCloseWait {
			_, text, _ = strings.Cut(f.Text, "it still holds session ")
			return anonymous(text, info), anonymous(f.Advice, info)
		}
	}
	t.Fatalf("%s: no CLOSE_WAIT finding an hour after the half-close", what)
	return "", ""
}

// TestTransportReadAsTapped: real smux and yamux sessions over TLS, a
// unix socket, a net.Pipe, a KCP-like message conn and loopback TCP, their
// client tapped into a Writer (a --write file) or a Live (a viewer's
// stream, from the connection's start or joined mid-way), whose server
// closes its side of the conn (CloseWrite where the conn has one, else
// Close; KCP carries no close): read back through capture, as muxtop read
// reads it, the session runs over the tap's transport, and the words of
// its half-close are the tap's own registry's — its TLS connection, a
// pipe's close, no FIN — not TCP's. Where the client's smux session stays
// held after it (a --write file closed meanwhile), CLOSE_WAIT's words are
// the tap's too: no TCP CLOSE-WAIT but where the conn is TCP's.
func TestTransportReadAsTapped(t *testing.T) {
	muxes := livecaptest.Muxes()
	tcp := smuxtest.Transport{Name: "tcp", Conns: smuxtest.Conns}
	for _, tr := range append(smuxtest.Transports(), tcp) {
		for _, m := range []livecaptest.Mux{muxes[1], muxes[2]} {
			for _, via := range []string{"writer", "live", "joined"} {
				t.Run(tr.Name+"/"+m.Name+"/"+via, func(t *testing.T) {
					t.Parallel()
					transportReadAsTapped(t, tr, m, via)
				})
			}
		}
	}
}

func transportReadAsTapped(t *testing.T, tr smuxtest.Transport, m livecaptest.Mux, via string) {
	reg := live.New(live.Config{})
	var (
		rec    tap.Recorder
		w      *pcapout.Writer
		file   bytes.Buffer
		lc     *pcapout.Live
		viewer *livecaptest.Viewer
	)
	if via == "writer" {
		var err error
		if w, err = pcapout.New(&file, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		rec = w
	} else {
		lc = pcapout.NewLive()
		rec = lc
	}
	view := func() {
		srv := httptest.NewServer(lc)
		t.Cleanup(func() { lc.Close(); srv.Close() })
		viewer = livecaptest.View(t, srv.URL)
		smuxtest.Eventually(t, "the viewer", func() bool { return lc.Viewers() == 1 })
	}
	if via == "live" {
		view()
	}

	cc, sc := tr.Conns(t)
	srv, err := m.M.Server(sc) // returns at once: no handshake
	if err != nil {
		t.Fatal(err)
	}
	cli, err := m.M.Client(tap.Wrap(cc, live.Client, reg, m.Name, tap.Record(rec)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() { // ends with the server's session
		for {
			s, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()
	livecaptest.Streams(t, cli, 2, "transport")
	if via == "joined" {
		// A viewer that comes to the connection open: joined mid-way,
		// under its transport's interface too.
		view()
		livecaptest.Streams(t, cli, 2, "joined")
	}

	// The server closes its side of the conn; KCP carries no close.
	if cw, ok := sc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		sc.Close()
	}
	halfCloses := tr.Name != "message"
	if halfCloses {
		// The half-close's record, not the direction's end: the tap's
		// Read ends the direction before it records the half-close, and a
		// close in between (cli.Close below) would drop the record.
		smuxtest.Eventually(t, "the tap's half-close", func() bool {
			return len(halfClosed(reg, onlySession(t, "the tap", reg).Info)) > 0
		})
	}
	tapped := onlySession(t, "the tap", reg)
	held := via == "writer" && halfCloses && !m.M.Yamux() // smux keeps its session: CLOSE-WAIT
	if !held {
		cli.Close()
		smuxtest.Eventually(t, "the tap's session to end", func() bool { return onlySession(t, "the tap", reg).Ended })
	}

	var read *live.Registry
	var clock *capture.Clock
	if via == "writer" {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		read, clock = readCapture(t, file.Bytes())
	} else {
		lc.Close()
		viewer.Wait(t)
		read = viewer.Reg
	}
	got := onlySession(t, "read", read)
	if got.Info.Transport != tapped.Info.Transport {
		t.Errorf("read's session runs over %q, the tap's over %q", got.Info.Transport, tapped.Info.Transport)
	}
	// Over KCP the tap's own Close is the only end, written as a FIN
	// each way at once, which read takes for a half-close and an end
	// (as it does over TCP): no half-close of the peer's to compare.
	if halfCloses {
		tw, rw := halfClosed(reg, tapped.Info), halfClosed(read, got.Info)
		if len(tw) != 1 {
			t.Fatalf("the tap's half-closes: %q, want one", tw)
		}
		if !slices.Equal(rw, tw) {
			t.Errorf("read's half-close says\n\t%q\nthe tap's\n\t%q", rw, tw)
		}
	}
	if held {
		tt, ta := closeWait(t, "the tap", reg, time.Now().Add(time.Hour), tapped.Info)
		rt, ra := closeWait(t, "read", read, clock.Now().Add(time.Hour), got.Info)
		if rt != tt || ra != ta {
			t.Errorf("read's CLOSE_WAIT says\n\t…%s\n\t%s\nthe tap's\n\t…%s\n\t%s", rt, ra, tt, ta)
		}
	}
}
