package demo

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// request opens a stream on sess and writes cmd.
func request(t *testing.T, sess *smux.Session, cmd string) *smux.Stream {
	t.Helper()
	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(st, cmd); err != nil {
		t.Fatal(err)
	}
	return st
}

// noAnswer checks that a RAND on sess gets no answer within d.
func noAnswer(t *testing.T, sess *smux.Session, d time.Duration) {
	t.Helper()
	st := request(t, sess, Command)
	st.SetReadDeadline(time.Now().Add(d))
	var answer [8]byte
	if n, err := io.ReadFull(st, answer[:]); !errors.Is(err, smux.ErrTimeout) {
		t.Errorf("RAND got %d bytes, %v: want no answer", n, err)
	}
}

func TestServiceFaultCommands(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		smuxtest.NoGoroutinesLeft(t)
		addr := startService(t, ServiceConfig{Version: version})

		t.Run("CLOS closes unanswered", func(t *testing.T) {
			st := request(t, clientSession(t, addr, version), CommandClose)
			st.SetReadDeadline(time.Now().Add(2 * time.Second))
			if b, err := io.ReadAll(st); err != nil || len(b) != 0 {
				t.Errorf("read %d bytes, %v: want EOF at once", len(b), err)
			}
		})
		t.Run("HOLD answers, then nothing more is accepted", func(t *testing.T) {
			sess := clientSession(t, addr, version)
			st := request(t, sess, CommandHold)
			st.SetReadDeadline(time.Now().Add(2 * time.Second))
			var answer [8]byte
			if _, err := io.ReadFull(st, answer[:]); err != nil {
				t.Fatal(err)
			}
			noAnswer(t, sess, 300*time.Millisecond)
			if sess.IsClosed() {
				t.Error("the service closed the session")
			}
		})
		t.Run("FRZE freezes the session", func(t *testing.T) {
			sess := clientSession(t, addr, version)
			request(t, sess, CommandFreeze)
			// Nothing answers FRZE: give its handler, which runs beside the
			// next stream's, the time to freeze.
			time.Sleep(200 * time.Millisecond)
			noAnswer(t, sess, 300*time.Millisecond)
		})
		t.Run("BULK sends BulkSize bytes", func(t *testing.T) {
			st := request(t, clientSession(t, addr, version), CommandBulk)
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := io.Copy(io.Discard, st); n != BulkSize || err != nil {
				t.Errorf("read %d bytes, %v: want %d, then EOF", n, err, BulkSize)
			}
		})
		t.Run("SINK reads nothing", func(t *testing.T) {
			st := request(t, clientSession(t, addr, version), CommandSink)
			st.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			chunk := make([]byte, 32<<10)
			var err error
			for sent := 0; sent < 256<<20 && err == nil; sent += len(chunk) {
				_, err = st.Write(chunk)
			}
			if !errors.Is(err, smux.ErrTimeout) {
				t.Errorf("write: %v, want a timeout: nobody reads", err)
			}
		})
	})
}

// TestServiceLeavesOtherVersionsToKeepalive: a session of the other
// version is left for smux's keepalive to close, as smux does, so its
// NOPs show the version it speaks.
func TestServiceLeavesOtherVersionsToKeepalive(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	addr := startService(t, ServiceConfig{Version: 1, KeepAlive: 100 * time.Millisecond})
	sess := clientSession(t, addr, 2)
	st := request(t, sess, Command)
	st.SetReadDeadline(time.Now().Add(5 * time.Second))
	var answer [8]byte
	if _, err := io.ReadFull(st, answer[:]); !errors.Is(err, smux.ErrInvalidProtocol) {
		t.Errorf("read: %v, want %v: the service's v1 NOP reached the v2 client", err, smux.ErrInvalidProtocol)
	}
}

func TestFreezeConn(t *testing.T) {
	a, b := net.Pipe()
	fc := newFreezeConn(a)
	go b.Write([]byte("hi"))
	var buf [2]byte
	if n, err := fc.Read(buf[:]); n != 2 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	fc.freeze()
	done := make(chan error, 2)
	go func() { _, err := fc.Read(buf[:]); done <- err }()
	go func() { _, err := fc.Write(buf[:]); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a frozen conn returned %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	fc.Close()
	b.Close()
	for range 2 {
		if err := <-done; !strings.Contains(err.Error(), "closed") {
			t.Errorf("after Close: %v", err)
		}
	}
}
