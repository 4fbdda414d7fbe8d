package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestAttachTLSNotMux: `muxtop attach` in front of a real TLS server, its
// client a real TLS client: a healthy service that speaks no mux. Each
// direction's first bytes are a TLS record, a BAD_VERSION at offset 0.
// Before, each violation line claimed smux's reaction, which no end
// there has, and the summary counted them as smux framing violations:
//
//	→ VIOLATION BAD_VERSION at offset 0: bad version 22 (smux speaks 1 or 2); smux stops reading the session; stream reads fail with "invalid protocol"; …
//	violations 2 framing, 0 anomalies: BAD_VERSION 2
//
// Now each line says what the bytes are, and they are counted as not a
// mux, in the plain and the JSON output.
func TestAttachTLSNotMux(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "https://")
	for _, output := range []string{"plain", "json"} {
		t.Run(output, func(t *testing.T) {
			a := runAttach(t, up, "--output", output)
			getHello(t, "https://"+a.addr+"/")
			violation := "VIOLATION"
			if output == "json" {
				violation = `"type":"violation"`
			}
			smuxtest.Eventually(t, "both directions' violations", func() bool {
				return strings.Count(a.stdout.String(), violation) == 2
			})
			a.stop(t)
			out := a.stdout.String()
			if strings.Contains(out, "smux stops reading") {
				t.Errorf("a line claims smux's reaction where no end speaks smux:\n%s", out)
			}
			var want []*regexp.Regexp
			switch output {
			case "plain":
				want = []*regexp.Regexp{
					regexp.MustCompile(`→ VIOLATION BAD_VERSION at offset 0: bad version 22 \(smux speaks 1 or 2\); not a mux: the client's first bytes are TLS, not smux\n`),
					regexp.MustCompile(`← VIOLATION BAD_VERSION at offset 0: bad version 22 \(smux speaks 1 or 2\); not a mux: the server's first bytes are TLS, not smux\n`),
					regexp.MustCompile(`\n  violations 0 framing, 0 anomalies; not a mux 2 \(`),
				}
			case "json":
				want = []*regexp.Regexp{
					regexp.MustCompile(`"type":"violation".*"dir":"c2s","offset":0,"code":"BAD_VERSION".*"not_mux":"tls"}`),
					regexp.MustCompile(`"type":"violation".*"dir":"s2c","offset":0,"code":"BAD_VERSION".*"not_mux":"tls"}`),
					regexp.MustCompile(`"type":"summary".*"violations":0,.*"by_code":\{\},.*"not_mux":2`),
				}
			}
			for _, re := range want {
				if !re.MatchString(out) {
					t.Errorf("no line matches %s in:\n%s", re, out)
				}
			}
		})
	}
}

// getHello GETs url, a server behind attach that answers "hello", over
// a new connection (a TLS one, its certificate not checked, for https),
// and fails t unless the answer came through whole.
func getHello(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "hello" {
		t.Fatalf("through attach: %q, %v", body, err)
	}
}
