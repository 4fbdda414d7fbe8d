package pcapout_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// A program that taps its own smux sessions serves what its taps see as
// a live capture, which muxtop read http://127.0.0.1:6060/debug/muxtop/capture
// watches from outside it. Here the viewer is an HTTP GET in the same
// process, printing the TCP payload of each packet.
func ExampleLive() {
	// Once, at start-up: the capture state, and the live capture on the
	// program's debug mux, served on loopback only: it holds payload bytes.
	reg := live.New(live.Config{History: 10_000})
	capture := pcapout.NewLive()
	defer capture.Close() // at shutdown: ends every viewer's stream
	debug := http.NewServeMux()
	debug.Handle("/debug/muxtop/capture", capture)
	// go http.ListenAndServe("127.0.0.1:6060", debug)

	// For each connection: wrap it before smux gets it, recording into the
	// live capture. A server wraps its listener instead:
	// tap.WrapListener(ln, reg, "backend", tap.Record(capture)).
	conn, peer := net.Pipe() // a net.Dial in a real program
	session, _ := smux.Client(tap.Wrap(conn, live.Client, reg, "backend", tap.Record(capture)), nil)
	defer session.Close()
	go echoServer(peer)

	// A viewer: muxtop read URL does this, and decodes what comes.
	srv := httptest.NewServer(debug)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/muxtop/capture")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	for capture.Viewers() == 0 {
		time.Sleep(time.Millisecond)
	}

	st, _ := session.OpenStream()
	st.Write([]byte("ping"))
	io.ReadFull(st, make([]byte, 4))

	ng, err := pcapgo.NewNgReader(resp.Body, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 4 { // the session's SYN, "ping", and its echo: header, then payload
		data, _, err := ng.ReadPacketData()
		if err != nil {
			fmt.Println(err)
			return
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip := p.NetworkLayer().(*layers.IPv4)
		for len(p.TransportLayer().LayerPayload()) == 0 { // the handshake and ACKs
			if data, _, err = ng.ReadPacketData(); err != nil {
				fmt.Println(err)
				return
			}
			p = gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
			ip = p.NetworkLayer().(*layers.IPv4)
		}
		fmt.Printf("%v → %v % x\n", ip.SrcIP, ip.DstIP, p.TransportLayer().LayerPayload())
	}
	// Output:
	// 200 OK application/x-pcapng
	// 10.0.0.1 → 10.0.0.2 01 00 00 00 03 00 00 00
	// 10.0.0.1 → 10.0.0.2 01 02 04 00 03 00 00 00 70 69 6e 67
	// 10.0.0.2 → 10.0.0.1 01 02 04 00 03 00 00 00
	// 10.0.0.2 → 10.0.0.1 70 69 6e 67
}

// echoServer answers each stream with what it read.
func echoServer(c net.Conn) {
	srv, err := smux.Server(c, nil)
	if err != nil {
		return
	}
	defer srv.Close()
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go io.Copy(st, st)
	}
}
