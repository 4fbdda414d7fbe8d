package live

import (
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// notMux says what the bytes of a framing violation are where they are
// another protocol's (wirekind.Kind.OtherProtocol: HTTP, TLS, SSH, SOCKS5,
// text) at the very start of their direction, offset 0: its sender speaks
// no mux at all, and the violation is no mux's framing breaking (a TLS
// service through attach, HTTP at a mux port); where its receiver is a mux
// (an smux client answered by an HTTP server), that receiver still reacts
// as to any bad header, its reader stopping. wirekind.Unknown otherwise, a
// real mux peer's bad version (3 at offset 0) included.
func notMux(offset int64, proto Protocol, h decoder.Header, yh yamux.Header) wirekind.Kind {
	if offset != 0 {
		return wirekind.Unknown
	}
	b := h[:]
	if proto == Yamux {
		b = yh[:]
	}
	if k := wirekind.Guess(b); k.OtherProtocol() {
		return k
	}
	return wirekind.Unknown
}

// NotMux says what f's bytes are where f is not a mux's framing
// violation: another protocol's bytes at the start of its direction
// (notMux). wirekind.Unknown for a violation of a mux's framing.
func (f *FramingInfo) NotMux() wirekind.Kind {
	return notMux(f.Offset, f.Proto, f.Header, f.YamuxHeader)
}

// NotMux is FramingInfo.NotMux for a FramingViolation record.
func (r *Record) NotMux() wirekind.Kind {
	if r.Kind != FramingViolation {
		return wirekind.Unknown
	}
	return notMux(r.Offset, r.Proto, r.Header, r.YamuxHeader)
}

// NotMuxText words a violation that is not a mux's (FramingInfo.NotMux),
// what its line says in place of the mux's reaction: "not a mux: the
// client's first bytes are TLS, not smux". "" where it is a mux's.
func NotMuxText(k wirekind.Kind, dir Dir, proto Protocol) string {
	if k == wirekind.Unknown {
		return ""
	}
	mux := "smux"
	if proto == Yamux {
		mux = "yamux"
	}
	return "not a mux: the " + dir.Sender().String() + "'s first bytes are " + k.String() + ", not " + mux
}

// NotMuxText is NotMuxText for a FramingViolation record: "" where it is
// a mux's.
func (r *Record) NotMuxText() string { return NotMuxText(r.NotMux(), r.Dir, r.Proto) }
