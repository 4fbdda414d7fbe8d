package tui

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// syncBuffer is a bytes.Buffer safe for the program's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgram runs the model in a real tea.Program (no terminal): it
// starts its tick, answers keys and quits on q.
func TestProgram(t *testing.T) {
	c := fixture()
	var out syncBuffer
	p := tea.NewProgram(New(c.reg, Options{NoColor: true}),
		tea.WithInput(nil), tea.WithOutput(&out), tea.WithWindowSize(100, 30), tea.WithoutSignals())
	go func() { // ends when the program has taken both keys
		// Quit only once the first screen is out: a q that arrives before
		// the renderer's first frame leaves nothing drawn.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "Sessions") && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		p.Send(keyMsg("j"))
		p.Send(keyMsg("q"))
	}()
	final, err := p.Run()
	if err != nil {
		t.Fatal(err)
	}
	m := final.(Model)
	if m.sessions.id != 2 {
		t.Fatalf("j moved to session %d, want 2", m.sessions.id)
	}
	if !strings.Contains(out.String(), "Sessions") {
		t.Fatalf("nothing drawn: %q", out.String())
	}
}

// TestRunStopsWithContext checks that a cancelled context ends Run without
// an error, the registry's state intact for the caller's summary.
func TestRunStopsWithContext(t *testing.T) {
	c := fixture()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan struct{})
	var err error
	go func() { // owned by the test: it waits on done
		defer close(done)
		err = run(ctx, c.reg, Options{}, tea.WithInput(nil), tea.WithOutput(&out), tea.WithWindowSize(80, 24), tea.WithoutSignals())
	}()
	s := c.reg.Session(1)
	c.frame(s, live.ClientToServer, base, 1, decoder.NOP, 0, "", 0)
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the context was cancelled")
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if snap := c.reg.Snapshot(); snap.Totals.Cmd(decoder.NOP) != 2 {
		t.Fatalf("after Run, the registry holds %d NOPs, want 2", snap.Totals.Cmd(decoder.NOP))
	}
}

// TestConcurrentCapture ticks and draws while feeders record frames, for
// the race detector.
func TestConcurrentCapture(t *testing.T) {
	c := newCapture(live.Config{History: 512})
	m := c.model(t, 120, 40)
	m = press(m, "tab", "tab", "f")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		s := c.reg.Open(live.SessionInfo{Client: "c", Server: "s"}, base)
		wg.Add(1)
		go func() { // owned by the test: wg
			defer wg.Done()
			f := decoder.Frame{}
			for i := uint32(0); i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sid := 2*i + 3 + uint32(g)
				frames := []struct {
					dir     live.Dir
					cmd     decoder.Cmd
					payload string
				}{
					{live.ClientToServer, decoder.SYN, ""},
					{live.ClientToServer, decoder.PSH, "RAND"},
					{live.ServerToClient, decoder.FIN, ""},
					{live.ClientToServer, decoder.FIN, ""},
				}
				for _, fr := range frames {
					f.Header = decoder.MakeHeader(1, fr.cmd, uint16(len(fr.payload)), sid)
					f.Payload = []byte(fr.payload)
					s.Record(fr.dir, time.Now(), &f)
				}
			}
		}()
	}
	for range 20 {
		m = send(m, tickMsg(time.Now()))
		_ = m.View()
		m = press(m, "j")
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	m = send(m, tickMsg(time.Now()))
	checkFits(t, m, 120, 40)
}
