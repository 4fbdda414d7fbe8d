package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/muxtop/muxtop/printable"
)

// isURL reports whether read's argument a is a URL: an http:// or
// https:// one is a live capture a program serves (pcapout.Live), read as
// - reads a pipe; one of another scheme (ftp://), for openURL to refuse
// in words, unless a file of that name exists.
func isURL(a string) bool {
	l := strings.ToLower(a)
	if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		return true
	}
	scheme, _, ok := strings.Cut(l, "://")
	if !ok || scheme == "" || strings.IndexFunc(scheme, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '+' && r != '-' && r != '.'
	}) >= 0 {
		return false
	}
	_, err := os.Stat(a)
	return err != nil
}

// urlCapture is the answer to a GET of a capture's URL, brought to read
// down a pipe, so that read reads it as it reads standard input: its
// reads are interrupted by a deadline (q, an interrupt, --duration), and
// its capture's clock stands still while nothing comes.
type urlCapture struct {
	url    string   // as read says it: its password, if any, redacted
	r      *os.File // the pipe's read end: what read reads
	ctype  string   // the answer's Content-Type
	cancel context.CancelFunc
	tr     *http.Transport
	done   chan struct{} // closed when the copy into the pipe has ended

	mu   sync.Mutex
	head []byte // the answer's first bytes, to say what came where no capture did
}

// headMax is how many of an answer's first bytes are kept to say what it
// is when it is no capture: enough for firstLine's lineMax characters of
// up to 4 bytes each, so that its cut, on a character, is the one that
// applies.
const headMax = 4*lineMax + 64

// lineMax is how many characters of a line from the wire an error quotes.
const lineMax = 80

// shownURL returns raw as read says it: with its password, if any,
// redacted (url.URL.Redacted), even where raw does not parse: then the
// user information before the host, whatever it holds, is.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	auth, path, slash := strings.Cut(rest, "/")
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		auth = "xxxxx" + auth[i:]
	}
	if slash {
		return scheme + "://" + auth + "/" + path
	}
	return scheme + "://" + auth
}

// openURL GETs the capture at raw, until ctx ends if it has not answered
// by then. What the user can get wrong is one line: nothing listens
// there, the server answers another status than 200. If no answer has
// come after waitNoticeAfter, it says on notice that it waits, as read -
// says a quiet pipe: a program stopped (SIGSTOP) still has its
// connections accepted by the kernel, and never answers.
func openURL(ctx context.Context, raw string, notice io.Writer) (*urlCapture, error) {
	u, err := url.Parse(raw)
	if err == nil && u.Scheme != "http" && u.Scheme != "https" {
		return nil, usageError{fmt.Errorf("read %s: read fetches http:// and https:// URLs only: fetch it with another tool, such as curl %s | muxtop read -", shownURL(raw), shownURL(raw))}
	}
	if err != nil || u.Host == "" {
		return nil, usageError{fmt.Errorf("read %s: not a URL read can fetch: want http://HOST:PORT/PATH", shownURL(raw))}
	}
	shown := u.Redacted()
	// The request lasts as long as the read, which ctx does not: ctx
	// bounds the wait for the answer only.
	reqCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	fail := func(err error) (*urlCapture, error) {
		cancel()
		tr.CloseIdleConnections()
		return nil, err
	}
	var connected atomic.Bool
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, raw, nil)
	if err != nil {
		return fail(usageError{fmt.Errorf("read %s: %w", shown, err)})
	}
	req.Header.Set("Accept", "application/x-pcapng, application/vnd.tcpdump.pcap;q=0.9, */*;q=0.1")
	answered, said := make(chan struct{}), make(chan struct{})
	go func() { // ends when Do returns, having said it waits or not
		defer close(said)
		t := time.NewTimer(waitNoticeAfter)
		defer t.Stop()
		select {
		case <-t.C:
			if connected.Load() {
				fmt.Fprintf(notice, "muxtop: read: waiting for %s to answer: connected, no answer yet\n", shown)
			} else {
				fmt.Fprintf(notice, "muxtop: read: waiting for %s to answer: connecting to %s\n", shown, u.Host)
			}
		case <-answered:
		}
	}()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	close(answered)
	<-said
	if !stop() {
		if err == nil {
			resp.Body.Close()
		}
		return fail(ctx.Err())
	}
	if err != nil {
		return fail(dialFailed(shown, u, err))
	}
	if resp.StatusCode != http.StatusOK {
		said := answerLine(resp.Body)
		resp.Body.Close()
		if said != "" {
			said = fmt.Sprintf(" (it says %q)", said)
		}
		return fail(fmt.Errorf("read %s: the server answered %s%s, not a capture: is the program serving its capture at this path?", shown, firstLine([]byte(resp.Status)), said))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		resp.Body.Close()
		return fail(fmt.Errorf("read %s: %w", shown, err))
	}
	c := &urlCapture{url: shown, r: pr, ctype: resp.Header.Get("Content-Type"), cancel: cancel, tr: tr, done: make(chan struct{})}
	go c.copy(resp.Body, pw) // owned by c: Close ends it and waits
	return c, nil
}

// copy copies the answer into the pipe until either ends; the pipe's
// reader then reads the end of the capture.
func (c *urlCapture) copy(body io.ReadCloser, pw *os.File) {
	defer close(c.done)
	defer body.Close()
	defer pw.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			c.mu.Lock()
			if len(c.head) < headMax {
				c.head = append(c.head, buf[:min(n, headMax-len(c.head))]...)
			}
			c.mu.Unlock()
			if _, err := pw.Write(buf[:n]); err != nil {
				return // the read is over
			}
		}
		if err != nil {
			return
		}
	}
}

// Close ends the request and the copy, and waits for it.
func (c *urlCapture) Close() {
	c.cancel()
	c.r.Close() // a copy blocked on a full pipe returns
	<-c.done
	c.tr.CloseIdleConnections()
}

// notCapture is the error of an answer that pcap.Open could not open
// (err): one that is no capture at all, such as an HTML page, says what
// it is and how it begins; an empty one says so; one that begins as a
// capture does has Open's error.
func (c *urlCapture) notCapture(err error) error {
	c.mu.Lock()
	head := bytes.Clone(c.head)
	c.mu.Unlock()
	if len(head) == 0 {
		return fmt.Errorf("read %s: the server's answer is empty: no capture", c.url)
	}
	for _, m := range [][]byte{{0x0a, 0x0d, 0x0d, 0x0a}, {0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, {0x4d, 0x3c, 0xb2, 0xa1}, {0x1f, 0x8b}} {
		if bytes.HasPrefix(head, m) {
			return fmt.Errorf("read %s: %w", c.url, err)
		}
	}
	what := c.ctype
	if what == "" {
		what = "no Content-Type"
	}
	return fmt.Errorf("read %s: the server's answer is no pcap or pcapng capture (%s, beginning %q): is this the URL the program serves its capture at?", c.url, what, firstLine(head))
}

// dialFailed words a GET of u that got no answer, shown as shown:
// nothing listening is said as such, and so is a connection closed with
// no answer (an ssh -L tunnel with nothing listening at its far end
// accepts, then closes) and a certificate not trusted (a self-signed
// one: curl -k fetches it); other failures with the error alone.
func dialFailed(shown string, u *url.URL, err error) error {
	host := u.Host
	if _, _, e := net.SplitHostPort(host); e != nil {
		host += map[bool]string{true: ":443", false: ":80"}[u.Scheme == "https"]
	}
	var ce *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if why, ok := lookupWhy(err, 0); ok {
		return fmt.Errorf("read %s: host %s does not resolve (%s)", shown, u.Hostname(), why)
	}
	if no, plain := notTLS(err); no {
		h := *u
		h.Scheme = "http"
		what := "does not speak TLS (is it plain HTTP?)"
		if plain {
			what = "speaks plain HTTP, not TLS"
		}
		return fmt.Errorf("read %s: the server at %s %s: use %s", shown, host, what, h.Redacted())
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("read %s: nothing listens at %s (connection refused): is the program running, and serving its capture there?", shown, host)
	case errors.As(err, &ce), errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci):
		return fmt.Errorf("read %s: the server's certificate is not trusted (%v): if it is the program's own, self-signed, fetch it with curl -k %s | muxtop read -", shown, unwrapURL(err), shown)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		// net/http's word for a new connection closed before any answer.
		strings.Contains(err.Error(), "server closed idle connection"):
		return fmt.Errorf("read %s: %s closed the connection with no answer: something accepted it and nothing answered, as an ssh -L tunnel does with nothing listening at its far end: is the program running there, and serving its capture?", shown, host)
	}
	return fmt.Errorf("read %s: %v", shown, unwrapURL(err))
}

// unwrapURL returns the error a *url.Error holds, or err: the URL it
// would say, read says already, redacted.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// answerLine returns the first line of an answer's body, short and
// printable, or "".
func answerLine(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, headMax))
	return firstLine(b)
}

// firstLine returns the first line of b, at most lineMax characters, cut
// on a character, printable.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > lineMax {
		s = string([]rune(s)[:lineMax]) + "…"
	}
	return printable.Text(s)
}
