package web

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"

	"github.com/kbpress/kb/internal/precompress"
)

// Content codings kb sends, in the server's order of preference.
const (
	codingBrotli   = precompress.Brotli
	codingGzip     = precompress.Gzip
	codingIdentity = "identity"
)

// compressMinSize: smaller dynamic answers are sent as they are.
const compressMinSize = precompress.MinSize

// negotiate picks the content coding for a request's Accept-Encoding
// (RFC 9110 §12.5.3) among offered (in the server's order of preference)
// and identity. No header: identity (a client that sends none may not
// decode anything). Codings are case-insensitive, x-gzip is gzip, "*"
// stands for every coding not listed, q=0 excludes, the highest q wins and
// a tie goes to the server's order, with identity last. identity is
// acceptable unless excluded (identity;q=0, or *;q=0 with identity not
// listed); ok is false when nothing offered is acceptable and identity is
// excluded: the caller answers 406 or sends identity anyway.
func negotiate(r *http.Request, offered ...string) (coding string, ok bool) {
	values := r.Header.Values("Accept-Encoding")
	if len(values) == 0 {
		return codingIdentity, true
	}
	q := map[string]float64{}
	star := -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if name == "x-gzip" {
				name = codingGzip
			}
			weight := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, found := strings.Cut(strings.TrimSpace(p), "=")
				if found && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0 // malformed: not acceptable, as the safe reading
					}
					weight = f
				}
			}
			if name == "*" {
				star = weight
				continue
			}
			if prev, seen := q[name]; !seen || weight > prev {
				q[name] = weight
			}
		}
	}
	weightOf := func(c string) float64 {
		if w, listed := q[c]; listed {
			return w
		}
		if star >= 0 {
			return star
		}
		return 0
	}
	best, bestQ := "", 0.0
	for _, c := range offered {
		if w := weightOf(c); w > bestQ {
			best, bestQ = c, w
		}
	}
	idQ := 0.001 // acceptable, least preferred, unless listed or excluded by *
	if w, listed := q[codingIdentity]; listed {
		idQ = w
	} else if star == 0 {
		idQ = 0 // *;q=0 excludes identity too
	}
	switch {
	case best != "" && bestQ >= idQ:
		return best, true
	case idQ > 0:
		return codingIdentity, true
	}
	return "", false
}

// compressibleType reports media types worth compressing on the fly.
func compressibleType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/javascript", mt == "application/xml",
		mt == "application/rss+xml", mt == "application/atom+xml", mt == "image/svg+xml",
		mt == "application/manifest+json", mt == "application/ld+json":
		return true
	}
	return false
}

// addVary adds a Vary value once.
func addVary(h http.Header, value string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}

// On-the-fly compression levels: gzip's default, brotli's 5 (about as
// fast as gzip -6 and about 10 % smaller on the API's pages).
const flyBrotliLevel = 5

var (
	gzipPool   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression); return w }}
	brotliPool = sync.Pool{New: func() any {
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: flyBrotliLevel})
	}}
)

// compressResponses compresses the answers of handlers (the API's pages,
// the 404 page) on the fly, when the client accepts br or gzip and the
// body is a compressible type of at least compressMinSize bytes. It leaves
// alone answers that are encoded already (Content-Encoding), partial
// (206, Content-Range), bodiless (1xx, 204, 304, HEAD), of other types
// (the whitepaper PDF, which streams through slowLinkWriter), and those
// whose handler called disableCompression (static files, which have
// precompressed siblings and strong ETags of their own).
//
// The dashboard (/admin/) is never compressed: its pages carry a session's
// secrets next to text an attacker can choose, which compression would
// leak through the response's length (BREACH). The API's pages have no
// such secret the attacker does not already have in the link.
func (h *Handler) compressResponses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/admin/") || r.URL.Path == "/admin" {
			next.ServeHTTP(w, r)
			return
		}
		coding, _ := negotiate(r, codingBrotli, codingGzip)
		cw := &compressWriter{ResponseWriter: w, coding: coding}
		next.ServeHTTP(cw, r)
		// Not deferred: after a panic the buffered body must not go out
		// (recoverPanics writes the error page instead).
		cw.finish()
	})
}

// disableCompression turns off compressResponses for this response.
func disableCompression(w http.ResponseWriter) {
	for w != nil {
		if cw, ok := w.(*compressWriter); ok {
			if cw.state == undecided {
				cw.state = passThrough
			}
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

type compressState int

const (
	undecided   compressState = iota
	passThrough               // the answer goes out as the handler writes it
	compressing
)

// compressWriter holds the start of the body until it knows whether to
// compress: the headers say no, or compressMinSize bytes arrived.
type compressWriter struct {
	http.ResponseWriter
	coding string // negotiated: br, gzip or identity
	state  compressState
	status int // 0: WriteHeader not called yet
	buf    []byte
	enc    interface {
		io.WriteCloser
		Flush() error
		Reset(io.Writer)
	}
}

func (cw *compressWriter) WriteHeader(code int) {
	switch {
	case cw.state == passThrough:
		cw.ResponseWriter.WriteHeader(code)
		return
	case cw.state == compressing || cw.status != 0:
		return // superfluous: the status is on its way
	case code < 200:
		cw.ResponseWriter.WriteHeader(code) // 103 Early Hints and the like
		return
	}
	cw.status = code
	hdr := cw.Header()
	if compressibleType(hdr.Get("Content-Type")) && code != http.StatusNoContent && code != http.StatusNotModified {
		addVary(hdr, "Accept-Encoding")
	}
	if !cw.eligible() {
		cw.passThrough()
		return
	}
	if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil {
		if n < compressMinSize {
			cw.passThrough()
		} else {
			cw.startCompressing()
		}
	}
}

// eligible: may this answer be compressed, going by status and headers.
func (cw *compressWriter) eligible() bool {
	hdr := cw.Header()
	switch {
	case cw.coding != codingBrotli && cw.coding != codingGzip:
		return false
	case cw.status == http.StatusNoContent, cw.status == http.StatusNotModified, cw.status == http.StatusPartialContent:
		return false
	case hdr.Get("Content-Encoding") != "", hdr.Get("Content-Range") != "":
		return false
	}
	return compressibleType(hdr.Get("Content-Type"))
}

func (cw *compressWriter) passThrough() {
	cw.state = passThrough
	cw.ResponseWriter.WriteHeader(cw.status)
	if len(cw.buf) > 0 {
		_, _ = cw.ResponseWriter.Write(cw.buf)
		cw.buf = nil
	}
}

func (cw *compressWriter) startCompressing() {
	hdr := cw.Header()
	hdr.Del("Content-Length")
	hdr.Set("Content-Encoding", cw.coding)
	if et := hdr.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		// Another representation: no longer byte-identical to the
		// strong tag's; a weak tag still matches If-None-Match.
		hdr.Set("Etag", "W/"+et)
	}
	if cw.coding == codingBrotli {
		bw := brotliPool.Get().(*brotli.Writer)
		bw.Reset(cw.ResponseWriter)
		cw.enc = bw
	} else {
		gw := gzipPool.Get().(*gzip.Writer)
		gw.Reset(cw.ResponseWriter)
		cw.enc = gw
	}
	cw.state = compressing
	cw.ResponseWriter.WriteHeader(cw.status)
	if len(cw.buf) > 0 {
		_, _ = cw.enc.Write(cw.buf)
		cw.buf = nil
	}
}

func (cw *compressWriter) Write(b []byte) (int, error) {
	if cw.status == 0 && cw.state == undecided {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case passThrough:
		return cw.ResponseWriter.Write(b)
	case compressing:
		return cw.enc.Write(b)
	}
	cw.buf = append(cw.buf, b...)
	if len(cw.buf) >= compressMinSize {
		cw.startCompressing()
	}
	return len(b), nil
}

// Flush sends what the handler wrote so far; an undecided answer is
// decided by what it holds.
func (cw *compressWriter) Flush() {
	cw.decide()
	if cw.state == compressing {
		_ = cw.enc.Flush()
	}
	if f, ok := cw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// decide settles an undecided answer: short bodies go out as they are.
func (cw *compressWriter) decide() {
	if cw.state != undecided {
		return
	}
	if cw.status == 0 {
		if len(cw.buf) == 0 {
			return // nothing written: the handler may still set headers
		}
		cw.status = http.StatusOK
	}
	cw.passThrough()
}

// finish ends the answer after the handler returned.
func (cw *compressWriter) finish() {
	switch cw.state {
	case undecided:
		if cw.status == 0 && len(cw.buf) == 0 {
			return // nothing written: net/http sends its empty 200
		}
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		cw.passThrough()
	case compressing:
		_ = cw.enc.Close()
		switch e := cw.enc.(type) {
		case *brotli.Writer:
			e.Reset(io.Discard)
			brotliPool.Put(e)
		case *gzip.Writer:
			e.Reset(io.Discard)
			gzipPool.Put(e)
		}
		cw.enc = nil
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }
