package live

import (
	"strings"
	"testing"
	"time"
)

// TestFinFirstWording: UNANSWERED's text reads right with one stream and
// with many, all or some of them half-closed by their opener.
func TestFinFirstWording(t *testing.T) {
	for _, c := range []struct {
		count, finFirst uint64
		want            string
	}{
		{1, 0, "1 stream opened by the client got no ACK for 5.0 s or more (the oldest, stream 3, 6.0 s ago) while the server still sends: the server is not accepting it"},
		{1, 1, "the server is not accepting it, or accepted it only after the client's FIN (it was half-closed before any ACK), for which yamux sends no ACK"},
		{3, 3, "the server is not accepting them, or accepted them only after the client's FIN (all 3 were half-closed before any ACK), for which yamux sends no ACK"},
		{3, 1, "the server is not accepting them, or accepted the 1 of them half-closed before any ACK only after the client's FIN, for which yamux sends no ACK"},
		{3, 2, "the server is not accepting them, or accepted the 2 of them half-closed before any ACK only after the client's FIN, for which yamux sends no ACK"},
	} {
		f := &Finding{Code: CodeUnanswered, Proto: Yamux, Dir: ClientToServer, HasDir: true, Stream: 3,
			Evidence: Evidence{Count: c.count, FinFirst: c.finFirst, Age: 6 * time.Second, Limit: 5 * time.Second}}
		f.word()
		if !strings.Contains(f.Text, c.want) {
			t.Errorf("count %d, FIN first %d:\n got %q\nwant %q", c.count, c.finFirst, f.Text, c.want)
		}
	}
}
