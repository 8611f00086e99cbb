// Package devserver is the writer's side of `kb serve --watch`: it wraps
// the public handler (package web) with what only a writer at their own
// machine needs — pages that reload themselves after each rebuild
// (server-sent events on /__livereload and a script added to every HTML
// answer), the build error shown in the browser instead of a stale page,
// and a preview of each guide's newsletter email (/__preview/email/).
//
// None of it exists without --watch: cmd/kb composes this handler around
// web.Handler only then, and the script is added to answers on the way
// out, never written into the publish directory.
package devserver

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/web"
)

// Paths the handler answers itself; everything else goes to the site.
const (
	LiveReloadPath = "/__livereload"
	scriptPath     = "/__livereload.js"
	stylePath      = "/__dev.css"
	PreviewPath    = "/__preview/email/"
	fakeLinkPath   = "/__preview/przykladowy-link/"
	devPrefix      = "/__"
)

// DefaultHeartbeat is how often an idle live reload stream gets a comment
// line, so proxies and the browser keep it open and a closed tab is
// noticed by the failed write.
const DefaultHeartbeat = 15 * time.Second

// Renderer renders a guide's newsletter email with the recipient
// variables still in it; *emails.Templates has it (the code path of
// `kb send` and `kb preview`).
type Renderer interface {
	Newsletter(g guide.Guide, opts emails.NewsletterOptions) (emails.Email, error)
}

// Options configure the handler.
type Options struct {
	// BaseURL is the site's base URL ("http://127.0.0.1:8080/"); the
	// preview's sample unsubscribe and preference links point under it.
	BaseURL string
	// Emails renders the email preview; nil: /__preview/email/ is 404.
	Emails Renderer
	// FullTextMaxWords is params.newsletter.full_text_max_words.
	FullTextMaxWords int
	// Heartbeat is the live reload stream's keep-alive interval; default
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Failure is a failed rebuild as the error page shows it.
type Failure struct {
	// File is the offending file relative to the site root ("" unknown).
	File         string
	Line, Column int
	// Message is the build's own message, shown verbatim.
	Message string
}

// Handler serves the development-only paths and passes the rest to the
// site's handler, adding the live reload script to HTML answers.
type Handler struct {
	next      http.Handler
	opts      Options
	log       *slog.Logger
	heartbeat time.Duration
	// instance tells this process's builds from an earlier one's, so a
	// page served before a restart reloads when it reconnects.
	instance string

	mu      sync.Mutex
	gen     uint64
	failure *Failure
	guides  []guide.Guide
	clients map[chan event]struct{}

	done      chan struct{}
	closeOnce sync.Once
	// released, if set (tests), is told when a stream's client is gone.
	released func()
}

// New wraps next (the site and its API). guides are the first build's.
func New(next http.Handler, guides []guide.Guide, opts Options) *Handler {
	var id [4]byte
	_, _ = rand.Read(id[:])
	h := &Handler{
		next:      next,
		opts:      opts,
		log:       cmp.Or(opts.Logger, slog.Default()),
		heartbeat: cmp.Or(opts.Heartbeat, DefaultHeartbeat),
		instance:  hex.EncodeToString(id[:]),
		guides:    guides,
		clients:   map[chan event]struct{}{},
		done:      make(chan struct{}),
	}
	return h
}

// Built records a successful rebuild: the error page goes away, the email
// preview uses guides, and every open page reloads.
func (h *Handler) Built(guides []guide.Guide) {
	h.mu.Lock()
	h.failure = nil
	h.guides = guides
	h.mu.Unlock()
	h.publish(true)
}

// Failed records a failed rebuild: pages show f until the next successful
// one, and every open page reloads to show it.
func (h *Handler) Failed(f Failure) {
	h.mu.Lock()
	h.failure = &f
	h.mu.Unlock()
	h.publish(false)
}

// Close ends every live reload stream (for http.Server.RegisterOnShutdown:
// a graceful shutdown would otherwise wait for the open tabs).
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.done) })
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == LiveReloadPath:
		h.liveReload(w, r)
		return
	case p == scriptPath:
		serveAsset(w, r, "text/javascript; charset=utf-8", liveReloadJS)
		return
	case p == stylePath:
		serveAsset(w, r, "text/css; charset=utf-8", devCSS)
		return
	case p == strings.TrimSuffix(PreviewPath, "/") || strings.HasPrefix(p, PreviewPath):
		h.preview(w, r)
		return
	case strings.HasPrefix(p, fakeLinkPath):
		h.fakeLink(w, r)
		return
	}
	build := h.buildID()
	if f := h.currentFailure(); f != nil && isPage(r) {
		h.overlay(w, r, *f)
		return
	}
	iw := newInjectWriter(w, r, build)
	h.next.ServeHTTP(iw, devRequest(r))
	iw.finish()
}

func (h *Handler) currentFailure() *Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failure
}

func (h *Handler) currentGuides() []guide.Guide {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.guides
}

// isPage reports a request for a page of the site (not an asset, the API
// or the dashboard), which the error page replaces while the build fails.
func isPage(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/admin/", devPrefix} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	if p == "/admin" || p == "/healthz" {
		return false
	}
	switch path.Ext(path.Base(p)) {
	case "", ".html", ".htm":
		return true
	}
	return false
}

// devRequest asks the site for what the script can be added to: the
// identity encoding (no .br sibling, no compression on the fly: the
// browser is on the same machine) and, for pages, a full answer instead
// of a 304 for a copy cached without the script (kb serve without
// --watch gives pages ETags).
func devRequest(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Accept-Encoding")
	if isPage(r) {
		r2.Header.Del("If-None-Match")
		r2.Header.Del("If-Modified-Since")
	}
	return r2
}

// serveAsset sends one of the handler's own files, never cached: it
// changes with kb.
func serveAsset(w http.ResponseWriter, r *http.Request, contentType, body string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	setSecurityHeaders(hdr)
	hdr.Set("Content-Type", contentType)
	hdr.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write([]byte(body))
}

// setSecurityHeaders gives the development pages the site's headers: they
// load only /__dev.css and /__livereload.js, so the site's policy fits.
func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", web.ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	hdr.Set("X-Frame-Options", "DENY")
}
