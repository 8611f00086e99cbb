package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The markers in the site's shell page (layouts/shell.html).
const (
	markerTitle = "%%KB_TITLE%%"
	markerMain  = "%%KB_MAIN%%"
)

// ShellPath is where the built site keeps the shell, relative to the
// publish directory.
const ShellPath = "kb-shell/index.html"

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.New("pages").Option("missingkey=zero").ParseFS(templateFS, "templates/*.html"))

// shell is the site's page frame split at its markers, so that rendering a
// page is a few writes.
type shell struct {
	pieces []shellPiece
}

type shellPiece struct {
	text   string
	marker string // "" for text, else markerTitle or markerMain
}

// parseShell splits raw at the markers. It needs exactly one main marker;
// the title marker may appear any number of times.
func parseShell(raw string) (*shell, error) {
	if n := strings.Count(raw, markerMain); n != 1 {
		return nil, fmt.Errorf("shell has %d %s markers, want 1", n, markerMain)
	}
	sh := &shell{}
	for raw != "" {
		ti, mi := strings.Index(raw, markerTitle), strings.Index(raw, markerMain)
		at, marker := -1, ""
		switch {
		case ti >= 0 && (mi < 0 || ti < mi):
			at, marker = ti, markerTitle
		case mi >= 0:
			at, marker = mi, markerMain
		}
		if at < 0 {
			sh.pieces = append(sh.pieces, shellPiece{text: raw})
			break
		}
		if at > 0 {
			sh.pieces = append(sh.pieces, shellPiece{text: raw[:at]})
		}
		sh.pieces = append(sh.pieces, shellPiece{marker: marker})
		raw = raw[at+len(marker):]
	}
	return sh, nil
}

// write renders the shell with title (escaped here) and main (HTML).
func (sh *shell) write(w io.Writer, title string, main []byte) error {
	esc := html.EscapeString(title)
	for _, p := range sh.pieces {
		var err error
		switch p.marker {
		case markerTitle:
			_, err = io.WriteString(w, esc)
		case markerMain:
			_, err = w.Write(main)
		default:
			_, err = io.WriteString(w, p.text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// loadShell reads the shell from the publish directory.
func loadShell(publishDir string) (*shell, error) {
	raw, err := os.ReadFile(filepath.Join(publishDir, filepath.FromSlash(ShellPath)))
	if err != nil {
		return nil, fmt.Errorf("web: read page shell: %w", err)
	}
	sh, err := parseShell(string(raw))
	if err != nil {
		return nil, fmt.Errorf("web: page shell %s: %w", ShellPath, err)
	}
	return sh, nil
}

var builtinShell = func() *shell {
	sh, err := parseShell(fallbackShell)
	if err != nil {
		panic(err)
	}
	return sh
}()

// Reload reads the page shell again, e.g. after `kb serve --watch` rebuilt
// the site. On error the previous shell stays in use.
func (h *Handler) Reload() error {
	sh, err := loadShell(h.opts.PublishDir)
	if err != nil {
		return err
	}
	h.shell.Store(sh)
	return nil
}

// page is what a handler shows; the zero parts are left out.
type page struct {
	Title      string // <title>; the shell adds the site's name
	Heading    string
	Lead       string
	Paragraphs []string
	Download   *download
	// Button is a form whose one button does what a link in an email asks
	// (confirm, unsubscribe): a mail scanner's GET never gets that far.
	Button  *buttonForm
	Form    *signupForm
	Actions []action

	// The preference page's parts (preferences.go).
	Error string     // what was wrong with the reader's request, first
	Items []string   // a list after the paragraphs: what a save changed
	Prefs *prefsForm // topics and frequency
	Notes []string   // paragraphs after the forms and buttons
	Data  *dataForms // download and erase one's data
}

type download struct {
	Title, Text, URL, Label string
}

type buttonForm struct {
	Action, Button, StayURL, StayLabel string
	Hidden                             []hiddenField
}

type hiddenField struct{ Name, Value string }

type action struct {
	Href, Label string
	Secondary   bool
}

// signupForm is the site's signup form with a reader's values and errors.
type signupForm struct {
	ID         string
	Email      string
	Name       string
	Consent    bool
	Whitepaper bool
	Source     string
	Summary    string
	// Err holds the message per field name (email, name, consent);
	// Problems lists them in form order for the summary.
	Err      map[string]string
	Problems []problem
	Focus    string // the field that gets autofocus
	Label    formLabels
	Msg      formMessages
}

type problem struct {
	Field, Label, Message string
}

type formLabels struct {
	Email, Name, Optional, Whitepaper, WhitepaperHint, Honeypot, Submit, Note string
	Consent                                                                   template.HTML
}

type formMessages struct {
	Sending, Done, Error, Network, Rate, Fields string
}

// render writes p in the site's shell with status.
func (h *Handler) render(w http.ResponseWriter, status int, p *page) {
	var main bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&main, "page", p); err != nil {
		// Templates are fixed and tested; this is a programming error.
		h.log.Error("render page", "err", err)
		http.Error(w, msgServerError, http.StatusInternalServerError)
		return
	}
	var out bytes.Buffer
	out.Grow(main.Len() + 8<<10)
	_ = h.shell.Load().write(&out, p.Title, main.Bytes())
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(status)
	_, _ = out.WriteTo(w)
}

// notice renders a simple page: heading, lead, paragraphs, buttons.
func (h *Handler) notice(w http.ResponseWriter, status int, title, lead string, paras []string, actions ...action) {
	h.render(w, status, &page{Title: title, Heading: title, Lead: lead, Paragraphs: paras, Actions: actions})
}
