package smuxtest

import (
	"net"
	"time"
)

// PacedConn writes at most Rate bytes a second, 32 KiB at a time: a slow
// path, beneath a tap, that the tapped end's writes go out through.
type PacedConn struct {
	net.Conn
	Rate int
}

// Write writes p 32 KiB at a time, each after the time Rate gives it.
func (c PacedConn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(32<<10, len(p)-n)
		time.Sleep(time.Duration(k) * time.Second / time.Duration(c.Rate))
		w, err := c.Conn.Write(p[n : n+k])
		n += w
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
