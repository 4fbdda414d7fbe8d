package tap

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/racetest"
	"github.com/muxtop/muxtop/live"
)

// TestFeederHeldBounded: a joined direction whose bytes never chain into
// frames (not a mux, or a yamux direction of Data frames above 256 KiB)
// keeps the decoder hunting for as long as the capture runs. The chunks
// it skipped can end no frame found later: the Feeder forgets them, and
// keeps only the few the decoder still holds.
func TestFeederHeldBounded(t *testing.T) {
	for _, proto := range []Protocol{Smux, Yamux} {
		t.Run(proto.String(), func(t *testing.T) {
			base := time.Unix(1000, 0)
			reg := live.New(live.Config{})
			sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, base)
			c2s, _ := NewFeeders(sess, 64, proto, 0)
			c2s.Resync()
			junk := make([]byte, 1400)
			for i := range junk {
				junk[i] = 0xff
			}
			chunks := 10000
			if racetest.Enabled {
				// Fed in this goroutine, nothing for the detector (10 s of
				// CI's race run): 3000, still three times the bound.
				chunks = 3000
			}
			for k := range chunks {
				c2s.Feed(junk, base.Add(time.Duration(k)*time.Millisecond))
			}
			if n := len(c2s.held); n > 1000 {
				t.Errorf("%d chunks kept after %d chunks of skipped bytes, want only those the decoder holds", n, chunks)
			}
		})
	}
}

// TestFeederHeldDone: once the decoder has framed every byte it held, the
// Feeder forgets the chunks, so that a direction back in step feeds
// without noting chunks (hold) or hearing the sender (live.Session.Heard)
// at every chunk, as a tap's feeder does.
func TestFeederHeldDone(t *testing.T) {
	base := time.Unix(1000, 0)
	reg := live.New(live.Config{})
	sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Server}, base)
	c2s, _ := NewFeeders(sess, 64, Smux, 0)
	c2s.Resync()
	var b []byte
	for range 4 {
		h := decoder.MakeHeader(1, decoder.NOP, 0, 0)
		b = append(b, h[:]...)
	}
	c2s.Feed(b[:5], base)
	c2s.Feed(b[5:], base.Add(time.Second))
	if n := len(c2s.held); n != 0 {
		t.Errorf("%d chunks kept once every byte held is framed, want 0", n)
	}
}
