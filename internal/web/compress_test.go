package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/kbpress/kb/internal/precompress"
	"github.com/kbpress/kb/internal/store"
)

func TestNegotiate(t *testing.T) {
	both := []string{codingBrotli, codingGzip}
	for _, tt := range []struct {
		name    string
		header  []string // nil: no Accept-Encoding at all
		offered []string
		want    string // "": 406
	}{
		{"no header", nil, both, codingIdentity},
		{"empty header", []string{""}, both, codingIdentity},
		{"browser", []string{"gzip, deflate, br, zstd"}, both, codingBrotli},
		{"gzip only", []string{"gzip"}, both, codingGzip},
		{"x-gzip alias", []string{"x-gzip"}, both, codingGzip},
		{"case-insensitive", []string{"GZIP, BR"}, both, codingBrotli},
		{"q prefers gzip", []string{"br;q=0.5, gzip;q=0.8"}, both, codingGzip},
		{"q with spaces", []string{"br ; q=0.2 , gzip ; q=0.9"}, both, codingGzip},
		{"tie goes to br", []string{"gzip;q=0.8, br;q=0.8"}, both, codingBrotli},
		{"br refused", []string{"br;q=0, gzip"}, both, codingGzip},
		{"only br offered", []string{"gzip, br"}, []string{codingBrotli}, codingBrotli},
		{"nothing offered", []string{"gzip, br"}, nil, codingIdentity},
		{"unknown coding only", []string{"zstd"}, both, codingIdentity},
		{"star", []string{"*"}, both, codingBrotli},
		{"star below listed", []string{"gzip;q=1, *;q=0.1"}, both, codingGzip},
		{"identity preferred by q", []string{"gzip;q=0.5, identity"}, both, codingIdentity},
		{"identity;q=0 with gzip", []string{"identity;q=0, gzip"}, both, codingGzip},
		{"identity;q=0, nothing offered", []string{"identity;q=0, gzip"}, nil, ""},
		{"star;q=0 alone", []string{"*;q=0"}, both, ""},
		{"star;q=0, identity allowed", []string{"*;q=0, identity"}, both, codingIdentity},
		{"star;q=0 but gzip", []string{"gzip, *;q=0"}, both, codingGzip},
		{"all refused", []string{"br;q=0, gzip;q=0, identity;q=0"}, both, ""},
		{"malformed q is 0", []string{"br;q=2, gzip"}, both, codingGzip},
		{"two header lines", []string{"br;q=0", "gzip"}, both, codingGzip},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.header {
				r.Header.Add("Accept-Encoding", v)
			}
			got, ok := negotiate(r, tt.offered...)
			if !ok {
				got = ""
			}
			if got != tt.want {
				t.Errorf("negotiate(%q, %v) = %q, %v; want %q", tt.header, tt.offered, got, ok, tt.want)
			}
		})
	}
}

// decodeBody undoes the response's Content-Encoding.
func decodeBody(t testing.TB, res *http.Response, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch ce := res.Header.Get("Content-Encoding"); ce {
	case "":
		return body
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", ce)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", res.Header.Get("Content-Encoding"), err)
	}
	return out
}

// staticSite copies a sample of the real built site (public/, when it was
// built) into e's publish dir, adds synthetic files, and precompresses it.
// It returns the URL paths and their files' contents.
func staticSite(t *testing.T, e *env) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"/poradniki/duzy/":        []byte("<!DOCTYPE html><title>Duży</title>" + strings.Repeat("<p>Zaległa faktura: rozmowa krok po kroku.</p>\n", 200)),
		"/" + fingerprintCSS:      bytes.Repeat([]byte("body{color:#123;margin:0 auto}\n"), 100),
		"/search-index.json":      bytes.Repeat([]byte(`{"title":"Faktura","url":"/poradniki/faktura/"},`), 200),
		"/poradniki/index.xml":    []byte("<rss>" + strings.Repeat("<item><title>Faktura</title></item>", 100) + "</rss>"),
		"/favicon.svg":            []byte("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), // small: no siblings
		"/pliki/archiwum.tar.gz":  []byte("\x1f\x8b not a sibling: the site's own download"),
		"/pliki/notatka.txt":      []byte(strings.Repeat("notatka ", 300)),
		"/pliki/dokument.pdf":     testPDF,
		"/poradniki/maly/":        []byte("<!DOCTYPE html><p>mały</p>"),
		"/poradniki/nieznany.bin": bytes.Repeat([]byte{0}, 4096),
	}
	// The real site, when built: the home page, a guide, the CSS, the
	// search index.
	real := filepath.Join("..", "..", "public")
	if _, err := os.Stat(filepath.Join(real, "index.html")); err == nil {
		for _, rel := range []string{"index.html", "search-index.json", "404.html", "poradniki/index.html", "newsletter/index.html"} {
			if raw, err := os.ReadFile(filepath.Join(real, rel)); err == nil {
				files["/real/"+strings.TrimSuffix(rel, "index.html")] = raw
			}
		}
		if css, _ := filepath.Glob(filepath.Join(real, "css", "*.css")); len(css) > 0 {
			raw, _ := os.ReadFile(css[0])
			files["/real/css/"+filepath.Base(css[0])] = raw
		}
	}
	for p, data := range files {
		rel := strings.TrimPrefix(p, "/")
		if strings.HasSuffix(rel, "/") {
			rel += "index.html"
		}
		writeFile(t, filepath.Join(e.public, filepath.FromSlash(rel)), string(data))
	}
	if _, err := precompress.Dir(e.public, precompress.Options{BrotliLevel: 5, PageBrotliLevel: 5}); err != nil {
		t.Fatal(err)
	}
	return files
}

func doGet(e *env, target string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := e.do(r)
	return w.Result(), w.Body.Bytes()
}

// Every static file, for every Accept-Encoding: decoded, the same bytes;
// Vary on the compressible ones; an ETag per representation, each
// answering If-None-Match with 304; HEAD with the same headers.
func TestStaticPrecompressed(t *testing.T) {
	e := newEnv(t)
	files := staticSite(t, e)
	encodings := []struct {
		accept, want string // want: "" none, "c": compressed as named
	}{
		{"", ""},
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"identity", ""},
		{"br;q=0.1, gzip;q=0.9", "gzip"},
	}
	for p, content := range files {
		t.Run(p, func(t *testing.T) {
			compressible := strings.HasSuffix(p, "/") || precompress.Compressible(p)
			big := len(content) >= precompress.MinSize
			etags := map[string]string{}
			for _, enc := range encodings {
				var hdr []string
				if enc.accept != "" {
					hdr = []string{"Accept-Encoding", enc.accept}
				}
				res, body := doGet(e, p, hdr...)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%q: status %d", enc.accept, res.StatusCode)
				}
				if got := decodeBody(t, res, body); !bytes.Equal(got, content) {
					t.Fatalf("%q (%s): decoded body differs from the file (%d bytes, want %d)",
						enc.accept, res.Header.Get("Content-Encoding"), len(got), len(content))
				}
				want := enc.want
				if !compressible || !big {
					want = ""
				}
				if got := res.Header.Get("Content-Encoding"); got != want {
					t.Errorf("%q: Content-Encoding %q, want %q", enc.accept, got, want)
				}
				if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
					t.Errorf("%q: Content-Length %q, body %d", enc.accept, got, len(body))
				}
				if want != "" && len(body) >= len(content) {
					t.Errorf("%q: %d bytes compressed, %d plain", enc.accept, len(body), len(content))
				}
				if vary := vary(res.Header); compressible != strings.Contains(vary, "Accept-Encoding") {
					t.Errorf("%q: Vary %q (compressible: %v)", enc.accept, vary, compressible)
				}
				if ct := res.Header.Get("Content-Type"); ct == "" || p != "/pliki/archiwum.tar.gz" && (strings.Contains(ct, "gzip") || strings.Contains(ct, "brotli")) {
					t.Errorf("%q: Content-Type %q", enc.accept, ct)
				}
				et := res.Header.Get("Etag")
				if !strings.HasPrefix(et, `"`) || !strings.HasSuffix(et, `"`) {
					t.Fatalf("%q: ETag %q is not strong", enc.accept, et)
				}
				if prev, ok := etags[want]; ok && prev != et {
					t.Errorf("%q: ETag %s, the same representation had %s", enc.accept, et, prev)
				}
				etags[want] = et

				// 304 for the tag, plain and as a weak tag in a list.
				for _, inm := range []string{et, `"x", W/` + et} {
					res, body := doGet(e, p, append(hdr, "If-None-Match", inm)...)
					if res.StatusCode != http.StatusNotModified || len(body) != 0 {
						t.Errorf("%q If-None-Match %s: %d with %d bytes, want 304", enc.accept, inm, res.StatusCode, len(body))
					}
					if compressible && !strings.Contains(vary(res.Header), "Accept-Encoding") {
						t.Errorf("%q: 304 without Vary", enc.accept)
					}
					if res.Header.Get("Etag") != et || res.Header.Get("Content-Encoding") != "" {
						t.Errorf("%q: 304 ETag %q, Content-Encoding %q", enc.accept, res.Header.Get("Etag"), res.Header.Get("Content-Encoding"))
					}
				}

				// HEAD: the GET's headers, no body.
				r := httptest.NewRequest(http.MethodHead, p, nil)
				if enc.accept != "" {
					r.Header.Set("Accept-Encoding", enc.accept)
				}
				hw := e.do(r)
				if hw.Code != http.StatusOK || hw.Body.Len() != 0 {
					t.Errorf("%q HEAD: %d with %d bytes", enc.accept, hw.Code, hw.Body.Len())
				}
				for _, k := range []string{"Content-Encoding", "Content-Length", "Etag", "Content-Type", "Vary"} {
					if hw.Header().Get(k) != res.Header.Get(k) {
						t.Errorf("%q HEAD %s %q, GET %q", enc.accept, k, hw.Header().Get(k), res.Header.Get(k))
					}
				}
			}
			if compressible && big && len(etags) != 3 {
				t.Errorf("ETags %v: want one per representation (identity, br, gzip)", etags)
			}
			for _, a := range etags {
				n := 0
				for _, b := range etags {
					if a == b {
						n++
					}
				}
				if n != 1 {
					t.Errorf("ETags %v are not distinct", etags)
				}
			}
		})
	}
}

func TestStaticFingerprintedImmutable(t *testing.T) {
	e := newEnv(t)
	staticSite(t, e)
	for _, accept := range []string{"br", "gzip", ""} {
		res, _ := doGet(e, "/"+fingerprintCSS, "Accept-Encoding", accept)
		if cc := res.Header.Get("Cache-Control"); cc != cacheFingerprinted {
			t.Errorf("%q: Cache-Control %q", accept, cc)
		}
		if res.Header.Get("Content-Encoding") != accept {
			t.Errorf("%q: Content-Encoding %q", accept, res.Header.Get("Content-Encoding"))
		}
	}
	if res, _ := doGet(e, "/poradniki/duzy/", "Accept-Encoding", "br"); res.Header.Get("Cache-Control") != cacheShort {
		t.Errorf("page Cache-Control %q", res.Header.Get("Cache-Control"))
	}
}

// The siblings are never served under their own names; a .gz of the
// site's own (no source next to it) is an ordinary file.
func TestStaticSiblingNames(t *testing.T) {
	e := newEnv(t)
	staticSite(t, e)
	for _, p := range []string{"/search-index.json.br", "/search-index.json.gz", "/" + fingerprintCSS + ".br", "/poradniki/duzy/index.html.gz"} {
		for _, accept := range []string{"", "br, gzip"} {
			res, body := doGet(e, p, "Accept-Encoding", accept)
			if res.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("site 404")) {
				t.Errorf("%s (%q): %d, want the site's 404", p, accept, res.StatusCode)
			}
			if ce := res.Header.Get("Content-Encoding"); ce != "" && accept == "" {
				t.Errorf("%s: Content-Encoding %q to a client that asked for none", p, ce)
			}
		}
	}
	res, body := doGet(e, "/pliki/archiwum.tar.gz", "Accept-Encoding", "gzip")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "" || !bytes.Contains(body, []byte("site's own")) {
		t.Errorf("own .gz: %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
}

// identity;q=0 with no acceptable sibling: 406 (RFC 9110 §12.5.3 allows
// it); with one: the sibling.
func TestStaticNotAcceptable(t *testing.T) {
	e := newEnv(t)
	staticSite(t, e)
	for _, tt := range []struct {
		path, accept string
		status       int
		encoding     string
	}{
		{"/poradniki/duzy/", "identity;q=0", http.StatusNotAcceptable, ""},
		{"/poradniki/duzy/", "*;q=0", http.StatusNotAcceptable, ""},
		{"/poradniki/duzy/", "identity;q=0, gzip", http.StatusOK, "gzip"},
		{"/poradniki/duzy/", "*;q=0, br", http.StatusOK, "br"},
		{"/poradniki/maly/", "identity;q=0, gzip", http.StatusNotAcceptable, ""}, // too small for siblings
		{"/poradniki/maly/", "zstd", http.StatusOK, ""},
		{"/pliki/dokument.pdf", "identity;q=0", http.StatusOK, ""}, // not compressible: no negotiation
	} {
		res, _ := doGet(e, tt.path, "Accept-Encoding", tt.accept)
		if res.StatusCode != tt.status || res.Header.Get("Content-Encoding") != tt.encoding {
			t.Errorf("%s %q: %d %q, want %d %q", tt.path, tt.accept, res.StatusCode, res.Header.Get("Content-Encoding"), tt.status, tt.encoding)
		}
	}
}

// Ranges are served on the identity representation, also to a client
// that accepts br; a client that refuses identity gets the whole br.
func TestStaticRange(t *testing.T) {
	e := newEnv(t)
	files := staticSite(t, e)
	content := files["/search-index.json"]
	for _, accept := range []string{"", "br, gzip"} {
		res, body := doGet(e, "/search-index.json", "Accept-Encoding", accept, "Range", "bytes=10-19")
		if res.StatusCode != http.StatusPartialContent || res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, content[10:20]) {
			t.Errorf("%q: %d %q %q, want 206 of %q", accept, res.StatusCode, res.Header.Get("Content-Encoding"), body, content[10:20])
		}
		if !strings.Contains(vary(res.Header), "Accept-Encoding") {
			t.Errorf("%q: 206 without Vary", accept)
		}
	}
	res, body := doGet(e, "/search-index.json", "Accept-Encoding", "br, identity;q=0", "Range", "bytes=10-19")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "br" || !bytes.Equal(decodeBody(t, res, body), content) {
		t.Errorf("identity refused: %d %q, want the whole br", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
}

// Between a rebuild and its precompression a sibling older than its
// source is not served.
func TestStaticStaleSibling(t *testing.T) {
	e := newEnv(t)
	staticSite(t, e)
	fresh := []byte(strings.Repeat("<p>nowa treść</p>", 200))
	p := filepath.Join(e.public, "poradniki", "duzy", "index.html")
	writeFile(t, p, string(fresh))
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	res, body := doGet(e, "/poradniki/duzy/", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, fresh) {
		t.Errorf("stale sibling served: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	if _, err := precompress.Dir(e.public, precompress.Options{BrotliLevel: 5, PageBrotliLevel: 5}); err != nil {
		t.Fatal(err)
	}
	res, body = doGet(e, "/poradniki/duzy/", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "br" || !bytes.Equal(decodeBody(t, res, body), fresh) {
		t.Errorf("after precompression: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
}

// The API's pages are compressed on the fly, decode to what an identity
// client gets, and keep their status and headers.
func TestAPICompressedOnTheFly(t *testing.T) {
	e := newEnv(t)
	// The real shell when the site was built: pages as readers get them.
	if raw, err := os.ReadFile(filepath.Join("..", "..", "public", filepath.FromSlash(ShellPath))); err == nil {
		writeFile(t, filepath.Join(e.public, filepath.FromSlash(ShellPath)), string(raw))
		if err := e.h.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	form := func() *http.Request { return formRequest(url.Values{"email": {"zły adres"}}) } // 422 with the form again
	plain := e.do(form())
	if plain.Body.Len() < compressMinSize {
		t.Fatalf("form page is %d bytes, too small for the test", plain.Body.Len())
	}
	for _, accept := range []string{"br", "gzip", "gzip, deflate, br"} {
		r := form()
		r.Header.Set("Accept-Encoding", accept)
		w := e.do(r)
		res := w.Result()
		want := map[bool]string{true: "br", false: "gzip"}[strings.Contains(accept, "br")]
		if res.Header.Get("Content-Encoding") != want || w.Code != plain.Code {
			t.Fatalf("%q: %d %q, want %d %q", accept, w.Code, res.Header.Get("Content-Encoding"), plain.Code, want)
		}
		if got := decodeBody(t, res, w.Body.Bytes()); !bytes.Equal(got, plain.Body.Bytes()) {
			t.Errorf("%q: decoded page differs from the identity page", accept)
		}
		if w.Body.Len() >= plain.Body.Len() || res.Header.Get("Content-Length") != "" {
			t.Errorf("%q: %d bytes (Content-Length %q), plain %d", accept, w.Body.Len(), res.Header.Get("Content-Length"), plain.Body.Len())
		}
		if !strings.Contains(vary(res.Header), "Accept-Encoding") {
			t.Errorf("%q: no Vary", accept)
		}
		assertSecurityHeaders(t, "compressed page", res.Header)
		t.Logf("%s: form page %d → %d bytes", want, plain.Body.Len(), w.Body.Len())
	}
	if !strings.Contains(vary(plain.Header()), "Accept-Encoding") || plain.Header().Get("Content-Encoding") != "" {
		t.Errorf("identity page: Vary %q, Content-Encoding %q", vary(plain.Header()), plain.Header().Get("Content-Encoding"))
	}
}

// The whitepaper download (a PDF, streamed through slowLinkWriter, with
// ranges) is never compressed.
func TestWhitepaperNotCompressed(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.gated = true })
	sub, _, err := e.store.Subscribe(t.Context(), store.SignupRequest{Email: "ewa@example.pl", WantsWhitepaper: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if sub, _, err = e.store.Confirm(t.Context(), sub.Link(), "", t0, t0); err != nil {
		t.Fatal(err)
	}
	download := relative(t, e.links.Whitepaper(sub.ID, sub.LinkKey, t0.Add(time.Hour)))
	for _, rng := range []string{"", "bytes=0-9"} {
		res, body := doGet(e, download, "Accept-Encoding", "br, gzip", "Range", rng)
		want := testPDF
		if rng != "" {
			want = testPDF[:10]
		}
		if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
			t.Errorf("range %q: %d, Content-Encoding %q, %d bytes", rng, res.StatusCode, res.Header.Get("Content-Encoding"), len(body))
		}
	}
}

// compressResponses on its own: what it leaves alone.
func TestCompressResponsesLeavesAlone(t *testing.T) {
	big := strings.Repeat("<p>treść</p>", 200)
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		method  string
		want    string // Content-Encoding
		body    string
	}{
		{"big html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, big)
		}, "GET", "gzip", big},
		{"big html in small writes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			for i := 0; i < 200; i++ {
				_, _ = io.WriteString(w, "<p>treść</p>")
			}
		}, "GET", "gzip", big},
		{"small html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<p>krótko</p>")
		}, "GET", "", "<p>krótko</p>"},
		{"already encoded", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "zstd")
			_, _ = io.WriteString(w, big)
		}, "GET", "zstd", big},
		{"pdf", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = io.WriteString(w, big)
		}, "GET", "", big},
		{"no content", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNoContent)
		}, "GET", "", ""},
		{"not modified", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotModified)
		}, "GET", "", ""},
		{"HEAD", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "5000")
		}, "HEAD", "", ""},
		{"streamed with flushes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			for i := 0; i < 200; i++ {
				_, _ = io.WriteString(w, "<p>treść</p>")
				w.(http.Flusher).Flush()
			}
		}, "GET", "", big}, // decided at the first flush, with 13 bytes: identity
		{"disabled", func(w http.ResponseWriter, _ *http.Request) {
			disableCompression(w)
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, big)
		}, "GET", "", big},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := (&Handler{}).compressResponses(tt.handler)
			r := httptest.NewRequest(tt.method, "/api/x", nil)
			r.Header.Set("Accept-Encoding", "gzip")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			if got := res.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.want)
			}
			body := w.Body.Bytes()
			if tt.want == "gzip" {
				body = decodeBody(t, res, body)
			}
			if string(body) != tt.body {
				t.Errorf("body %d bytes, want %d", len(body), len(tt.body))
			}
		})
	}
}

// A strong ETag of a handler becomes weak once compressed on the fly, and
// still answers If-None-Match.
func TestCompressResponsesWeakensETag(t *testing.T) {
	content := strings.NewReader(strings.Repeat("<p>treść</p>", 200))
	h := (&Handler{}).compressResponses(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "x.html", time.Time{}, content)
	}))
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	r.Header.Set("Accept-Encoding", "br")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Content-Encoding") != "br" || w.Header().Get("Etag") != `W/"v1"` {
		t.Fatalf("Content-Encoding %q, ETag %q", w.Header().Get("Content-Encoding"), w.Header().Get("Etag"))
	}
	r.Header.Set("If-None-Match", `W/"v1"`)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("If-None-Match: %d, %d bytes, Content-Encoding %q", w.Code, w.Body.Len(), w.Header().Get("Content-Encoding"))
	}
}

// TestTransferSizes measures the bytes a client transfers for the real
// home page and search index (public/, when built), by encoding.
func TestTransferSizes(t *testing.T) {
	real := filepath.Join("..", "..", "public")
	if _, err := os.Stat(filepath.Join(real, "index.html")); err != nil {
		t.Skip("no built site in public/")
	}
	e := newEnv(t)
	for _, rel := range []string{"index.html", "search-index.json"} {
		raw, err := os.ReadFile(filepath.Join(real, rel))
		if err != nil {
			t.Skip(err)
		}
		writeFile(t, filepath.Join(e.public, "m", rel), string(raw))
	}
	if _, err := precompress.Dir(e.public, precompress.Options{}); err != nil {
		t.Fatal(err)
	}
	for p, rel := range map[string]string{"/m/": "index.html", "/m/search-index.json": "search-index.json"} {
		var line []string
		for _, accept := range []string{"", "gzip", "br"} {
			res, body := doGet(e, p, "Accept-Encoding", accept)
			if !bytes.Equal(decodeBody(t, res, body), mustRead(t, filepath.Join(real, rel))) {
				t.Errorf("%s %q: decoded body differs", p, accept)
			}
			line = append(line, map[string]string{"": "identity"}[accept]+accept+"="+strconv.Itoa(len(body)))
		}
		t.Logf("%s: %s bytes", p, strings.Join(line, " "))
	}
}

// vary is every Vary value of h.
func vary(h http.Header) string { return strings.Join(h.Values("Vary"), ", ") }

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
