package capture_test

import (
	"io"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestStallResolvedSaysHeldTime: a real hashicorp/yamux client writes
// 1 MiB on a stream whose server-side reader sleeps 1.8 s before it reads
// it all, as a reader frozen by SIGSTOP does; the capture is read with
// --stall-after 0.5 s. WINDOW_STALL opens, and resolves once the reader
// reads: its resolution says how long the writer was held, and the
// resolved finding, which the summary prints, says it was held that long.
// Before, the finding kept its latest wording's age, in steps (1 s below
// 10 s: "for 1.0 s"; gp9's 15 s freeze said "for 10 s"), and the
// resolution said the reader read "within 0.5 s of the writer's hold",
// of a writer held far longer.
func TestStallResolvedSaysHeldTime(t *testing.T) {
	const pause = 1800 * time.Millisecond
	path := writeCapture(t, func(w *pcapout.Writer) {
		cfg := hyamux.DefaultConfig()
		cfg.EnableKeepAlive = false
		_, cli, srv := tappedYamux(t, w, cfg)
		defer srv.Close()
		defer cli.Close()
		read := make(chan error, 1)
		go func() {
			st, err := srv.AcceptStream()
			if err != nil {
				read <- err
				return
			}
			time.Sleep(pause) // frozen
			_, err = io.Copy(io.Discard, st)
			read <- err
		}()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // evaluations see the session after the stall, before its end
	})
	fs := findingsOf(t, readPackets(t, path), capture.Filter{}, live.FindingsConfig{StallAfter: 500 * time.Millisecond, Churn: -1})
	var resolved *live.Record
	for i, r := range fs {
		if r.Kind == live.FindingResolved && r.Finding.Code == live.CodeWindowStall {
			resolved = &fs[i]
			break
		}
	}
	if resolved == nil {
		t.Fatalf("no WINDOW_STALL resolved among %d finding records", len(fs))
	}
	f := resolved.Finding
	held := f.Evidence.Age
	if held < pause-300*time.Millisecond || held > pause+500*time.Millisecond {
		t.Errorf("resolved WINDOW_STALL held for %v, want about the reader's %v pause: %s", held, pause, f.Text)
	}
	if want := "for " + live.FormatAge(held); !strings.Contains(f.Text, want) {
		t.Errorf("resolved WINDOW_STALL: %q, want it to say %q", f.Text, want)
	}
	if want := "the writer had been held " + live.FormatAge(held); !strings.Contains(resolved.Detail, want) {
		t.Errorf("resolution %q, want it to say %q", resolved.Detail, want)
	}
}
