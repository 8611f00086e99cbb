package admin

import (
	"bytes"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kbpress/kb/internal/csvsafe"
	"github.com/kbpress/kb/internal/report"
	"github.com/kbpress/kb/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed admin.css
var css []byte

// page is what every template gets.
type page struct {
	Title    string
	Issuer   string
	Nav      string // the current section, for aria-current
	LoggedIn bool
	Email    string // the login form's address, kept after an error
	Error    string
	Message  string
	Enrol    *enrolment
	Data     any
}

// pages are the parsed templates, one set per page.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"login", "code", "message", "subscribers", "overview", "sources", "campaigns", "campaign"}

func parsePages(funcs template.FuncMap) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/facts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("admin: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"fmtTime":  h.fmtTime,
		"fmtDate":  h.fmtDate,
		"statusPL": statusPL,
		"pct":      report.Percent,
		"dur":      report.Duration,
		"month":    func(t time.Time) string { return report.MonthLabel(t.In(h.loc)) },
		"week":     func(t time.Time) string { return report.WeekLabel(t.In(h.loc)) },
	}
}

// render writes a page; the body is built first, so that a template error
// is a 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	p.Issuer = h.issuer
	var b bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&b, "layout", p); err != nil {
		h.log.Error("admin: render", "page", name, "err", err)
		http.Error(w, "Błąd serwera.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(css)
}

func (h *Handler) notFound(w http.ResponseWriter, _ *http.Request, _ session) {
	h.render(w, http.StatusNotFound, "message", page{Title: "Nie ma takiej strony", LoggedIn: true,
		Message: "Nie ma takiej strony w panelu."})
}

func (h *Handler) fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(h.loc).Format("2006-01-02 15:04")
}

func (h *Handler) fmtDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(h.loc).Format("2006-01-02")
}

func statusPL(s store.Status) string {
	switch s {
	case store.StatusPending:
		return "czeka na potwierdzenie"
	case store.StatusConfirmed:
		return "potwierdzony"
	case store.StatusUnsubscribed:
		return "wypisany"
	case store.StatusBounced:
		return "adres odbija pocztę"
	case store.StatusComplained:
		return "zgłosił spam"
	}
	return string(s)
}

type subscribersData struct {
	Query  string
	Person *store.PersonData
}

func (h *Handler) subscribers(w http.ResponseWriter, r *http.Request, _ session) {
	d := subscribersData{Query: strings.TrimSpace(r.URL.Query().Get("email"))}
	p := page{Title: "Subskrybenci", Nav: "subscribers", LoggedIn: true, Data: &d}
	if d.Query != "" {
		person, err := h.st.Person(r.Context(), d.Query)
		switch {
		case errors.Is(err, store.ErrInvalidEmail):
			p.Error = "To nie jest poprawny adres e-mail."
		case err != nil:
			h.log.Error("admin: person", "err", err)
			h.fail(w, r)
			return
		default:
			d.Person = &person
		}
	}
	h.render(w, http.StatusOK, "subscribers", p)
}

// exportHeader are the export's columns, as kb subscribers export writes.
var exportHeader = []string{"id", "email", "name", "status", "whitepaper_requested", "consent_at", "consent_version",
	"consent_source", "consent_ip", "created_at", "updated_at", "confirmed_at", "unsubscribed_at", "bounced_at", "complained_at"}

// export streams every subscriber as formula-safe CSV, logged first so
// that an export cut short is still on record.
func (h *Handler) export(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	h.audit(ctx, "export", s.Admin.Email, h.clientIP(r), "subscribers CSV")
	name := "subskrybenci-" + h.now().In(h.loc).Format("2006-01-02") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csvsafe.NewWriter(csv.NewWriter(w))
	if err := cw.Write(exportHeader); err != nil {
		return
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	err := h.st.ListSubscribers(ctx, store.ListFilter{}, func(sub store.Subscriber) error {
		return cw.Write([]string{strconv.FormatInt(sub.ID, 10), sub.Email, sub.Name, string(sub.Status),
			strconv.FormatBool(sub.WhitepaperRequested), ts(sub.Consent.At), sub.Consent.Version, sub.Consent.Source,
			sub.Consent.IP, ts(sub.CreatedAt), ts(sub.UpdatedAt), ts(sub.ConfirmedAt), ts(sub.UnsubscribedAt),
			ts(sub.BouncedAt), ts(sub.ComplainedAt)})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		// Headers are gone: cut the connection so the download fails
		// visibly rather than ending short.
		h.log.Error("admin: export", "err", err)
		panic(http.ErrAbortHandler)
	}
}
