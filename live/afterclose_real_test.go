package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// TestAfterCloseRealSmux drives real smux pairs, the client's end tapped,
// through the two ways a client ends its side before the server's answer:
// CloseWrite, then reading the answer (smux delivers it), and Close (smux
// discards it). In v2 the client's first read sends a UPD that consumes
// the answer, so only Close opens DATA_AFTER_CLOSE. In v1 nothing on the
// wire tells them apart: both open it, as the README says.
func TestAfterCloseRealSmux(t *testing.T) {
	const answer = "the answer, sent after the client's FIN"
	for _, version := range []int{2, 1} {
		for _, closeWrite := range []bool{true, false} {
			t.Run(fmt.Sprintf("v%d/closewrite=%v", version, closeWrite), func(t *testing.T) {
				reg := live.New(live.Config{})
				cli, srv := smuxtest.Pair(t, smuxtest.Config(version), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
				served := serveOne(srv, func(st *smux.Stream) error {
					defer st.Close()
					if _, err := io.ReadAll(st); err != nil { // to the client's FIN
						return err
					}
					_, err := st.Write([]byte(answer))
					return err
				})
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				sid := st.ID()
				if _, err := st.Write([]byte("ECHO")); err != nil {
					t.Fatal(err)
				}
				if closeWrite {
					if err := st.CloseWrite(); err != nil {
						t.Fatal(err)
					}
					got, err := smuxtest.ReadAll(st)
					if err != nil || string(got) != answer {
						t.Fatalf("read %q, %v; want the answer", got, err)
					}
				}
				st.Close()
				if err := <-served; err != nil {
					t.Fatal(err)
				}
				waitStream(t, reg, sid, "both FINs and the answer", func(st *live.StreamSnap) bool {
					return st.State == live.Closed && st.Bytes[s2c] == uint64(len(answer))
				})
				if version == 2 && closeWrite {
					// The client's UPD is written by its read, which returned
					// before it: wait for it to be recorded.
					waitStream(t, reg, sid, "the client's UPD", func(st *live.StreamSnap) bool { return st.Flow[s2c].HasUPD })
				}
				cfg := live.FindingsConfig{Churn: -1}
				reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
				reg.Evaluate(time.Now().Add(time.Second), cfg)
				var codes []string
				for _, f := range reg.Snapshot().Findings {
					codes = append(codes, f.Code.String())
				}
				want := version == 1 || !closeWrite
				if got := len(codes) == 1 && codes[0] == "DATA_AFTER_CLOSE"; got != want || (!want && len(codes) > 0) {
					t.Errorf("findings %v; want DATA_AFTER_CLOSE alone: %v", codes, want)
				}
			})
		}
	}
}

// TestAfterCloseWriteAfterARead: a real v2 client that read part of the
// answer before its CloseWrite (an exchange, then the client says it is
// done and reads the rest) sends no UPD for the rest: smux sends one at
// a stream's first read and then only when half its buffer was read since
// the last. The rest is delivered, yet nothing on the wire tells this
// CloseWrite from a Close.
func TestAfterCloseWriteAfterARead(t *testing.T) {
	const first, rest = "the first part", "the rest, sent after the client's FIN"
	reg := live.New(live.Config{})
	cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	served := serveOne(srv, func(st *smux.Stream) error {
		defer st.Close()
		if _, err := st.Write([]byte(first)); err != nil {
			return err
		}
		if _, err := io.ReadAll(st); err != nil {
			return err
		}
		_, err := st.Write([]byte(rest))
		return err
	})
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	sid := st.ID()
	if _, err := st.Write([]byte("ECHO")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(st, buf); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := smuxtest.ReadAll(st)
	if err != nil || string(got) != rest {
		t.Fatalf("read %q, %v; want the rest", got, err)
	}
	st.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	waitStream(t, reg, sid, "both FINs and the rest", func(st *live.StreamSnap) bool {
		return st.State == live.Closed && st.Bytes[s2c] == uint64(len(first)+len(rest))
	})
	cfg := live.FindingsConfig{Churn: -1}
	reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
	reg.Evaluate(time.Now().Add(time.Second), cfg)
	fs := reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Code != live.CodeDataAfterClose {
		t.Fatalf("findings %+v; want DATA_AFTER_CLOSE alone", fs)
	}
	if text := fs[0].Text; strings.Contains(text, "has not read") || !strings.Contains(text, "first read") {
		t.Errorf("text %q: a CloseWrite after a read, which sends no UPD for what it reads after, is not allowed for", text)
	}
}

// TestAfterCloseWriteSenderEnds: a real v2 client half-closes with
// CloseWrite, and the server writes its answer and closes the session at
// once. The client's tap records the server's side closed at the EOF
// (the session lasts, half closed, until the client closes), before the
// client's read of the answer sends its UPD, and an evaluation may come
// between: the answer, delivered, is no DATA_AFTER_CLOSE.
func TestAfterCloseWriteSenderEnds(t *testing.T) {
	const answer = "the answer, sent after the client's FIN"
	reg := live.New(live.Config{})
	cli, srv := smuxtest.Pair(t, smuxtest.Config(2), func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	served := serveOne(srv, func(st *smux.Stream) error {
		if _, err := io.ReadAll(st); err != nil {
			return err
		}
		_, err := st.Write([]byte(answer))
		srv.Close()
		return err
	})
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("ECHO")); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	// An evaluation between the server's close and the client's read.
	smuxtest.Eventually(t, "the server's side closed", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && !snap.Sessions[0].DirEnded[live.ServerToClient].IsZero()
	})
	cfg := live.FindingsConfig{Churn: -1}
	reg.Evaluate(time.Now().Add(100*time.Millisecond), cfg)
	got, _ := io.ReadAll(st)
	if string(got) != answer {
		t.Fatalf("read %q; want the answer", got)
	}
	reg.Evaluate(time.Now().Add(time.Second), cfg)
	if fs := findingRecords(reg); len(fs) > 0 {
		t.Errorf("findings:%s", describeRecords(fs))
	}
}

// serveOne accepts one stream of srv in a goroutine and serves it with
// serve; the channel receives serve's error, or Accept's.
func serveOne(srv *smux.Session, serve func(*smux.Stream) error) <-chan error {
	served := make(chan error, 1)
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			served <- err
			return
		}
		served <- serve(st)
	}()
	return served
}
