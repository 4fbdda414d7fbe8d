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
// process, printing the TCP payload of each packet: the session was open
// before it came, so it has no handshake.
func ExampleLive() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the backend: an smux echo server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go echoServer(ln)
	backend := ln.Addr().String()

	// Once, at start-up: the capture state, and the live capture on the
	// program's debug mux, served on loopback only: it holds payload bytes.
	reg := live.New(live.Config{History: 10_000})
	capture := pcapout.NewLive()
	defer capture.Close() // at shutdown: ends every viewer's stream
	debug := http.NewServeMux()
	debug.Handle("/debug/muxtop/capture", capture)
	// go http.ListenAndServe("127.0.0.1:6060", debug) // loopback only: it serves payload bytes

	// For each connection: wrap it before smux gets it, recording into the
	// live capture. A server wraps its listener instead:
	// tap.WrapListener(ln, reg, "backend", tap.Record(capture)).
	conn, err := net.Dial("tcp", backend)
	if err != nil {
		fmt.Println(err)
		return
	}
	session, err := smux.Client(tap.Wrap(conn, live.Client, reg, "backend", tap.Record(capture)), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer session.Close()

	// A viewer: muxtop read http://127.0.0.1:6060/debug/muxtop/capture
	// does this, and decodes what comes.
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
	client := layers.TCPPort(conn.LocalAddr().(*net.TCPAddr).Port)
	// The session was open when the viewer came: no handshake, joined.
	// Its stream's SYN, "ping", and the echo as smux reads it: header,
	// then payload.
	for n := 0; n < 4; {
		data, _, err := ng.ReadPacketData()
		if err != nil {
			fmt.Println(err)
			return
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp.SYN {
			fmt.Println("a handshake")
		}
		if len(tcp.Payload) == 0 {
			continue
		}
		dir := "server → client"
		if tcp.SrcPort == client {
			dir = "client → server"
		}
		fmt.Printf("%s % x\n", dir, tcp.Payload)
		n++
	}
	// Output:
	// 200 OK application/x-pcapng
	// client → server 01 00 00 00 03 00 00 00
	// client → server 01 02 04 00 03 00 00 00 70 69 6e 67
	// server → client 01 02 04 00 03 00 00 00
	// server → client 70 69 6e 67
}

// echoServer serves one smux session on ln, answering each stream with
// what it read.
func echoServer(ln net.Listener) {
	c, err := ln.Accept()
	if err != nil {
		return
	}
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
