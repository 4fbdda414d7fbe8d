// Package tap watches smux connections without touching them: Conn and
// Listener tee every byte that moves into a frame decoder per direction and
// record the frames in a live.Registry; Proxy is the tapping TCP proxy
// behind `muxtop attach`.
package tap

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// Conn is a net.Conn whose traffic is decoded into a live.Session. Every
// Read and Write passes through untouched; the bytes that moved are decoded
// inline, without copying beyond the snaplen and without waiting for any
// reader of the Registry.
//
// Like a TCP connection, a Conn supports one Read and one Write at a time
// concurrently (smux's reader and writer); concurrent Reads would not have
// a defined byte order anyway.
type Conn struct {
	net.Conn
	sess    *live.Session
	in, out feeder
}

// feeder decodes one direction of a tapped connection into its session.
type feeder struct {
	dec  *decoder.Decoder
	dir  live.Dir
	sess *live.Session
}

// Wrap taps c, which is the side end of an smux session, recording into reg
// under a new session labelled label.
func Wrap(c net.Conn, side live.Side, reg *live.Registry, label string) *Conn {
	info := live.SessionInfo{Tap: side, Label: label}
	local, remote := addr(c.LocalAddr()), addr(c.RemoteAddr())
	if side == live.Client {
		info.Client, info.Server = local, remote
	} else {
		info.Client, info.Server = remote, local
	}
	sess := reg.Open(info, time.Now())
	snaplen := reg.Config().Snaplen
	return &Conn{
		Conn: c,
		sess: sess,
		out:  newFeeder(sess, side.Sends(), snaplen),
		in:   newFeeder(sess, side.Sends().Reverse(), snaplen),
	}
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Read reads from the wrapped conn and decodes what it read.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.feed(p[:n], time.Time{})
	}
	if err != nil {
		c.fail(err)
	}
	return n, err
}

// Write writes to the wrapped conn and decodes what was written. Its
// frames are stamped with the time the write began: the peer may answer,
// and the answer be read, before a slow Write returns.
func (c *Conn) Write(p []byte) (int, error) {
	at := time.Now()
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.out.feed(p[:n], at)
	}
	if err != nil {
		c.fail(err)
	}
	return n, err
}

// Close closes the wrapped conn and ends the session as closed locally,
// unless it ended already.
func (c *Conn) Close() error {
	c.sess.End(time.Now(), live.LocalClose, nil)
	return c.Conn.Close()
}

// CloseWrite half-closes the wrapped conn if it supports it (TCP does).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// fail ends the session on an error that ends the connection; deadlines
// and other temporary errors leave it open.
func (c *Conn) fail(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return
	}
	reason, cause := Reason(err)
	c.sess.End(time.Now(), reason, cause)
}

// Reason classifies an error that ended a connection, and returns the error
// worth showing with it (nil when the reason says everything).
func Reason(err error) (live.CloseReason, error) {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return live.EOF, nil
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return live.Reset, nil
	case errors.Is(err, net.ErrClosed):
		return live.LocalClose, nil
	}
	return live.ReadError, err
}

func newFeeder(sess *live.Session, dir live.Dir, snaplen int) feeder {
	return feeder{dec: decoder.New(snaplen), dir: dir, sess: sess}
}

// feed decodes p, which moved at time at; a zero at means now, read only
// if a frame completes (smux reads a header and its payload separately, so
// half its reads complete none). After a violation nothing is framed any
// more, and feed only counts the unparsed bytes.
func (f *feeder) feed(p []byte, at time.Time) {
	if f.dec.Violation() != nil {
		f.dec.Next(p)
		f.sess.Unparsed(f.dir, f.dec.Unparsed())
		return
	}
	for len(p) > 0 {
		n, fr, err := f.dec.Next(p)
		p = p[n:]
		if fr == nil && err == nil {
			continue
		}
		if at.IsZero() {
			at = time.Now()
		}
		if fr != nil {
			f.sess.Record(f.dir, at, fr)
		} else {
			f.sess.Violation(f.dir, at, f.dec.Violation())
			f.sess.Unparsed(f.dir, f.dec.Unparsed())
		}
	}
}

// Listener taps every conn it accepts as the server end of a session.
type Listener struct {
	net.Listener
	reg   *live.Registry
	label string
}

// WrapListener taps the conns that l accepts, recording into reg.
func WrapListener(l net.Listener, reg *live.Registry, label string) *Listener {
	return &Listener{Listener: l, reg: reg, label: label}
}

// Accept waits for the next conn and returns it tapped.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c, live.Server, l.reg, l.label), nil
}
