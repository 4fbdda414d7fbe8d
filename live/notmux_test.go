package live

import (
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/wirekind"
)

// TestNotMux: another protocol's bytes at a direction's offset 0 are not
// a mux; a real smux peer's bad version there (3), or TLS bytes after
// frames, are a mux's violation, whose reaction the lines keep.
func TestNotMux(t *testing.T) {
	h := func(b string) (h decoder.Header) { copy(h[:], b); return }
	yh := func(b string) (h yamux.Header) { copy(h[:], b); return }
	for _, c := range []struct {
		name   string
		offset int64
		proto  Protocol
		h      decoder.Header
		yh     yamux.Header
		want   wirekind.Kind
	}{
		{"TLS", 0, Smux, h("\x16\x03\x01\x02\x00\x01\x00\x01"), yamux.Header{}, wirekind.TLS},
		{"HTTP", 0, Smux, h("GET / HT"), yamux.Header{}, wirekind.HTTPRequest},
		{"text", 0, Smux, h("hello wo"), yamux.Header{}, wirekind.Text},
		{"yamux TLS", 0, Yamux, decoder.Header{}, yh("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00"), wirekind.TLS},
		{"smux version 3", 0, Smux, h("\x03\x00\x00\x00\x01\x00\x00\x00"), yamux.Header{}, wirekind.Unknown},
		{"zeros", 0, Smux, decoder.Header{}, yamux.Header{}, wirekind.Unknown},
		{"TLS after frames", 24, Smux, h("\x16\x03\x01\x02\x00\x01\x00\x01"), yamux.Header{}, wirekind.Unknown},
	} {
		f := &FramingInfo{Offset: c.offset, Proto: c.proto, Header: c.h, YamuxHeader: c.yh, Code: decoder.BadVersion}
		if got := f.NotMux(); got != c.want {
			t.Errorf("%s: NotMux %v, want %v", c.name, got, c.want)
		}
		r := &Record{Kind: FramingViolation, Offset: c.offset, Proto: c.proto, Header: c.h, YamuxHeader: c.yh}
		if got, text := r.NotMux(), r.NotMuxText(); got != c.want || (text == "") != (c.want == wirekind.Unknown) {
			t.Errorf("%s: record NotMux %v %q, want %v", c.name, got, text, c.want)
		}
	}
}
