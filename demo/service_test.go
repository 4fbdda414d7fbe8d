package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/xtaci/smux"
)

// TestServiceAnswersRand checks the exchange on the wire: "RAND" in, the
// service's number as 8 big-endian bytes out, then EOF (the service's FIN).
// In Leak mode the FIN never comes.
func TestServiceAnswersRand(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		for _, tc := range []struct {
			name string
			leak bool
		}{
			{"closes", false},
			{"leaks", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				smuxtest.NoGoroutinesLeft(t)
				rec := newRecorder()
				addr := startService(t, ServiceConfig{Version: version, Leak: tc.leak, Rand: rec.next})
				sess := clientSession(t, addr, version)

				for i := range 3 {
					st, err := sess.OpenStream()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := io.WriteString(st, "RAND"); err != nil {
						t.Fatal(err)
					}
					st.SetReadDeadline(time.Now().Add(2 * time.Second))
					var answer [8]byte
					if _, err := io.ReadFull(st, answer[:]); err != nil {
						t.Fatalf("request %d: read answer: %v", i, err)
					}
					if got, want := binary.BigEndian.Uint64(answer[:]), rec.all()[i]; got != want {
						t.Errorf("request %d: got %d, want %d", i, got, want)
					}

					// What follows the answer: EOF if the service closed its
					// side, nothing at all if it leaks the stream.
					st.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
					n, err := st.Read(answer[:])
					switch {
					case n != 0:
						t.Errorf("request %d: %d bytes after the answer, want none", i, n)
					case tc.leak && !errors.Is(err, smux.ErrTimeout):
						t.Errorf("request %d: read after answer: got %v, want a timeout (the service never closes)", i, err)
					case !tc.leak && err != io.EOF:
						t.Errorf("request %d: read after answer: got %v, want EOF (the service closed the stream)", i, err)
					}
					st.Close()
				}
			})
		}
	})
}

// TestServiceRejectsBadCommands checks that anything but "RAND" gets the
// stream closed and a warning logged, and that the session goes on.
func TestServiceRejectsBadCommands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		send    string
		halfway bool // close the write side after send
		log     string
	}{
		{"unknown", "NOPE", false, `cmd="\"NOPE\""`},
		{"lower case", "rand", false, `cmd="\"rand\""`},
		{"binary", "\x00\xff\x1b[", false, `cmd="\"\\x00\\xff\\x1b[\""`},
		{"short then FIN", "RA", true, "read command failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			var logs logBuffer
			addr := startService(t, ServiceConfig{Logger: newLogger(&logs)})
			sess := clientSession(t, addr, 1)

			st, err := sess.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := io.WriteString(st, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.halfway {
				st.CloseWrite()
			}
			st.SetReadDeadline(time.Now().Add(2 * time.Second))
			got, err := io.ReadAll(st)
			if err != nil || len(got) != 0 {
				t.Errorf("after %q: got %q, %v; want nothing then EOF", tc.send, got, err)
			}
			logs.waitLog(t, tc.log)
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log: got %q, want a warning", logs.String())
			}

			// The session survives: the next request is answered.
			st2, err := sess.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			io.WriteString(st2, "RAND")
			st2.SetReadDeadline(time.Now().Add(2 * time.Second))
			if got, err := io.ReadAll(st2); err != nil || len(got) != 8 {
				t.Errorf("next request: got %d bytes, %v; want 8 bytes then EOF", len(got), err)
			}
		})
	}
}

// TestServiceTimesOutSilentClients checks that a stream that never sends
// its command is closed after the timeout rather than held forever.
func TestServiceTimesOutSilentClients(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	var logs logBuffer
	addr := startService(t, ServiceConfig{Version: 2, Timeout: 100 * time.Millisecond, Logger: newLogger(&logs)})
	sess := clientSession(t, addr, 2)

	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	if _, err := st.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent stream: got %v, want EOF", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent stream closed after %v, want about 100ms", d)
	}
	logs.waitLog(t, "no command in time")
}

// TestServeStops checks Serve's ownership: cancelling its context closes
// the listener and every session, and Serve returns nil.
func TestServeStops(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	ln := listen(t)
	stop := serve(t, ln, ServiceConfig{})
	sess := clientSession(t, ln.Addr().String(), 1)
	st, err := sess.OpenStream() // a stream in the middle of a request
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(st, "RA")

	if err := stop(); err != nil {
		t.Errorf("Serve after cancel: got %v, want nil", err)
	}
	st.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := st.Read(make([]byte, 1)); err == nil || errors.Is(err, smux.ErrTimeout) {
		t.Errorf("stream after Serve stopped: got %v, want the session's end", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Errorf("listener still accepts after Serve stopped")
	}
}

// TestServeListenerFails checks that a broken listener ends Serve with an
// error that says so.
func TestServeListenerFails(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	ln := listen(t)
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), ln, ServiceConfig{}) }()
	clientSession(t, ln.Addr().String(), 1)
	time.Sleep(50 * time.Millisecond) // let the session be accepted
	ln.Close()
	select {
	case err := <-errc:
		if err == nil || !strings.HasPrefix(err.Error(), "demo: service on ") {
			t.Errorf("Serve: got %v, want a demo: error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its listener was closed")
	}
}

func TestServeBadVersion(t *testing.T) {
	ln := listen(t)
	err := Serve(context.Background(), ln, ServiceConfig{Version: 3})
	if want := "demo: smux version 3 is not supported (use 1 or 2)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := ln.Accept(); err == nil {
		t.Errorf("listener left open")
	}
}
