package devserver

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
)

// The development pages: the build error, the email preview and its
// index, the sample links, and their 404. Polish, like the site; each
// carries the live reload script, so it follows the next rebuild.
var pages = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="pl" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · kb serve --watch</title>
<link rel="stylesheet" href="` + stylePath + `">
</head>
<body class="kb-dev">
<main id="main" class="kb-dev-main">
{{template "body" .}}
</main>
<script src="` + scriptPath + `" data-build="{{.Build}}" defer></script>
</body>
</html>
{{define "overlay"}}<h1>Nie udało się zbudować strony</h1>
<p>Ostatnia zmiana zepsuła budowanie witryny, więc zamiast nieaktualnej strony pokazujemy błąd. Popraw plik i zapisz go — ta strona odświeży się sama.</p>
<dl class="kb-dev-where">
{{- with .Failure.File}}<dt>Plik</dt><dd><code class="kb-dev-file">{{.}}</code></dd>{{end}}
{{- with .Failure.Line}}<dt>Wiersz</dt><dd>{{.}}</dd>{{end}}
{{- with .Failure.Column}}<dt>Kolumna</dt><dd>{{.}}</dd>{{end}}
</dl>
<h2>Komunikat</h2>
<pre class="kb-dev-message">{{.Failure.Message}}</pre>
<p class="kb-dev-note">Ten sam błąd jest w terminalu, w którym działa <code>kb serve --watch</code>.</p>
{{end}}
{{define "index"}}<h1>Podgląd e-maili z poradnikami</h1>
{{if .Guides}}<p>Tak wygląda newsletter z każdym poradnikiem z ostatniej udanej budowy strony.</p>
<ul class="kb-dev-list">
{{range .Guides}}<li><a href="` + PreviewPath + `{{.Slug}}">{{.Title}}</a></li>
{{end}}</ul>
{{else}}<p>Ostatnia budowa strony nie ma żadnego poradnika.</p>{{end}}
{{end}}
{{define "email"}}<p class="kb-dev-crumb"><a href="` + PreviewPath + `">Wszystkie e-maile</a></p>
<h1>Podgląd e-maila: {{.Guide.Title}}</h1>
<dl class="kb-dev-where">
<dt>Temat</dt><dd class="kb-dev-subject">{{.Email.Subject}}</dd>
<dt>Początek w skrzynce</dt><dd class="kb-dev-preheader">{{.Preheader}}</dd>
</dl>
<p class="kb-dev-note">Linki wypisu i preferencji w podglądzie są przykładowe i nic nie zmieniają.</p>
<nav aria-label="Część wiadomości" class="kb-dev-tabs">
<a href="` + PreviewPath + `{{.Guide.Slug}}"{{if not .Text}} aria-current="page"{{end}}>Wersja HTML</a>
<a href="` + PreviewPath + `{{.Guide.Slug}}?part=text"{{if .Text}} aria-current="page"{{end}}>Wersja tekstowa</a>
</nav>
{{if .Text}}<pre class="kb-dev-text">{{.Email.Text}}</pre>
{{else}}<iframe class="kb-dev-frame" title="Treść e-maila (HTML)" src="` + PreviewPath + `{{.Guide.Slug}}/email.html" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe>
{{end}}{{end}}
{{define "notfound"}}<h1>Nie ma takiej strony</h1>
<p>{{.Message}}</p>
<p><a href="` + PreviewPath + `">Podgląd e-maili</a> · <a href="/">Strona główna</a></p>
{{end}}
{{define "fake"}}<h1>Przykładowy link</h1>
<p>To link z podglądu e-maila. W prawdziwej wiadomości każdy czytelnik dostaje tu własny, podpisany link ({{.Message}}).</p>
<p><a href="` + PreviewPath + `">Podgląd e-maili</a></p>
{{end}}`))

type pageData struct {
	Title     string
	Build     string
	Failure   Failure
	Guides    []guide.Guide
	Guide     guide.Guide
	Email     emails.Email
	Preheader string
	Text      bool
	Message   string
}

// render executes one of the pages' bodies into the layout.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, body string, d pageData) {
	d.Build = h.buildID()
	t, err := pages.Clone()
	if err == nil {
		_, err = t.New("body").Parse(`{{template "` + body + `" .}}`)
	}
	var buf bytes.Buffer
	if err == nil {
		err = t.ExecuteTemplate(&buf, "page", d)
	}
	if err != nil {
		h.log.Error("devserver: render page", "page", body, "err", err)
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	setSecurityHeaders(hdr)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// overlay answers a page request while the build is broken.
func (h *Handler) overlay(w http.ResponseWriter, r *http.Request, f Failure) {
	h.render(w, r, http.StatusInternalServerError, "overlay", pageData{Title: "Nie udało się zbudować strony", Failure: f})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	h.render(w, r, http.StatusNotFound, "notfound", pageData{Title: "Nie ma takiej strony", Message: msg})
}

// preview serves /__preview/email/ (the index), /__preview/email/SLUG
// (the frame page; ?part=text for the text part) and
// /__preview/email/SLUG/email.html (the HTML part, in the frame).
func (h *Handler) preview(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.opts.Emails == nil {
		h.notFound(w, r, "Podgląd e-maili jest wyłączony.")
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(PreviewPath, "/")), "/")
	guides := h.currentGuides()
	if rest == "" {
		h.render(w, r, http.StatusOK, "index", pageData{Title: "Podgląd e-maili", Guides: guides})
		return
	}
	slug, part, _ := strings.Cut(rest, "/")
	var g guide.Guide
	found := false
	for _, c := range guides {
		if c.Slug == slug {
			g, found = c, true
			break
		}
	}
	if !found || (part != "" && part != "email.html") {
		h.notFound(w, r, "Nie ma poradnika o adresie „"+slug+"” w ostatniej udanej budowie strony.")
		return
	}
	e, err := h.opts.Emails.Newsletter(g, emails.NewsletterOptions{FullTextMaxWords: h.opts.FullTextMaxWords})
	if err != nil {
		h.log.Error("devserver: render the email preview", "guide", g.Slug, "err", err)
		h.render(w, r, http.StatusInternalServerError, "overlay", pageData{Title: "Nie udało się przygotować e-maila",
			Failure: Failure{File: g.SourcePath, Message: err.Error()}})
		return
	}
	e = e.Fill(h.sampleVars())
	if part == "email.html" {
		hdr := w.Header()
		// The email as a mail client gets it: its own inline styles,
		// images from anywhere, no scripts; framed by the preview only.
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; frame-ancestors 'self'; base-uri 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Cache-Control", "no-store")
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(e.HTML))
		}
		return
	}
	h.render(w, r, http.StatusOK, "email", pageData{
		Title: "Podgląd e-maila: " + g.Title, Guide: g, Email: e,
		Preheader: preheader(e.Text), Text: r.URL.Query().Get("part") == "text",
	})
}

// sampleVars fill the recipient variables with the greeting subscribers
// get and links that are plainly samples.
func (h *Handler) sampleVars() map[string]string {
	base := strings.TrimSuffix(h.opts.BaseURL, "/")
	return emails.RecipientVars(base+fakeLinkPath+"wypisz", base+fakeLinkPath+"preferencje")
}

func (h *Handler) fakeLink(w http.ResponseWriter, r *http.Request) {
	what := map[string]string{"wypisz": "wypisanie się z newslettera", "preferencje": "strona preferencji"}[strings.TrimPrefix(r.URL.Path, fakeLinkPath)]
	if what == "" {
		h.notFound(w, r, "Nie ma takiego przykładowego linku.")
		return
	}
	h.render(w, r, http.StatusOK, "fake", pageData{Title: "Przykładowy link", Message: what})
}

// preheaderLen is about what mail clients show after the subject.
const preheaderLen = 140

// preheader is the start of the email's visible text, which mail clients
// show after the subject (the emails have no hidden preheader).
func preheader(text string) string {
	s := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(s) <= preheaderLen {
		return s
	}
	r := []rune(s)[:preheaderLen]
	return strings.TrimSpace(string(r)) + "…"
}

// devCSS styles the development pages and the draft badge.
const devCSS = `.kb-dev { margin: 0; background: #fff; color: #1b2430; font: 1rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; }
.kb-dev-main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
.kb-dev h1 { color: #12365c; font-size: 1.75rem; line-height: 1.25; margin: .5rem 0 1rem; }
.kb-dev h2 { color: #12365c; font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
.kb-dev a { color: #0b6a6a; }
.kb-dev-where { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 1rem 0; }
.kb-dev-where dt { font-weight: 700; }
.kb-dev-where dd { margin: 0; }
.kb-dev-message, .kb-dev-text { white-space: pre-wrap; overflow-wrap: anywhere; background: #fdf2f2; color: #1b2430; border-left: 4px solid #a3202a; padding: 1rem; font-size: .95rem; }
.kb-dev-text { background: #eef3f7; border-left-color: #12365c; }
.kb-dev-note { color: #4a5566; }
.kb-dev-tabs { display: flex; gap: .5rem; margin: 1rem 0 0; border-bottom: 2px solid #cfd8e1; }
.kb-dev-tabs a { padding: .5rem 1rem; text-decoration: none; border: 2px solid transparent; border-bottom: 0; border-radius: 6px 6px 0 0; }
.kb-dev-tabs a[aria-current="page"] { border-color: #cfd8e1; background: #eef3f7; color: #12365c; font-weight: 700; }
.kb-dev-frame { display: block; width: 100%; height: 80vh; border: 1px solid #cfd8e1; margin-top: 1rem; }
.draft-badge { display: inline-block; padding: 0 .5em; border-radius: 4px; background: #a3202a; color: #fff; font-weight: 700; font-size: .85em; letter-spacing: .02em; }
`
