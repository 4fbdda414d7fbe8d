package pcapout_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// versionMismatch returns reg's one session's VERSION_MISMATCH
// violations, as "dir vN to vM", and the text of its VERSION_MISMATCH
// finding once evaluated at at ("" if none).
func versionMismatch(t *testing.T, what string, reg *live.Registry, at time.Time) (violations []string, finding string) {
	t.Helper()
	reg.Evaluate(at, live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%s: %d sessions, want 1", what, len(snap.Sessions))
	}
	for _, f := range snap.Sessions[0].Framing {
		if f.Code == decoder.VersionMismatch {
			violations = append(violations, fmt.Sprintf("%v v%d to v%d", f.Dir, f.Header.Version(), f.Want))
		}
	}
	for _, f := range snap.Findings {
		if f.Code == live.CodeVersionMismatch {
			finding = f.Text
		}
	}
	return violations, finding
}

// TestToldVersionReadAsTapped: a real smux v1 client against a real smux
// v2 server whose tap was told its end speaks v2 (tap.Version(2)) and
// records into a Writer (a --write file) or a Live (a viewer's stream).
// The v2 server refuses the client's v1 frames and sends nothing, so
// the bytes show one version only: the tap, told its end's, names the
// mismatch at the client's first frame; read of its capture names it as
// the tap does, the capture carrying what the tap was told (the comment
// of its connection's interface), a Live viewer that joined the
// connection open too. Before, read saw a healthy v1 session with no
// violation and no finding.
func TestToldVersionReadAsTapped(t *testing.T) {
	for _, via := range []string{"writer", "live", "joined"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
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
			cc, sc := smuxtest.Conns(t)
			srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, "test", tap.Version(2), tap.Record(rec)), smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			cli, err := smux.Client(cc, smuxtest.Config(1))
			if err != nil {
				t.Fatal(err)
			}
			if via == "joined" {
				// A viewer that comes to the connection open, before
				// the client's first frame: joined mid-way, and told too.
				view()
			}
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.Write([]byte("hello"))
			smuxtest.Eventually(t, "the tap's VERSION_MISMATCH", func() bool {
				return len(reg.Snapshot().Sessions[0].Framing) > 0
			})
			cli.Close()
			srv.Close()
			smuxtest.Eventually(t, "the tap's session to end", func() bool { return reg.Snapshot().Sessions[0].Ended })

			var read *live.Registry
			var at time.Time
			if via == "writer" {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				var clock interface{ Now() time.Time }
				read, clock = readCapture(t, file.Bytes())
				at = clock.Now()
			} else {
				lc.Close()
				viewer.Wait(t)
				read, at = viewer.Reg, time.Now()
			}
			tv, tf := versionMismatch(t, "the tap", reg, time.Now())
			rv, rf := versionMismatch(t, "read", read, at)
			if len(tv) != 1 || tf == "" {
				t.Fatalf("the tap: violations %q, finding %q; want one VERSION_MISMATCH of each", tv, tf)
			}
			if len(rv) != len(tv) || rv[0] != tv[0] {
				t.Errorf("read's VERSION_MISMATCH violations %q, the tap's %q", rv, tv)
			}
			if rf != tf {
				t.Errorf("read's VERSION_MISMATCH finding %q, the tap's %q", rf, tf)
			}
		})
	}
}
