package web

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
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
		} else if strings.HasSuffix(upath, "/") && name != "/" {
			h.notFound(w, r) // a file asked for as a directory
			return
		}
		if fingerprinted.MatchString(st.Name()) {
			w.Header().Set("Cache-Control", cacheFingerprinted)
		} else {
			w.Header().Set("Cache-Control", cacheShort)
		}
		http.ServeContent(h.slowLink(w), r, st.Name(), st.ModTime(), f)
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
