package live

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestChurnUpstreamWording: CHURN of sessions a proxy closed because
// their upstream failed says so, and tells what to check of the
// upstream, by how the connections failed; where only some ended so, it
// counts them and keeps the clients' part; of none, it blames the
// clients' dialing as before. (attach's end-to-end test drives the
// refused case through a real proxy.)
func TestChurnUpstreamWording(t *testing.T) {
	const up = "10.0.0.5:9000"
	cases := []struct {
		name     string
		failures []UpstreamFailure // per session; beyond them, sessions end with EOF
		plain    int
		text     []string
		advice   []string
	}{
		{"refused", []UpstreamFailure{UpstreamRefused}, 0,
			[]string{"each ended because the upstream 10.0.0.5:9000 refused the connection, and the clients dialed again"},
			[]string{"check the upstream 10.0.0.5:9000: nothing listens there", "The clients are not at fault"}},
		{"timeout", []UpstreamFailure{UpstreamTimedOut}, 0,
			[]string{"each ended because the upstream 10.0.0.5:9000 did not answer the connection in time"},
			[]string{"--dial-timeout", "firewall"}},
		{"mixed", []UpstreamFailure{UpstreamRefused, UpstreamTimedOut}, 0,
			[]string{"each ended because the upstream 10.0.0.5:9000 could not be reached"},
			[]string{"does its name resolve"}},
		{"some", []UpstreamFailure{UpstreamRefused}, 15,
			[]string{", 10 of them because the upstream 10.0.0.5:9000 refused the connection: clients redialing in a loop"},
			[]string{"check the upstream 10.0.0.5:9000", "Then: keep one session"}},
		{"none", nil, 25,
			[]string{": a client redialing in a loop, or clients that dial a session per request"},
			[]string{"keep one session"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := New(Config{})
			base := time.Unix(1000, 0)
			n := 0
			end := func(err error) {
				at := base.Add(time.Duration(n) * 100 * time.Millisecond)
				n++
				s := reg.Open(SessionInfo{Client: "c", Server: up, Proxied: true}, at)
				s.End(at.Add(time.Millisecond), ReadError, err)
			}
			if len(c.failures) > 0 {
				for i := range 25 - c.plain {
					f := c.failures[i%len(c.failures)]
					end(&UpstreamError{Addr: up, Failure: f, Err: errors.New("attach: upstream failed")})
				}
			}
			for range c.plain {
				end(nil)
			}
			reg.Evaluate(base.Add(3*time.Second), FindingsConfig{})
			var churn *Finding
			for _, f := range reg.Snapshot().Findings {
				if f.Code == CodeChurn {
					churn = f
				}
			}
			if churn == nil {
				t.Fatal("no CHURN: 25 sessions lived 1 ms each")
			}
			for _, w := range c.text {
				if !strings.Contains(churn.Text, w) {
					t.Errorf("text %q\nlacks %q", churn.Text, w)
				}
			}
			for _, w := range c.advice {
				if !strings.Contains(churn.Advice, w) {
					t.Errorf("advice %q\nlacks %q", churn.Advice, w)
				}
			}
		})
	}
}
