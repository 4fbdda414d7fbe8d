package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// lookupWhy words a name lookup that failed, err, as the reason in
// "does not resolve (…)": no such host, no answer within limit (the
// lookup's own bound, such as attach's resolveTimeout; 0 where none was
// set, the resolver's timeout having run out), or the resolver's own
// words; ok is false where err is no lookup's.
func lookupWhy(err error, limit time.Duration) (why string, ok bool) {
	var de *net.DNSError
	if !errors.As(err, &de) {
		return "", false
	}
	switch {
	case de.IsNotFound:
		return "no such host", true
	case de.IsTimeout && limit > 0:
		return fmt.Sprintf("no answer within %v", limit), true
	case de.IsTimeout:
		return "no answer from the resolver", true
	}
	return de.Err, true
}

// lookupName is the name whose lookup err is, or "".
func lookupName(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Name
	}
	return ""
}

// startErr turns a failure to listen, err, on the address of flag into
// one line a user can act on: the port in use, an address this machine
// does not have, a port below 1024 without the privilege, a name that
// does not resolve. flag may name two flags ("--listen or --http"): the
// demo's error says which one failed.
func startErr(err error, flag string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (pick another with %s)", err, flag)
	}
	if strings.Contains(flag, " or ") {
		switch {
		case strings.Contains(err.Error(), "start gateway"):
			flag = "--http"
		case strings.Contains(err.Error(), "start service"):
			flag = "--listen"
		}
	}
	flag, _, _ = strings.Cut(flag, ";")
	addr := ""
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Addr != nil {
		addr = " " + oe.Addr.String()
	}
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s%s: this machine has no such address: give one of its own, such as 127.0.0.1:PORT (this machine alone; a bare :PORT means it too) or 0.0.0.0:PORT (every interface)", flag, addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s%s: a port below 1024 needs root (or CAP_NET_BIND_SERVICE): use a port above 1023", flag, addr)
	}
	if why, ok := lookupWhy(err, 0); ok {
		return fmt.Errorf("%s: host %s does not resolve (%s): give an IP address, such as 127.0.0.1:PORT, or a name this machine resolves", flag, lookupName(err), why)
	}
	return err
}

// notTLS says whether err is a TLS handshake answered by something that
// does not speak TLS, and whether that answer looked like plain HTTP.
func notTLS(err error) (notTLS, plainHTTP bool) {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return true, string(rh.RecordHeader[:]) == "HTTP/"
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return true, true
	}
	return false, false
}
