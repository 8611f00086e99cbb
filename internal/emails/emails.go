// Package emails renders the emails readers get: the signup confirmation,
// the welcome email, the whitepaper link, the newsletter edition of a guide
// and the digest of new guides.
//
// Templates are executed and their CSS inlined once, when Templates is
// built (the welcome email: once per content, on first use), with
// placeholder tokens where per-message values go; sending a message only
// substitutes the links, the greeting and the expiry. That keeps the signup
// path cheap and every message byte-identical apart from what is personal.
// Newsletter and digest emails are rendered once per batch, their personal
// parts left as Mailgun recipient variables.
package emails

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/inbucket/html2text"
	"github.com/vanng822/go-premailer/premailer"

	"github.com/kbpress/kb/internal/config"
)

//go:embed templates/*.html
var templateFS embed.FS

// Site is what every email says about its publisher.
type Site struct {
	Title string
	// ShortName is the firm's short name ("Saldo"), used where the whole
	// site title would be too long, e.g. the welcome subject; may be "".
	ShortName   string
	BaseURL     string
	FirmName    string
	FirmAddress string
	// FirmLegal is the registry line art. 206 k.s.h. requires in a
	// sp. z o.o.'s correspondence (KRS, court, NIP, capital); may be "".
	FirmLegal       string
	PrivacyURL      string
	WhitepaperURL   string
	WhitepaperTitle string
	// Location is the time zone used for dates shown to readers.
	Location *time.Location
}

// SiteFromConfig describes the site from its configuration.
func SiteFromConfig(cfg *config.Config, whitepaperTitle string) Site {
	loc, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		loc = time.UTC
	}
	return Site{
		Title:           cfg.Title,
		ShortName:       cfg.Params.Firm.ShortName,
		BaseURL:         cfg.BaseURL,
		FirmName:        cfg.Params.Firm.Name,
		FirmAddress:     cfg.Params.Firm.Address,
		FirmLegal:       FirmLegal(cfg.Params.Firm),
		PrivacyURL:      cfg.AbsURL("/polityka-prywatnosci/"),
		WhitepaperURL:   cfg.AbsURL("/biala-ksiega/"),
		WhitepaperTitle: whitepaperTitle,
		Location:        loc,
	}
}

// FirmLegal is the firm's registry details as one line, e.g. "KRS
// 0000123456 (Sąd Rejonowy …) · NIP … · REGON … · kapitał zakładowy …",
// leaving out what config.toml does not set.
func FirmLegal(f config.Firm) string {
	var parts []string
	switch {
	case f.KRS != "" && f.RegistryCourt != "":
		parts = append(parts, "KRS "+f.KRS+" ("+f.RegistryCourt+")")
	case f.KRS != "":
		parts = append(parts, "KRS "+f.KRS)
	case f.RegistryCourt != "":
		parts = append(parts, "sąd rejestrowy: "+f.RegistryCourt)
	}
	if f.NIP != "" {
		parts = append(parts, "NIP "+f.NIP)
	}
	if f.REGON != "" {
		parts = append(parts, "REGON "+f.REGON)
	}
	if f.ShareCapital != "" {
		parts = append(parts, "kapitał zakładowy "+f.ShareCapital)
	}
	return strings.Join(parts, " · ")
}

// Email is a rendered message without its envelope.
type Email struct {
	Subject string
	HTML    string
	Text    string
	// Headers are the List-Unsubscribe pair every email to a subscriber carries.
	Headers map[string]string
}

// Placeholder tokens: letters only, so neither html/template's escaping nor
// CSS inlining nor HTML-to-text conversion alters them.
const (
	phAction      = "KBPHxACTIONxKBPH"
	phUnsubscribe = "KBPHxUNSUBxKBPH"
	phGreeting    = "KBPHxGREETINGxKBPH"
	phExpires     = "KBPHxEXPIRESxKBPH"
	phPreferences = "KBPHxPREFSxKBPH"
)

// prepared is a template executed once with placeholders in it.
type prepared struct {
	subject string
	html    string
	text    string
}

// view is the data the HTML templates see.
type view struct {
	Site           Site
	Subject        string
	Greeting       string
	ActionURL      template.URL
	UnsubscribeURL template.URL
	// PreferencesURL is the subscriber's preference page; "" in emails to
	// people who have not confirmed yet (they have no preferences).
	PreferencesURL template.URL
	Expires        string
	WithWhitepaper bool

	// Newsletter only.
	Guide     guideView
	Body      template.HTML
	Truncated bool

	// Digest only.
	Heading string
	Guides  []guideView

	// Welcome only (WithWhitepaper, Expires and ActionURL are shared with
	// the whitepaper email).
	Welcome welcomeView
}

type guideView struct {
	Title       string
	Description string
	Permalink   string
	Date        string // e.g. "7 grudnia 2026"; "" to leave out
	ReadingTime int    // minutes; 0 to leave out
}

// Templates holds the prepared transactional emails.
type Templates struct {
	site         Site
	confirm      prepared
	confirmWP    prepared
	whitepaper   prepared
	whitepaperNX prepared // link that does not expire (free whitepaper)
	newsletter   *template.Template
	digest       *template.Template
	welcome      *template.Template
	welcomes     welcomeCache
}

// New parses the embedded templates and prepares the transactional emails.
func New(site Site) (*Templates, error) {
	if site.Location == nil {
		site.Location = time.UTC
	}
	t := &Templates{site: site}
	parse := func(name string) (*template.Template, error) {
		tpl, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("emails: parse %s: %w", name, err)
		}
		return tpl, nil
	}
	confirm, err := parse("confirm.html")
	if err != nil {
		return nil, err
	}
	whitepaper, err := parse("whitepaper.html")
	if err != nil {
		return nil, err
	}
	if t.newsletter, err = parse("newsletter.html"); err != nil {
		return nil, err
	}
	if t.digest, err = parse("digest.html"); err != nil {
		return nil, err
	}
	if t.welcome, err = parse("welcome.html"); err != nil {
		return nil, err
	}
	// Welcome renders lazily (its content comes with each call); render
	// every branch once here so a broken template fails at start, not in
	// the mail worker.
	for _, w := range welcomeSamples {
		if _, err := t.prepareWelcome(w); err != nil {
			return nil, err
		}
	}
	t.welcomes.m = nil // the samples are not worth keeping
	base := view{
		Site:           site,
		Greeting:       phGreeting,
		ActionURL:      phAction,
		UnsubscribeURL: phUnsubscribe,
	}
	confirmSubject := "Potwierdź zapis do newslettera " + site.Title
	v := base
	v.Subject = confirmSubject
	if t.confirm, err = prepare(confirm, v); err != nil {
		return nil, err
	}
	v.WithWhitepaper = true
	if t.confirmWP, err = prepare(confirm, v); err != nil {
		return nil, err
	}
	v = base
	v.Subject = "Twoja biała księga: " + site.WhitepaperTitle
	v.Expires = phExpires
	if t.whitepaper, err = prepare(whitepaper, v); err != nil {
		return nil, err
	}
	v.Expires = ""
	if t.whitepaperNX, err = prepare(whitepaper, v); err != nil {
		return nil, err
	}
	return t, nil
}

// prepare executes tpl, inlines its CSS and derives the text part.
func prepare(tpl *template.Template, v view) (prepared, error) {
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, "layout", v); err != nil {
		return prepared{}, fmt.Errorf("emails: execute %s: %w", tpl.Name(), err)
	}
	htmlOut, err := inlineCSS(buf.String())
	if err != nil {
		return prepared{}, fmt.Errorf("emails: inline CSS of %s: %w", tpl.Name(), err)
	}
	text, err := textPart(tpl, v)
	if err != nil {
		return prepared{}, fmt.Errorf("emails: text part of %s: %w", tpl.Name(), err)
	}
	return prepared{subject: v.Subject, html: htmlOut, text: text}, nil
}

func inlineCSS(doc string) (string, error) {
	p, err := premailer.NewPremailerFromString(doc, premailer.NewOptions(premailer.WithKeepBangImportant(true)))
	if err != nil {
		return "", err
	}
	return p.Transform()
}

// textPart renders the message content and footer (not the
// layout chrome) as plain text.
func textPart(tpl *template.Template, v view) (string, error) {
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, "content", v); err != nil {
		return "", err
	}
	buf.WriteString("\n<hr>\n")
	if err := tpl.ExecuteTemplate(&buf, "footer", v); err != nil {
		return "", err
	}
	fmt.Fprintf(&buf, "<p>%s, %s</p><p>Polityka prywatności: %s</p>",
		html.EscapeString(v.Site.FirmName), html.EscapeString(v.Site.FirmAddress), html.EscapeString(v.Site.PrivacyURL))
	if v.Site.FirmLegal != "" {
		fmt.Fprintf(&buf, "<p>%s</p>", html.EscapeString(v.Site.FirmLegal))
	}
	if v.PreferencesURL != "" {
		fmt.Fprintf(&buf, "<p>Ustawienia newslettera: %s</p>", v.PreferencesURL)
	}
	if v.UnsubscribeURL != "" {
		fmt.Fprintf(&buf, "<p>Wypisz się z newslettera: %s</p>", v.UnsubscribeURL)
	}
	text, err := html2text.FromString(buf.String(), html2text.Options{PrettyTables: true})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(text) + "\n", nil
}

// fill substitutes per-message values; html values are escaped here.
func (p prepared) fill(subject string, vals map[string]string) Email {
	htmlPairs := make([]string, 0, 2*len(vals))
	textPairs := make([]string, 0, 2*len(vals))
	for k, v := range vals {
		htmlPairs = append(htmlPairs, k, html.EscapeString(v))
		textPairs = append(textPairs, k, v)
	}
	e := Email{
		Subject: subject,
		HTML:    strings.NewReplacer(htmlPairs...).Replace(p.html),
		Text:    strings.NewReplacer(textPairs...).Replace(p.text),
	}
	if u := vals[phUnsubscribe]; u != "" {
		e.Headers = UnsubscribeHeaders(u)
	}
	return e
}

// UnsubscribeHeaders are the RFC 2369 / RFC 8058 one-click headers.
func UnsubscribeHeaders(unsubscribeURL string) map[string]string {
	return map[string]string{
		"List-Unsubscribe":      "<" + unsubscribeURL + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	}
}

// Greeting opens every message. It names nobody: a name in the nominative
// after "Dzień dobry," is not Polish, its vocative cannot be derived
// reliably, and before confirmation no text a reader typed may appear in an
// email (the form would otherwise carry anyone's message to a stranger).
const Greeting = "Dzień dobry!"

// Confirmation is the double opt-in email.
func (t *Templates) Confirmation(confirmURL, unsubscribeURL string, withWhitepaper bool) Email {
	p := t.confirm
	if withWhitepaper {
		p = t.confirmWP
	}
	return p.fill(p.subject, map[string]string{
		phGreeting:    Greeting,
		phAction:      confirmURL,
		phUnsubscribe: unsubscribeURL,
	})
}

// Whitepaper is the email with the whitepaper's download link; expires is
// zero for a link that does not expire.
func (t *Templates) Whitepaper(downloadURL, unsubscribeURL string, expires time.Time) Email {
	p := t.whitepaperNX
	vals := map[string]string{
		phGreeting:    Greeting,
		phAction:      downloadURL,
		phUnsubscribe: unsubscribeURL,
	}
	if !expires.IsZero() {
		p = t.whitepaper
		vals[phExpires] = FormatDateTime(expires.In(t.site.Location))
	}
	return p.fill(p.subject, vals)
}

var monthsGenitive = [...]string{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
	"lipca", "sierpnia", "września", "października", "listopada", "grudnia"}

// FormatDate formats t the Polish way, e.g. "4 grudnia 2026".
func FormatDate(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), monthsGenitive[t.Month()-1], t.Year())
}

// FormatDateTime formats t as e.g. "4 grudnia 2026, godz. 14:05".
func FormatDateTime(t time.Time) string {
	return fmt.Sprintf("%s, godz. %02d:%02d", FormatDate(t), t.Hour(), t.Minute())
}
