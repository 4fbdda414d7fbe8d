package resync

// Progress is how far a decoder is into its frame in progress, and what
// Gaps lost of its payload: the bookkeeping Framer.Lose and Framer.Drop
// rest on, kept once for both decoders. A decoder holds one as a field,
// not embedded, so that these methods stay out of its API. The zero value
// is no frame in progress.
type Progress struct {
	Header int   // header bytes collected
	Got    int64 // payload bytes that came, or were lost (Lose)
	lost   int64 // of Got, the bytes Gaps lost
	seen   int64 // while lost > 0: the payload bytes that came before the first lost one
}

// Came returns how many of the frame's bytes came: its header's and its
// payload's, less those lost.
func (p *Progress) Came() int64 { return int64(p.Header) + p.Got - p.lost }

// Lost returns how many of the payload's bytes Gaps lost.
func (p *Progress) Lost() int64 { return p.lost }

// Lose takes n bytes lost inside a payload of length bytes when the
// frame's header is whole (headerSize bytes) and at most n of the
// payload's bytes are still to come: they count in Got as if they came,
// and it returns true. Otherwise it changes nothing and returns false.
func (p *Progress) Lose(n int64, headerSize int, length int64) bool {
	if p.Header < headerSize || n > length-p.Got {
		return false
	}
	if p.lost == 0 {
		p.seen = p.Got
	}
	p.lost += n
	p.Got += n
	return true
}

// Whole reports whether a Gap ended the frame, whose payload is length
// bytes: all its bytes came or were lost, some were lost, and the
// decoder has not framed it yet.
func (p *Progress) Whole(length int64) bool { return p.lost > 0 && p.Got == length }

// Kept returns how many of the first keep payload bytes the frame keeps:
// all of them, or, once bytes were lost, those that came before the first
// lost one.
func (p *Progress) Kept(keep int64) int64 {
	if p.lost > 0 {
		return min(keep, p.seen)
	}
	return keep
}

// Drop abandons the frame, whose payload is length bytes, and returns how
// many of its bytes came, unless a Gap ended it (Whole): that one stays,
// for the decoder to frame, and whole is true.
func (p *Progress) Drop(length int64) (came int64, whole bool) {
	if p.Whole(length) {
		return 0, true
	}
	came = p.Came()
	p.Reset()
	return came, false
}

// Reset leaves no frame in progress.
func (p *Progress) Reset() { *p = Progress{} }
