package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// DefaultAPITimeout bounds each API request when Options.APITimeout is 0:
// a stalled database answers 503 after this long instead of holding the
// request (and a connection) until it recovers.
const DefaultAPITimeout = 10 * time.Second

// unavailableRetryAfter is the Retry-After of a 503, in seconds.
const unavailableRetryAfter = 10

// withDeadline gives an API handler a context that ends after the API
// timeout. A handler answers a store error with a 5xx; when that happens
// after the deadline passed, the database is stalled, not broken, and the
// reader gets 503 "try again shortly" (JSON for JSON clients) instead.
// The handlers need not know: the store calls fail on the deadline, and
// each state change is one transaction, rolled back when it fails.
func (h *Handler) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.apiTimeout)
		defer cancel()
		dw := &deadlineWriter{ResponseWriter: w, ctx: ctx}
		dw.unavailable = func() { h.unavailable(w, r) }
		next.ServeHTTP(dw, r.WithContext(ctx))
	})
}

// unavailable answers 503 with Retry-After, dropping the headers of the
// answer it replaces (CORS and security headers stay).
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition", "Content-Range", "Etag", "Last-Modified", "Location"} {
		hdr.Del(k)
	}
	hdr.Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
	h.log.Warn("request deadline exceeded: answered 503", "method", r.Method, "path", r.URL.Path, "timeout", h.apiTimeout)
	if wantsJSON(r) {
		b, _ := json.Marshal(signupAnswer{OK: false, Message: msgUnavailable})
		writeJSON(w, http.StatusServiceUnavailable, append(b, '\n'))
		return
	}
	h.notice(w, http.StatusServiceUnavailable, titleUnavailable, msgUnavailable, nil, action{Href: pathHome, Label: msgToHome})
}

// deadlineWriter replaces a 5xx answer written after ctx's deadline with
// unavailable(), and discards the body of the answer it replaced.
type deadlineWriter struct {
	http.ResponseWriter
	ctx         context.Context
	unavailable func()
	wroteHeader bool
	replaced    bool
}

func (dw *deadlineWriter) WriteHeader(code int) {
	switch {
	case dw.replaced:
		return
	case dw.wroteHeader || code < 200:
		dw.ResponseWriter.WriteHeader(code)
		return
	}
	dw.wroteHeader = true
	if code >= 500 && errors.Is(dw.ctx.Err(), context.DeadlineExceeded) {
		dw.replaced = true
		dw.unavailable()
		return
	}
	dw.ResponseWriter.WriteHeader(code)
}

func (dw *deadlineWriter) Write(b []byte) (int, error) {
	if !dw.wroteHeader {
		dw.WriteHeader(http.StatusOK)
	}
	if dw.replaced {
		return len(b), nil
	}
	return dw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (dw *deadlineWriter) Unwrap() http.ResponseWriter { return dw.ResponseWriter }

// slowLinkWriter gives each write of a response body a write timeout of its
// own. http.Server's WriteTimeout counts from the request, so it would cut
// a large download (the whitepaper, a big static file) on a slow link; per
// write it still drops a client that stops reading for a whole timeout.
type slowLinkWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	off     bool // the writer cannot set deadlines (httptest): keep the server's
}

func (h *Handler) slowLink(w http.ResponseWriter) http.ResponseWriter {
	return &slowLinkWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: h.writeTimeout}
}

// extendWriteDeadline is slowLink as middleware.
func (h *Handler) extendWriteDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(h.slowLink(w), r)
	})
}

func (s *slowLinkWriter) Write(b []byte) (int, error) {
	if !s.off {
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
			s.off = true
		}
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *slowLinkWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
