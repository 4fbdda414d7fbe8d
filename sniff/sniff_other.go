//go:build !linux

package sniff

import (
	"context"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
)

// Handle is a live capture; on this system there is none.
type Handle struct{}

// Open fails: live capture uses AF_PACKET, which only Linux has.
func Open(ctx context.Context, iface string, f capture.Filter) (*Handle, error) {
	return nil, errors.New("sniff: live capture needs Linux (AF_PACKET); capture with tcpdump -w FILE and use muxtop read FILE")
}

// OpenBuffer fails as Open does.
func OpenBuffer(ctx context.Context, iface string, f capture.Filter, buffer int) (*Handle, error) {
	return Open(ctx, iface, f)
}

// memory returns 0: unknown here.
func memory() uint64 { return 0 }

// Buffer returns 0.
func (h *Handle) Buffer() int { return 0 }

// ReadPacketData never returns a packet.
func (h *Handle) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, eof
}

// LinkType is Ethernet.
func (h *Handle) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// Dropped returns 0.
func (h *Handle) Dropped() uint64 { return 0 }

// Close does nothing.
func (h *Handle) Close() {}
