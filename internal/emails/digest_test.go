package emails

import (
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// digestGuides are three real guides, deliberately out of order.
func digestGuides() []guide.Guide {
	return []guide.Guide{
		{Slug: "ulga-na-zle-dlugi", Title: "Ulga na złe długi w VAT i PIT/CIT – wierzyciel, dłużnik, biuro",
			Description: "Kiedy wierzyciel odzyska VAT i obniży podatek od niezapłaconej faktury, co musi zrobić dłużnik i jak biuro może skorzystać z ulgi przy własnych fakturach.",
			Permalink:   "https://wiedza.example.pl/poradniki/ulga-na-zle-dlugi/", Date: day(2026, 12, 2), ReadingTime: 9},
		{Slug: "przeplywy-pieniezne-malej-firmy", Title: "Jak pomóc małej firmie zapanować nad przepływami pieniężnymi",
			Description: "Kalendarz płatności, rachunek VAT, należności i prosta prognoza na 13 tygodni – jak biuro rachunkowe może pomóc klientowi, któremu brakuje gotówki.",
			Permalink:   "https://wiedza.example.pl/poradniki/przeplywy-pieniezne-malej-firmy/", Date: day(2026, 11, 24), ReadingTime: 7},
		{Slug: "ksef-w-biurze-rachunkowym", Title: "KSeF w biurze rachunkowym: uprawnienia, terminy i wycena pracy",
			Description: "Kto wystawia, kto odbiera, jakie uprawnienia nadaje klient biuru, co znaczy numer KSeF i jak wycenić dodatkową pracę – oraz co zmienia się 1 stycznia 2027 r.",
			Permalink:   "https://wiedza.example.pl/poradniki/ksef-w-biurze-rachunkowym/", Date: day(2026, 12, 2), ReadingTime: 6},
	}
}

func testDigest(t *testing.T) Email {
	t.Helper()
	e, err := newTemplates(t).Digest(DigestContent{Guides: digestGuides(), Date: day(2026, 12, 7)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDigestNewestFirst(t *testing.T) {
	in := digestGuides()
	e, err := newTemplates(t).Digest(DigestContent{Guides: in, Date: day(2026, 12, 7)})
	if err != nil {
		t.Fatal(err)
	}
	// Same day: by slug; then the older guide.
	want := []string{"ksef-w-biurze-rachunkowym", "ulga-na-zle-dlugi", "przeplywy-pieniezne-malej-firmy"}
	for part, body := range map[string]string{"HTML": e.HTML, "text": e.Text} {
		last := -1
		for _, slug := range want {
			i := strings.Index(body, "/poradniki/"+slug+"/")
			if i <= last {
				t.Fatalf("%s: %s is not after the previous guide (order want %v):\n%s", part, slug, want, body)
			}
			last = i
		}
	}
	if in[0].Slug != "ulga-na-zle-dlugi" {
		t.Error("Digest reordered the caller's slice")
	}
}

func TestNewGuides(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{1, "1 nowy poradnik"},
		{2, "2 nowe poradniki"},
		{4, "4 nowe poradniki"},
		{5, "5 nowych poradników"},
		{11, "11 nowych poradników"},
		{12, "12 nowych poradników"},
		{14, "14 nowych poradników"},
		{21, "21 nowych poradników"},
		{22, "22 nowe poradniki"},
		{24, "24 nowe poradniki"},
		{25, "25 nowych poradników"},
		{101, "101 nowych poradników"},
		{112, "112 nowych poradników"},
		{1003, "1003 nowe poradniki"},
	}
	for _, tt := range tests {
		if got := NewGuides(tt.n); got != tt.want {
			t.Errorf("NewGuides(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestDigestSubject(t *testing.T) {
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Skip("no time zone data")
	}
	site := testSite()
	site.Location = warsaw
	tpl, err := New(site)
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC on 6 December is already 7 December in Warsaw.
	issue := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		guides int
		want   string
	}{
		{1, "1 nowy poradnik – przegląd z 7 grudnia 2026"},
		{3, "3 nowe poradniki – przegląd z 7 grudnia 2026"},
		{5, "5 nowych poradników – przegląd z 7 grudnia 2026"},
		{12, "12 nowych poradników – przegląd z 7 grudnia 2026"},
		{22, "22 nowe poradniki – przegląd z 7 grudnia 2026"},
	}
	for _, tt := range tests {
		gs := make([]guide.Guide, tt.guides)
		for i := range gs {
			gs[i] = digestGuides()[0]
		}
		e, err := tpl.Digest(DigestContent{Guides: gs, Date: issue})
		if err != nil {
			t.Fatal(err)
		}
		if e.Subject != tt.want {
			t.Errorf("%d guides: subject %q, want %q", tt.guides, e.Subject, tt.want)
		}
		if !strings.Contains(e.HTML, "<h1") || !strings.Contains(e.HTML, "Przegląd poradników z 7 grudnia 2026</h1>") {
			t.Errorf("%d guides: heading lacks the issue date", tt.guides)
		}
	}
}

func TestDigestEscapes(t *testing.T) {
	g := digestGuides()[0]
	g.Title = `<script>alert("x")</script> Tytuł`
	g.Description = `"><img src=x onerror=alert(1)> opis`
	e, err := newTemplates(t).Digest(DigestContent{Guides: []guide.Guide{g}, Date: day(2026, 12, 7)})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img", "alert(1)>"} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(e.HTML, "&lt;script&gt;") || !strings.Contains(e.HTML, "&lt;img src=x") {
		t.Error("hostile title or description missing from the HTML, escaped")
	}
	// The text part is plain text: the title as written.
	if !strings.Contains(e.Text, `<script>alert("x")</script> Tytuł`) {
		t.Errorf("text part lacks the title as written:\n%s", e.Text)
	}
}

func TestDigestRejects(t *testing.T) {
	bad := func(permalink string) []guide.Guide {
		gs := digestGuides()
		gs[1].Permalink = permalink
		return gs
	}
	tests := []struct {
		name   string
		guides []guide.Guide
	}{
		{"no guides", nil},
		{"empty slice", []guide.Guide{}},
		{"relative permalink", bad("/poradniki/x/")},
		{"empty permalink", bad("")},
		{"javascript permalink", bad("javascript:alert(1)")},
		{"no host", bad("https:///poradniki/x/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newTemplates(t).Digest(DigestContent{Guides: tt.guides, Date: day(2026, 12, 7)}); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestDigestRecipientVariables(t *testing.T) {
	e := testDigest(t)
	tests := []struct {
		part string
		body string
		want []string
	}{
		{"HTML", e.HTML, []string{"Dzień dobry!", `href="%recipient.unsubscribe_url%"`, `href="%recipient.preferences_url%"`}},
		{"text", e.Text, []string{"Dzień dobry!", "%recipient.unsubscribe_url%", "%recipient.preferences_url%"}},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(tt.body, w) {
				t.Errorf("%s lacks %q", tt.part, w)
			}
		}
		if strings.Contains(tt.body, "KBPH") {
			t.Errorf("%s has a placeholder left", tt.part)
		}
	}
	if e.Headers["List-Unsubscribe"] != "<%recipient.unsubscribe_url%>" || e.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("headers = %v", e.Headers)
	}

	const unsub, prefs = "https://wiedza.example.pl/api/unsubscribe?token=U&k=1", "https://wiedza.example.pl/api/preferences?token=P"
	f := e.Fill(RecipientVars(unsub, prefs))
	if strings.Contains(f.HTML+f.Text, "%recipient.") {
		t.Error("Fill left recipient variables")
	}
	if !strings.Contains(f.HTML, "Dzień dobry!") || !strings.Contains(f.Text, prefs) || !strings.Contains(f.HTML, prefs) {
		t.Error("greeting or preference link not filled in")
	}
	if f.Headers["List-Unsubscribe"] != "<"+unsub+">" {
		t.Errorf("List-Unsubscribe = %q, want the unsubscribe link (RFC 8058 one-click unsubscribes)", f.Headers["List-Unsubscribe"])
	}
}

func TestDigestTextPart(t *testing.T) {
	e := testDigest(t)
	for _, g := range digestGuides() {
		for _, w := range []string{g.Title, g.Permalink, g.Description} {
			if !strings.Contains(e.Text, w) {
				t.Errorf("text part lacks %q", w)
			}
		}
	}
	for _, w := range []string{"2 grudnia 2026 · Czas czytania: 9 min", "24 listopada 2026 · Czas czytania: 7 min", "ul. Przykładowa 12/3"} {
		if !strings.Contains(e.Text, w) || !strings.Contains(e.HTML, w) {
			t.Errorf("text or HTML lacks %q", w)
		}
	}
	if !strings.Contains(e.Text, "Ustawienia newslettera: %recipient.preferences_url%") {
		t.Errorf("text part's footer lacks the preference link:\n%s", e.Text)
	}
}
