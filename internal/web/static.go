package web

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/kbpress/kb/internal/precompress"
)

// Cache lifetimes of static files. Fingerprinted assets never change under
// their name; everything else (pages, feeds, the search index) may change
// with the next build.
const (
	cacheFingerprinted = "public, max-age=31536000, immutable"
	cacheShort         = "public, max-age=300"
)

// fingerprinted matches Hugo's fingerprinted asset names, e.g.
// main.min.36b5…ad2.css (a hex digest of at least 32 digits).
var fingerprinted = regexp.MustCompile(`\.[0-9a-f]{32,}\.[a-z0-9]+$`)

// static serves the publish directory: files and directories' index.html,
// never a directory listing, never dot files (the build manifest) or the
// handler's page shell, and the site's 404 page for anything else.
func (h *Handler) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		upath := r.URL.Path
		if !strings.HasPrefix(upath, "/") {
			upath = "/" + upath
		}
		name := path.Clean(upath)
		if hidden(name) {
			h.notFound(w, r)
			return
		}
		// A fresh root per request: a rebuild swaps the publish directory,
		// and a root opened before would still see the old one. os.Root
		// also keeps symbolic links from leading outside the directory.
		root, err := os.OpenRoot(h.opts.PublishDir)
		if err != nil {
			h.log.Error("open publish directory", "err", err)
			h.notFound(w, r)
			return
		}
		defer root.Close()
		rel := strings.TrimPrefix(name, "/")
		if rel == "" {
			rel = "."
		}
		f, err := root.Open(rel)
		if err != nil {
			h.notFound(w, r)
			return
		}
		defer f.Close()
		fileRel := rel
		st, err := f.Stat()
		if err != nil {
			h.notFound(w, r)
			return
		}
		if st.IsDir() {
			if !strings.HasSuffix(upath, "/") {
				target := name + "/" // Clean collapsed "//": never another host
				if r.URL.RawQuery != "" {
					target += "?" + r.URL.RawQuery
				}
				http.Redirect(w, r, target, http.StatusMovedPermanently)
				return
			}
			index, err := root.Open(path.Join(rel, "index.html"))
			if err != nil {
				h.notFound(w, r)
				return
			}
			defer index.Close()
			if st, err = index.Stat(); err != nil || st.IsDir() {
				h.notFound(w, r)
				return
			}
			f = index
			fileRel = path.Join(rel, "index.html")
		} else if strings.HasSuffix(upath, "/") && name != "/" {
			h.notFound(w, r) // a file asked for as a directory
			return
		} else if isSibling(root, rel) {
			// x.css.br is x.css for clients that ask for br: by its own
			// name it would go out as an application/x-brotli download.
			h.notFound(w, r)
			return
		}
		disableCompression(w) // static files have siblings and ETags of their own
		if fingerprinted.MatchString(st.Name()) {
			w.Header().Set("Cache-Control", cacheFingerprinted)
		} else {
			w.Header().Set("Cache-Control", cacheShort)
		}
		h.serveFile(h.slowLink(w), r, root, fileRel, f, st)
	})
}

// hidden reports paths that exist in the publish directory but are not for
// readers: dot files and the page shell with its markers.
func hidden(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return name == "/kb-shell" || strings.HasPrefix(name, "/kb-shell/")
}

// notFound answers 404 with the site's 404 page, or a built-in one when
// the site has none.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	page, err := readPublished(h.opts.PublishDir, "404.html")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.log.Warn("read 404 page", "err", err)
		}
		h.apiNotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(page)))
	hdr.Set("Cache-Control", cacheShort)
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(page)
}

// readPublished reads a file of the publish directory.
func readPublished(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(name)
}

// isSibling reports a precompressed sibling (x.css.br, x.css.gz) of a
// file that is there: the build's, served only as x.css's encoding.
func isSibling(root *os.Root, rel string) bool {
	src, _, ok := precompress.SiblingSource(rel)
	if !ok {
		return false
	}
	st, err := root.Stat(src)
	return err == nil && st.Mode().IsRegular()
}

// serveFile sends a static file: for compressible types the representation
// Accept-Encoding picks among the file and its precompressed siblings
// (Vary: Accept-Encoding), each with a strong ETag of its own bytes;
// conditional requests, HEAD and (on the identity representation) ranges
// as http.ServeContent does them.
//
// A sibling older than its source is stale: a rebuild rewrote the source
// and precompression has not caught up yet (it gives every sibling its
// source's modification time), so the file goes out as it is meanwhile.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, root *os.Root, rel string, f *os.File, st fs.FileInfo) {
	name := st.Name()
	hdr := w.Header()
	if !precompress.Compressible(name) {
		h.setETag(hdr, rel, f, st, "")
		http.ServeContent(w, r, name, st.ModTime(), f)
		return
	}
	addVary(hdr, "Accept-Encoding")
	type sibling struct {
		f  *os.File
		st fs.FileInfo
	}
	siblings := map[string]sibling{}
	var offered []string
	for _, c := range []string{codingBrotli, codingGzip} {
		sf, err := root.Open(rel + precompress.Suffix(c))
		if err != nil {
			continue
		}
		defer sf.Close()
		sst, err := sf.Stat()
		if err != nil || !sst.Mode().IsRegular() || sst.ModTime().Before(st.ModTime()) {
			continue
		}
		siblings[c] = sibling{sf, sst}
		offered = append(offered, c)
	}
	coding, ok := negotiate(r, offered...)
	if !ok {
		// identity;q=0 (or *;q=0) and no sibling the client takes: RFC
		// 9110 §12.5.3 allows 406.
		hdr.Del("Cache-Control")
		http.Error(w, "406 Not Acceptable: brak kodowania, które akceptuje klient (Accept-Encoding)", http.StatusNotAcceptable)
		return
	}
	if coding != codingIdentity && r.Header.Get("Range") != "" {
		// Ranges are served on the file itself, when the client takes it.
		if id, ok := negotiate(r); ok && id == codingIdentity {
			coding = codingIdentity
		}
	}
	if coding == codingIdentity {
		h.setETag(hdr, rel, f, st, "")
		http.ServeContent(w, r, name, st.ModTime(), f)
		return
	}
	s := siblings[coding]
	suffix := precompress.Suffix(coding)
	h.setETag(hdr, rel+suffix, s.f, s.st, "-"+strings.TrimPrefix(suffix, "."))
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		hdr.Set("Content-Type", ct)
	}
	hdr.Set("Content-Encoding", coding)
	// No ranges of the encoded bytes: the whole representation.
	r2 := *r
	r2.Header = r.Header.Clone()
	r2.Header.Del("Range")
	r2.Header.Del("If-Range")
	http.ServeContent(&encodedWriter{ResponseWriter: w, size: s.st.Size()}, &r2, name, st.ModTime(), s.f)
}

// encodedWriter sets Content-Length on a 200 (http.ServeContent leaves it
// out when Content-Encoding is set) and drops Content-Encoding from any
// other status: a 304 or 412 has no body to decode.
type encodedWriter struct {
	http.ResponseWriter
	size        int64
	wroteHeader bool
}

func (ew *encodedWriter) WriteHeader(code int) {
	if !ew.wroteHeader && code >= 200 {
		ew.wroteHeader = true
		if code == http.StatusOK {
			ew.Header().Set("Content-Length", strconv.FormatInt(ew.size, 10))
		} else {
			ew.Header().Del("Content-Encoding")
		}
	}
	ew.ResponseWriter.WriteHeader(code)
}

func (ew *encodedWriter) Write(b []byte) (int, error) {
	if !ew.wroteHeader {
		ew.WriteHeader(http.StatusOK)
	}
	return ew.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (ew *encodedWriter) Unwrap() http.ResponseWriter { return ew.ResponseWriter }

// setETag sets a strong ETag: a hash of the representation's bytes and the
// encoding's suffix ("…-br"), so each representation has its own.
func (h *Handler) setETag(hdr http.Header, rel string, f *os.File, st fs.FileInfo, suffix string) {
	tag, err := etags.get(h.opts.PublishDir+"\x00"+rel, f, st)
	if err != nil {
		h.log.Warn("static: hash for ETag", "file", rel, "err", err)
		return // Last-Modified still makes it cacheable
	}
	hdr.Set("Etag", `"`+tag+suffix+`"`)
}

// etags caches the hashes of the published files by path, size and
// modification time: a rebuild that rewrites a file changes its time.
var etags = &etagCache{m: map[etagKey]string{}}

// etagCacheMax bounds the cache; past it, it starts over.
const etagCacheMax = 100_000

type etagKey struct {
	path  string
	size  int64
	mtime int64
}

type etagCache struct {
	mu sync.Mutex
	m  map[etagKey]string
}

// get returns f's hash and leaves f at its start.
func (c *etagCache) get(p string, f *os.File, st fs.FileInfo) (string, error) {
	k := etagKey{p, st.Size(), st.ModTime().UnixNano()}
	c.mu.Lock()
	tag, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return tag, nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tag = base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:18])
	c.mu.Lock()
	if len(c.m) >= etagCacheMax {
		clear(c.m)
	}
	c.m[k] = tag
	c.mu.Unlock()
	return tag, nil
}
