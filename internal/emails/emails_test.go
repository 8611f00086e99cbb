package emails

import (
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
)

func testSite() Site {
	return Site{
		Title:           "Saldo · Wiedza",
		BaseURL:         "https://wiedza.example.pl/",
		FirmName:        "Biuro Rachunkowe Saldo sp. z o.o.",
		FirmAddress:     "ul. Przykładowa 12/3, 00-950 Warszawa",
		PrivacyURL:      "https://wiedza.example.pl/polityka-prywatnosci/",
		WhitepaperURL:   "https://wiedza.example.pl/biala-ksiega/",
		WhitepaperTitle: "Gotówka pod kontrolą",
		Location:        time.UTC,
	}
}

func newTemplates(t testing.TB) *Templates {
	t.Helper()
	tpl, err := New(testSite())
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestConfirmation(t *testing.T) {
	tpl := newTemplates(t)
	const confirmURL = "https://wiedza.example.pl/api/confirm?token=abc_DEF-123"
	const unsubURL = "https://wiedza.example.pl/api/unsubscribe?token=xyz"
	// The confirmation takes no name at all: nothing a reader typed
	// reaches an email sent before they confirmed.
	tests := []struct {
		name       string
		whitepaper bool
		want       []string
		wantNot    []string
	}{
		{"greets without a name", false, []string{"Dzień dobry!"}, []string{"biał", "Dzień dobry,", "Ustawienia newslettera"}},
		{"with whitepaper", true, []string{"Gotówka pod kontrolą", "Dzień dobry!"}, []string{"Ustawienia newslettera"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tpl.Confirmation(confirmURL, unsubURL, tt.whitepaper)
			if !strings.Contains(e.Subject, "Potwierdź zapis") {
				t.Errorf("subject = %q", e.Subject)
			}
			for _, part := range []string{e.HTML, e.Text} {
				if !strings.Contains(part, confirmURL) {
					t.Errorf("confirm URL missing from part:\n%s", part)
				}
				if strings.Contains(part, "KBPH") {
					t.Errorf("placeholder left in part:\n%s", part)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(e.HTML, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			// Not confirmed yet, so no preferences to change: the
			// confirmation has no preference link in either part.
			for _, w := range tt.wantNot {
				if strings.Contains(e.HTML, w) || strings.Contains(e.Text, w) {
					t.Errorf("HTML or text has %q", w)
				}
			}
			if e.Headers["List-Unsubscribe"] != "<"+unsubURL+">" || e.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
				t.Errorf("headers = %v", e.Headers)
			}
			if !strings.Contains(e.Text, "ul. Przykładowa 12/3") || !strings.Contains(e.Text, unsubURL) {
				t.Errorf("text part lacks postal address or unsubscribe link:\n%s", e.Text)
			}
			if strings.Contains(e.HTML, "<style") && !strings.Contains(e.HTML, `style="`) {
				t.Error("CSS was not inlined")
			}
		})
	}
}

func TestConfirmationInlinesButtonStyle(t *testing.T) {
	e := newTemplates(t).Confirmation("https://x.example.pl/c", "https://x.example.pl/u", false)
	i := strings.Index(e.HTML, `class="button"`)
	if i < 0 {
		t.Fatal("no button")
	}
	tag := e.HTML[strings.LastIndex(e.HTML[:i], "<"):]
	tag = tag[:strings.Index(tag, ">")]
	if !strings.Contains(tag, "background") {
		t.Fatalf("button has no inline background: %s", tag)
	}
}

func TestWhitepaper(t *testing.T) {
	tpl := newTemplates(t)
	exp := time.Date(2026, 12, 4, 14, 5, 0, 0, time.UTC)
	e := tpl.Whitepaper("https://x.example.pl/api/whitepaper?token=t", "https://x.example.pl/u", exp)
	if !strings.Contains(e.HTML, "4 grudnia 2026, godz. 14:05") || !strings.Contains(e.Text, "https://x.example.pl/api/whitepaper?token=t") {
		t.Fatalf("whitepaper email lacks expiry or link:\n%s", e.Text)
	}
	free := tpl.Whitepaper("https://x.example.pl/wp.pdf", "https://x.example.pl/u", time.Time{})
	if strings.Contains(free.HTML, "ważny do") {
		t.Fatal("non-expiring link shows an expiry")
	}
}

const sampleGuide = `Wstęp o **zaległościach** i [poradnik](/poradniki/inny/), [kotwica](#krok-2) oraz [zewnętrzny](https://isap.sejm.gov.pl/).

<script>alert("x")</script>

[zły link](javascript:alert(1))

![wykres](obrazek.png)

## Krok 1

Pierwszy akapit kroku.

## Krok 2

Drugi akapit z ąćęłńóśźż.

| A | B |
|---|---|
| 1 | 2 |
`

func testGuide(words int) guide.Guide {
	return guide.Guide{
		Slug:        "zalegla-faktura",
		Title:       "Rozmowa o zaległej fakturze",
		Description: "Jak rozmawiać o zaległościach bez psucia relacji.",
		Permalink:   "https://wiedza.example.pl/poradniki/zalegla-faktura/",
		Markdown:    sampleGuide,
		WordCount:   words,
	}
}

func TestNewsletter(t *testing.T) {
	tpl := newTemplates(t)
	e, err := tpl.Newsletter(testGuide(60), NewsletterOptions{FullTextMaxWords: 1200})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`href="https://wiedza.example.pl/poradniki/inny/"`,
		`href="https://wiedza.example.pl/poradniki/zalegla-faktura/#krok-2"`,
		`href="https://isap.sejm.gov.pl/"`,
		`src="https://wiedza.example.pl/poradniki/zalegla-faktura/obrazek.png"`,
		"Dzień dobry!",
		"%recipient.unsubscribe_url%",
		`<a href="%recipient.preferences_url%" style="color:#1f5f8b">Ustawienia newslettera</a>`,
		"ąćęłńóśźż",
		"Gotówka pod kontrolą",
		"ul. Przykładowa 12/3",
		"Jak rozmawiać o zaległościach", // the lead
	} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "javascript:", "KBPH", `href="/`, `src="obrazek`} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(e.Text, "Dzień dobry!") || !strings.Contains(e.Text, "https://wiedza.example.pl/poradniki/inny/") ||
		!strings.Contains(e.Text, "Ustawienia newslettera: %recipient.preferences_url%") {
		t.Errorf("text part:\n%s", e.Text)
	}
	if e.Subject != "Rozmowa o zaległej fakturze" || e.Headers["List-Unsubscribe"] != "<%recipient.unsubscribe_url%>" {
		t.Errorf("subject %q headers %v", e.Subject, e.Headers)
	}

	filled := e.Fill(RecipientVars("https://wiedza.example.pl/api/unsubscribe?token=T", "https://wiedza.example.pl/api/preferences?token=P"))
	if !strings.Contains(filled.HTML, "Dzień dobry!") || !strings.Contains(filled.Text, "Dzień dobry!") {
		t.Error("greeting not filled in both parts")
	}
	if !strings.Contains(filled.HTML, `href="https://wiedza.example.pl/api/preferences?token=P"`) {
		t.Error("preference link not filled in")
	}
	if filled.Headers["List-Unsubscribe"] != "<https://wiedza.example.pl/api/unsubscribe?token=T>" || strings.Contains(filled.HTML, "%recipient.") {
		t.Errorf("fill left variables: %v", filled.Headers)
	}
}

func TestNewsletterTruncatesLongGuides(t *testing.T) {
	tpl := newTemplates(t)
	e, err := tpl.Newsletter(testGuide(5000), NewsletterOptions{FullTextMaxWords: 1200, SummaryWords: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.HTML, "Czytaj dalej na stronie") || strings.Contains(e.HTML, "Drugi akapit") {
		t.Fatal("long guide not cut to its opening")
	}
	if strings.Contains(e.HTML, ">Krok 1<") && !strings.Contains(e.HTML, "Pierwszy akapit") {
		t.Fatal("a heading dangles without its section")
	}
}

func TestNewsletterRejectsRelativePermalink(t *testing.T) {
	g := testGuide(10)
	g.Permalink = "/poradniki/x/"
	if _, err := newTemplates(t).Newsletter(g, NewsletterOptions{}); err == nil {
		t.Fatal("want error for relative permalink")
	}
}

func BenchmarkConfirmation(b *testing.B) {
	tpl := newTemplates(b)
	b.ReportAllocs()
	for b.Loop() {
		tpl.Confirmation("https://wiedza.example.pl/api/confirm?token=abcdefghijklmnopqrstuvwxyz012345", "https://wiedza.example.pl/api/unsubscribe?token=abcdefghijklmnopqrstuvwxyz", true)
	}
}
