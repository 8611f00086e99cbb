package devserver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/token"
	"github.com/kbpress/kb/internal/web"
)

// noStore is a web.Store the static pages never call.
type noStore struct{ web.Store }

const testPage = `<!DOCTYPE html><html lang="pl"><head><title>Poradnik</title></head><body><main><h1>Poradnik</h1></main></BODY></html>`

// newSite is the real public handler (package web) on a publish dir with
// a page, its precompressed siblings, a stylesheet and a 404 page.
func newSite(t *testing.T) *web.Handler {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := []byte(testPage + strings.Repeat("<!-- padding so the page is worth compressing -->\n", 40))
	write("poradniki/a/index.html", page)
	var br, gz bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write(page)
	bw.Close()
	gw := gzip.NewWriter(&gz)
	gw.Write(page)
	gw.Close()
	write("poradniki/a/index.html.br", br.Bytes())
	write("poradniki/a/index.html.gz", gz.Bytes())
	write("style.css", []byte("body{color:#000}"))
	write("404.html", []byte(`<!DOCTYPE html><html lang="pl"><head><title>404</title></head><body><h1>Nie ma takiej strony</h1></body></html>`))
	signer, err := token.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Deps{Store: noStore{}, Signer: signer, Config: &config.Config{BaseURL: "http://127.0.0.1/"},
		Logger: slog.New(slog.DiscardHandler)}, web.Options{PublishDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInjection: every HTML answer gets the script (and the draft
// stylesheet) whatever encoding the browser accepts, as plain text with
// no validator a cached page without the script could match; other
// answers pass untouched.
func TestInjection(t *testing.T) {
	site := newSite(t)
	dev := New(site, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	direct := get(t, site, http.MethodGet, "/poradniki/a/", map[string]string{"Accept-Encoding": "br"})
	if direct.Header.Get("Content-Encoding") != "br" || direct.Header.Get("Etag") == "" {
		t.Fatalf("the site itself should answer br with an ETag: %v", direct.Header)
	}
	// A browser that cached the page from kb serve without --watch.
	etag := get(t, site, http.MethodGet, "/poradniki/a/", nil).Header.Get("Etag")
	for _, tc := range []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		status int
	}{
		{"identity", http.MethodGet, "/poradniki/a/", nil, 200},
		{"gzip", http.MethodGet, "/poradniki/a/", map[string]string{"Accept-Encoding": "gzip"}, 200},
		{"br", http.MethodGet, "/poradniki/a/", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"}, 200},
		{"identity refused", http.MethodGet, "/poradniki/a/", map[string]string{"Accept-Encoding": "br;q=1, identity;q=0"}, 200},
		{"stale cached copy", http.MethodGet, "/poradniki/a/", map[string]string{"Accept-Encoding": "br", "If-None-Match": etag}, 200},
		{"not found page", http.MethodGet, "/nie-ma/", map[string]string{"Accept-Encoding": "br"}, 404},
		{"head", http.MethodHead, "/poradniki/a/", map[string]string{"Accept-Encoding": "br"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, dev, tc.method, tc.path, tc.hdr)
			b := body(t, res)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if ce := res.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding %q: the script cannot be in an encoded body", ce)
			}
			if res.Header.Get("Etag") != "" || res.Header.Get("Last-Modified") != "" || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("validators or caching on a rewritten page: %v", res.Header)
			}
			if tc.method == http.MethodHead {
				if b != "" {
					t.Error("HEAD has a body")
				}
				return
			}
			if !strings.Contains(b, `<script src="/__livereload.js" data-build="`) || !strings.Contains(strings.ToLower(b), `defer></script></body>`) {
				t.Errorf("no script before </body>:\n%s", b)
			}
			if !strings.Contains(b, `<link rel="stylesheet" href="/__dev.css"></head>`) {
				t.Error("no dev stylesheet before </head>")
			}
			if cl := res.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(b))
			}
		})
	}
	res := get(t, dev, http.MethodGet, "/style.css", map[string]string{"Accept-Encoding": "br"})
	if b := body(t, res); b != "body{color:#000}" || res.Header.Get("Etag") == "" {
		t.Errorf("a stylesheet was rewritten: %q %v", b, res.Header)
	}
	if got := body(t, get(t, site, http.MethodGet, "/poradniki/a/", nil)); strings.Contains(got, "__livereload") {
		t.Error("the site without the dev handler has the script")
	}
	if res := get(t, site, http.MethodGet, LiveReloadPath, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("%s without the dev handler: %d, want 404", LiveReloadPath, res.StatusCode)
	}
}

// stream is one live reload client.
type stream struct {
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

func connect(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+LiveReloadPath, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	return &stream{res: res, r: bufio.NewReader(res.Body), cancel: cancel}
}

// next reads the next event or comment block.
func (s *stream) next(t *testing.T) string {
	t.Helper()
	var block []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream: %v (read %q)", err, block)
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			return strings.Join(block, "\n")
		}
		block = append(block, line)
	}
}

// TestLiveReload: every open page gets an event after each rebuild,
// failed ones too; idle streams get heartbeats; the build a page was
// rendered in is the one a stream says hello with.
func TestLiveReload(t *testing.T) {
	dev := New(newSite(t), nil, Options{Heartbeat: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(dev)
	defer srv.Close()
	defer dev.Close()

	page := body(t, get(t, dev, http.MethodGet, "/poradniki/a/", nil))
	var tabs []*stream
	for range 3 {
		s := connect(t, srv.URL)
		hello := s.next(t)
		if !strings.Contains(hello, "event: hello\ndata: "+dev.buildID()) || !strings.Contains(page, `data-build="`+dev.buildID()+`"`) {
			t.Fatalf("hello %q does not name the page's build", hello)
		}
		tabs = append(tabs, s)
	}
	if n := dev.Clients(); n != 3 {
		t.Fatalf("%d clients, want 3", n)
	}
	dev.Built(nil)
	for i, s := range tabs {
		if ev := s.next(t); !strings.Contains(ev, "event: reload") || !strings.Contains(ev, `"ok":true`) {
			t.Errorf("tab %d after a rebuild: %q", i, ev)
		}
	}
	dev.Failed(Failure{Message: "zepsute"})
	for i, s := range tabs {
		if ev := s.next(t); !strings.Contains(ev, "event: reload") || !strings.Contains(ev, `"ok":false`) {
			t.Errorf("tab %d after a failed rebuild: %q", i, ev)
		}
	}
	// Two rebuilds in a row: the newest arrives, at the latest as the
	// second event (the stream may have taken the first already; one not
	// yet taken is replaced).
	dev.Built(nil)
	dev.Built(nil)
	want := `"build":"` + dev.buildID() + `"`
	if ev := tabs[0].next(t); !strings.Contains(ev, want) {
		if ev = tabs[0].next(t); !strings.Contains(ev, want) {
			t.Errorf("after two rebuilds: %q, want the newest (%s)", ev, want)
		}
	}

	beat := New(newSite(t), nil, Options{Heartbeat: time.Millisecond})
	bsrv := httptest.NewServer(beat)
	defer bsrv.Close()
	s := connect(t, bsrv.URL)
	s.next(t) // hello
	if hb := s.next(t); hb != ": ping" {
		t.Errorf("heartbeat %q", hb)
	}
	beat.Close()
}

// TestLiveReloadReleases: a closed tab and Close free their streams; no
// goroutine is left waiting.
func TestLiveReloadReleases(t *testing.T) {
	dev := New(newSite(t), nil, Options{Heartbeat: time.Hour})
	released := make(chan struct{}, 10)
	dev.released = func() { released <- struct{}{} }
	srv := httptest.NewServer(dev)
	defer srv.Close()

	a, b := connect(t, srv.URL), connect(t, srv.URL)
	a.next(t)
	b.next(t)
	a.cancel() // the tab closes
	<-released
	if n := dev.Clients(); n != 1 {
		t.Fatalf("%d clients after one left, want 1", n)
	}
	dev.Close() // the server shuts down
	<-released
	if n := dev.Clients(); n != 0 {
		t.Fatalf("%d clients after Close, want 0", n)
	}
	if _, err := b.r.ReadString('\n'); err != io.EOF {
		t.Errorf("stream after Close: %v, want EOF", err)
	}
}

// TestOverlay: while the build is broken, pages show the error (escaped,
// verbatim, with the file and line) and the script, assets and the API
// still answer; the next good build brings the page back.
func TestOverlay(t *testing.T) {
	dev := New(newSite(t), nil, Options{})
	msg := "yaml: line 3: did not find expected key <b>\"x\"</b>\n  druga linia"
	dev.Failed(Failure{File: "content/poradniki/a.md", Line: 3, Column: 7, Message: msg})
	for _, p := range []string{"/", "/poradniki/a/", "/poradniki/a/index.html", "/nie-ma"} {
		res := get(t, dev, http.MethodGet, p, nil)
		b := body(t, res)
		if res.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", p, res.StatusCode)
		}
		for _, want := range []string{
			"<h1>Nie udało się zbudować strony</h1>", `<code class="kb-dev-file">content/poradniki/a.md</code>`,
			"<dt>Wiersz</dt><dd>3</dd>", "<dt>Kolumna</dt><dd>7</dd>",
			"yaml: line 3: did not find expected key &lt;b&gt;&#34;x&#34;&lt;/b&gt;\n  druga linia",
			`<script src="/__livereload.js" data-build="`, `lang="pl"`,
		} {
			if !strings.Contains(b, want) {
				t.Errorf("%s: error page lacks %q", p, want)
			}
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", p, res.Header)
		}
	}
	if res := get(t, dev, http.MethodGet, "/style.css", nil); res.StatusCode != http.StatusOK {
		t.Errorf("stylesheet while broken: %d", res.StatusCode)
	}
	if res := get(t, dev, http.MethodGet, "/api/nic", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("API while broken: %d, want the API's own 404", res.StatusCode)
	}
	dev.Built(nil)
	res := get(t, dev, http.MethodGet, "/poradniki/a/", nil)
	if b := body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, "<h1>Poradnik</h1>") {
		t.Errorf("after a good build: %d\n%s", res.StatusCode, b)
	}
}

// TestEmailPreview renders the email through the real templates.
func TestEmailPreview(t *testing.T) {
	tpl, err := emails.New(emails.Site{Title: "Wiedza", BaseURL: "http://127.0.0.1:8080/", FirmName: "Saldo sp. z o.o.",
		FirmAddress: "ul. Prosta 1, 00-001 Warszawa", PrivacyURL: "http://127.0.0.1:8080/polityka-prywatnosci/", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	g := guide.Guide{Slug: "zalegla-faktura", Title: "Rozmowa o zaległej fakturze", Description: "Jak poprowadzić rozmowę o zaległej fakturze, żeby klient zapłacił i został.",
		Permalink: "http://127.0.0.1:8080/poradniki/zalegla-faktura/", Date: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		NewsletterSubject: "Klient nie płaci? Tak poprowadź rozmowę", Newsletter: true, WordCount: 9,
		Markdown: "## Zanim zadzwonisz\n\nSprawdź **saldo** klienta.\n"}
	dev := New(newSite(t), []guide.Guide{g}, Options{BaseURL: "http://127.0.0.1:8080/", Emails: tpl})

	idx := body(t, get(t, dev, http.MethodGet, "/__preview/email/", nil))
	if !strings.Contains(idx, `<a href="/__preview/email/zalegla-faktura">Rozmowa o zaległej fakturze</a>`) {
		t.Errorf("index lacks the guide:\n%s", idx)
	}
	frame := get(t, dev, http.MethodGet, "/__preview/email/zalegla-faktura", nil)
	fb := body(t, frame)
	for _, want := range []string{"Klient nie płaci? Tak poprowadź rozmowę", `src="/__preview/email/zalegla-faktura/email.html"`,
		`aria-current="page">Wersja HTML`, "Dzień dobry!", `data-build="`} {
		if !strings.Contains(fb, want) {
			t.Errorf("frame page lacks %q", want)
		}
	}
	text := body(t, get(t, dev, http.MethodGet, "/__preview/email/zalegla-faktura?part=text", nil))
	for _, want := range []string{`aria-current="page">Wersja tekstowa`, `<pre class="kb-dev-text">`, "Zanim zadzwonisz",
		"http://127.0.0.1:8080/__preview/przykladowy-link/wypisz"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q", want)
		}
	}
	if strings.Contains(text, "%recipient.") || strings.Contains(text, "<iframe") {
		t.Error("text part: recipient variables left or the HTML frame shown")
	}
	res := get(t, dev, http.MethodGet, "/__preview/email/zalegla-faktura/email.html", nil)
	html := body(t, res)
	if !strings.Contains(html, "<strong>saldo</strong>") || strings.Contains(html, "%recipient.") || strings.Contains(html, "__livereload") {
		t.Errorf("email HTML:\n%s", html)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("email HTML CSP %q", csp)
	}
	// Unknown, traversing, encoded and oversized slugs name no guide.
	hostile := []string{"/__preview/email/nie-ma", "/__preview/email/zalegla-faktura/inne",
		"/__preview/email/..%2f..%2fconfig.toml", "/__preview/email/%2e%2e/%2e%2e/etc/passwd",
		"/__preview/email/zalegla-faktura%00", "/__preview/email/" + strings.Repeat("a", 5000)}
	for _, p := range hostile {
		res := get(t, dev, http.MethodGet, p, nil)
		if b := body(t, res); res.StatusCode != http.StatusNotFound || !strings.Contains(b, "Nie ma takiej strony") {
			t.Errorf("%s: %d\n%s", p, res.StatusCode, b)
		}
	}
	if res := get(t, dev, http.MethodGet, "/__preview/przykladowy-link/wypisz", nil); res.StatusCode != http.StatusOK {
		t.Errorf("sample link: %d", res.StatusCode)
	}
	// The preview follows the latest good build.
	dev.Built(nil)
	if res := get(t, dev, http.MethodGet, "/__preview/email/zalegla-faktura", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("a guide gone from the build still previews: %d", res.StatusCode)
	}
}

func TestInjectTags(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<html><head></head><body>x</body></html>", `<html><head>` + styleTag + `</head><body>x` + scriptTag("b") + `</body></html>`},
		{"<p>no body</p>", `<p>no body</p>` + scriptTag("b")},
		{"<HEAD></HEAD><BODY>x</BODY>", `<HEAD>` + styleTag + `</HEAD><BODY>x` + scriptTag("b") + `</BODY>`},
	} {
		if got := string(injectTags([]byte(tc.in), "b")); got != tc.want {
			t.Errorf("injectTags(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
