package live

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// NoticeHandler returns a slog.Handler that records warnings and errors
// as notices of r, which every front end shows: the message, then each
// attribute as "; key=value". Lower levels are dropped; groups are
// flattened.
func NoticeHandler(r *Registry) slog.Handler { return noticeHandler{reg: r} }

type noticeHandler struct {
	reg   *Registry
	attrs []slog.Attr
}

func (h noticeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h noticeHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, "; %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.reg.Notice(r.Time, b.String())
	return nil
}

func (h noticeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return noticeHandler{reg: h.reg, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h noticeHandler) WithGroup(string) slog.Handler { return h }
