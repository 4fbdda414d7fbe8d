package main

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// procNetTCP are the kernel's tables of this network namespace's TCP
// sockets (Linux); elsewhere they do not exist, and listeningTCP cannot tell.
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// listeningTCP says whether a TCP socket of this machine (of this
// network namespace: a pod's, a container's) listens where a connection
// to ap would arrive, ap's address or every address, on ap's port,
// without connecting to it; known is false where the tables cannot be
// read.
func listeningTCP(ap netip.AddrPort) (listening, known bool) {
	want := ap.Addr().Unmap()
	for _, name := range procNetTCP {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		known = true
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			local, ok := procAddr(fields[1])
			if ok && local.Port() == ap.Port() && (local.Addr().Unmap() == want || local.Addr().IsUnspecified()) {
				f.Close()
				return true, true
			}
		}
		f.Close()
	}
	return false, known
}

// procAddr parses a /proc/net/tcp address: the IP in hex, each 32-bit
// word in the machine's byte order (little-endian on every platform
// muxtop runs on with /proc), a colon, the port in hex.
func procAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 4 && len(b) != 16 {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(ip, uint16(port)), true
}
