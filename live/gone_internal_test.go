package live

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
)

// TestForgottenReleasedUnread: sessions forgotten while nothing reads the
// registry (no snapshot, no evaluation: a program that taps its conns and
// reads rarely) are not held beyond maxGone, whatever the sessions
// tracked. Forgotten ones stayed in the list, marked gone, with their
// closed streams, until half the list was: with 2 000 live sessions,
// 3 000 ended ones left 2 000 forgotten held (16 MB in a review's test).
func TestForgottenReleasedUnread(t *testing.T) {
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	reg := New(Config{StreamBudget: 20000})
	for range 2000 {
		reg.Open(SessionInfo{}, at)
	}
	for range 3000 {
		s := reg.Open(SessionInfo{}, at)
		for k := uint32(1); k < 20; k += 2 {
			s.Record(ClientToServer, at, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.SYN, 0, k)})
			s.Record(ClientToServer, at, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.FIN, 0, k)})
			s.Record(ServerToClient, at, &decoder.Frame{Header: decoder.MakeHeader(1, decoder.FIN, 0, k)})
		}
		s.End(at, Shutdown, nil)
	}
	reg.mu.Lock()
	gone, held := reg.gone, 0
	for _, s := range reg.sessions {
		if s.gone {
			held++
		}
	}
	forgotten := reg.forgotten.Sessions
	reg.mu.Unlock()
	if forgotten != 3000-DefaultEndedSessions {
		t.Fatalf("%d sessions forgotten, want %d", forgotten, 3000-DefaultEndedSessions)
	}
	if held != gone || held >= maxGone {
		t.Errorf("%d forgotten sessions still held by the registry (gone %d), want fewer than %d", held, gone, maxGone)
	}
}
