package devserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// event is one finished rebuild, as sent to the open pages.
type event struct {
	Build string `json:"build"`
	OK    bool   `json:"ok"`
}

// buildID names the current build; pages carry it in the script tag, so a
// page rendered before a rebuild its stream missed (the stream connects
// after the page loads) still reloads.
func (h *Handler) buildID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.instance + "-" + strconv.FormatUint(h.gen, 10)
}

// publish counts a finished rebuild and tells every open stream. A stream
// that has not taken the previous event yet gets only the newest: one
// reload is enough.
func (h *Handler) publish(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	ev := event{Build: h.instance + "-" + strconv.FormatUint(h.gen, 10), OK: ok}
	for ch := range h.clients {
		select {
		case <-ch:
		default:
		}
		ch <- ev // buffered 1, emptied above, and only publish sends
	}
}

func (h *Handler) subscribe() (chan event, string) {
	ch := make(chan event, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[ch] = struct{}{}
	return ch, h.instance + "-" + strconv.FormatUint(h.gen, 10)
}

func (h *Handler) unsubscribe(ch chan event) {
	h.mu.Lock()
	delete(h.clients, ch)
	h.mu.Unlock()
	if h.released != nil {
		h.released()
	}
}

// Clients is the number of open live reload streams.
func (h *Handler) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// liveReload streams server-sent events: "hello" with the current build
// on connecting, "reload" after each finished rebuild (failed ones too:
// the page then shows the error), and a comment line as heartbeat. It
// returns when the client goes away, a write fails, or Close is called.
func (h *Handler) liveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	// The server's read and write timeouts are for requests, not for a
	// stream that stays open as long as the tab.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	ch, build := h.subscribe()
	defer h.unsubscribe(ch)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 1000\nevent: hello\ndata: %s\n\n", build); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(h.heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case ev := <-ch:
			data, _ := json.Marshal(ev)
			_, err = fmt.Fprintf(w, "event: reload\ndata: %s\n\n", data)
		case <-tick.C:
			_, err = fmt.Fprint(w, ": ping\n\n")
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// liveReloadJS reloads the page after each rebuild, and when it connects
// to a newer build than the page's (a rebuild in between, a restarted kb
// serve). EventSource reconnects by itself.
const liveReloadJS = `(function () {
  "use strict";
  var me = document.currentScript;
  var build = me ? me.getAttribute("data-build") : null;
  var es = new EventSource("` + LiveReloadPath + `");
  // Says the page is listening (for the writer's devtools and the tests).
  es.addEventListener("open", function () { document.documentElement.setAttribute("data-kb-livereload", "open"); });
  es.addEventListener("hello", function (e) {
    if (build && e.data !== build) { location.reload(); return; }
    build = e.data;
  });
  es.addEventListener("reload", function () { location.reload(); });
})();
`

// scriptTag is what injectWriter adds before </body>, and the stylesheet
// of the draft badge before </head>.
func scriptTag(build string) string {
	return `<script src="` + scriptPath + `" data-build="` + html.EscapeString(build) + `" defer></script>`
}

const styleTag = `<link rel="stylesheet" href="` + stylePath + `">`

// injectWriter adds the live reload script to HTML answers on their way
// out. The site is asked for the identity encoding (devRequest), so an
// HTML body here is plain text; an encoded one passes as it is.
type injectWriter struct {
	http.ResponseWriter
	head        bool
	build       string
	inject      bool
	wroteHeader bool
	status      int
	buf         bytes.Buffer
}

// newInjectWriter wraps w; the caller must call finish.
func newInjectWriter(w http.ResponseWriter, r *http.Request, build string) *injectWriter {
	return &injectWriter{ResponseWriter: w, head: r.Method == http.MethodHead, build: build}
}

func (iw *injectWriter) WriteHeader(code int) {
	if iw.wroteHeader {
		return
	}
	if code < 200 {
		iw.ResponseWriter.WriteHeader(code)
		return
	}
	iw.wroteHeader = true
	hdr := iw.Header()
	mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	if mt == "text/html" && hdr.Get("Content-Encoding") == "" && hdr.Get("Content-Range") == "" &&
		code != http.StatusNoContent && code != http.StatusNotModified {
		iw.inject, iw.status = true, code
		// The body changes, and must not be cached or revalidated
		// without the script: no validators, no store.
		hdr.Del("Content-Length")
		hdr.Del("Etag")
		hdr.Del("Last-Modified")
		hdr.Set("Cache-Control", "no-store")
		return
	}
	iw.ResponseWriter.WriteHeader(code)
}

func (iw *injectWriter) Write(b []byte) (int, error) {
	if !iw.wroteHeader {
		iw.WriteHeader(http.StatusOK)
	}
	if iw.inject {
		return iw.buf.Write(b)
	}
	return iw.ResponseWriter.Write(b)
}

// Flush passes through answers that are not being rewritten.
func (iw *injectWriter) Flush() {
	if iw.inject {
		return
	}
	if f, ok := iw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (iw *injectWriter) Unwrap() http.ResponseWriter { return iw.ResponseWriter }

// finish sends a rewritten answer.
func (iw *injectWriter) finish() {
	if !iw.inject {
		return
	}
	body := injectTags(iw.buf.Bytes(), iw.build)
	if !iw.head {
		iw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	iw.ResponseWriter.WriteHeader(iw.status)
	if !iw.head {
		_, _ = iw.ResponseWriter.Write(body)
	}
}

// injectTags puts the stylesheet before the first </head> and the script
// before the last </body> (case-insensitive), or at the end.
func injectTags(page []byte, build string) []byte {
	lower := bytes.ToLower(page)
	out := make([]byte, 0, len(page)+200)
	rest := page
	if i := bytes.Index(lower, []byte("</head>")); i >= 0 {
		out = append(out, page[:i]...)
		out = append(out, styleTag...)
		rest, lower = page[i:], lower[i:]
	}
	script := scriptTag(build)
	if i := bytes.LastIndex(lower, []byte("</body>")); i >= 0 {
		out = append(out, rest[:i]...)
		out = append(out, script...)
		return append(out, rest[i:]...)
	}
	out = append(out, rest...)
	return append(out, script...)
}
