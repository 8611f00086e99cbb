package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// ContentSecurityPolicy allows only the site's own files: no inline
// scripts or styles (the site has none; JSON-LD blocks are data, not run).
// The dev server's pages carry it too.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"

// permissionsPolicy turns off the powerful features the site never uses.
const permissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

// securityHeaders sets the headers every response carries, before the
// handler runs, so that error and panic pages have them too. Inside it,
// the handlers' answers are compressed on the fly (compress.go).
func (h *Handler) securityHeaders(next http.Handler) http.Handler {
	next = h.compressResponses(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Permissions-Policy", permissionsPolicy)
		if h.hsts {
			hdr.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == healthPath {
			// Answers carry one-time state and links with tokens; the
			// address of a link's page carries its token, which no
			// Referer may take elsewhere, not even to the site itself.
			hdr.Set("Cache-Control", "no-store")
			hdr.Set("Referrer-Policy", "no-referrer")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged error and a Polish 500 page.
func (h *Handler) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel by identity, as net/http does
				panic(v) // net/http's way to abort a response; it logs nothing
			}
			h.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec, ok := w.(*responseRecorder); ok && rec.wroteHeader {
				// Too late for an error page: cut the connection so the
				// client sees a broken response, not a truncated success.
				panic(http.ErrAbortHandler)
			}
			for _, k := range []string{"Content-Disposition", "Content-Length", "Content-Range", "Etag", "Last-Modified"} {
				w.Header().Del(k)
			}
			h.serverError(w)
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: never the query string (links in
// emails carry tokens there) and never the client's address.
func (h *Handler) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			h.log.LogAttrs(r.Context(), level, "http",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.status),
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", rec.bytes))
		}()
		next.ServeHTTP(rec, r)
	})
}

// responseRecorder remembers the status and counts the body bytes.
type responseRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (rw *responseRecorder) WriteHeader(code int) {
	if !rw.wroteHeader && code >= 200 {
		rw.status, rw.wroteHeader = code, true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseRecorder) Write(b []byte) (int, error) {
	rw.wroteHeader = true
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush passes through, for handlers that stream.
func (rw *responseRecorder) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		rw.wroteHeader = true
		f.Flush()
	}
}
