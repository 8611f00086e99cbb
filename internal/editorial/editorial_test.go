package editorial

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	corpus      = filepath.Join("testdata", "site")
	corpusNow   = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	topics      = []string{"rozmowy", "pieniadze"}
	corpusOpts  = Options{Root: corpus, Topics: topics, BaseURL: "https://wiedza.example.pl/", Now: corpusNow}
	cleanGuides = []string{"dobry.md", "drugi-dobry.md", "pakiet/index.md"}
)

// TestCorpus: every guide in testdata/site but the clean ones has one
// planted problem; each is found at its line, and nothing else is.
func TestCorpus(t *testing.T) {
	rep, err := Check(t.Context(), corpusOpts)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		file, rule string
		line       int
		sev        Severity
	}
	want := map[key]string{ // → a word the message must contain
		{"zly-link.md", RuleLink, 12, Error}:            "może chodziło o /poradniki/drugi-dobry/",
		{"zla-kotwica.md", RuleAnchor, 12, Error}:       "#sekcja-trzecia",
		{"zla-kotwica-tu.md", RuleAnchor, 12, Error}:    "jedyny-nagłówek",
		{"link-do-szkicu.md", RuleLink, 12, Error}:      "szkicu",
		{"wzgledny.md", RuleLink, 12, Error}:            "względny",
		{"bez-opisu.md", RuleDescription, 1, Error}:     "brak opisu",
		{"krotki-opis.md", RuleDescription, 3, Warning}: "15 znaków",
		{"dlugi-tytul.md", RuleTitle, 2, Warning}:       "poniżej 70",
		{"naglowek-h1.md", RuleHeading, 12, Error}:      "zacznij od ##",
		{"pominiety-poziom.md", RuleHeading, 12, Error}: "użyj ###",
		{"obrazek-bez-alt.md", RuleImage, 12, Error}:    "tekstu alternatywnego",
		{"obrazek-brak.md", RuleImage, 12, Error}:       "nie istnieje",
		{"surowy-html.md", RuleRawHTML, 12, Error}:      "surowy HTML",
		{"shortcode.md", RuleShortcode, 12, Error}:      "youtube",
		{"cudzyslowy.md", RuleQuotes, 12, Warning}:      "„…”",
		{"stary.md", RuleReviewed, 5, Warning}:          "2024-01-01",
		{"bez-reviewed.md", RuleReviewed, 1, Error}:     "reviewed",
		{"nowy-tag.md", RuleTags, 6, Warning}:           "nowy tag „zupełnie nowy”",
		{"pisownia-tagu.md", RuleTags, 6, Warning}:      "„należności”",
		{"zly-temat.md", RuleTopics, 7, Error}:          "„sport”",
		{"szkic.md", RulePlaceholder, 11, Error}:        Placeholder,
		{"zepsuty.md", RuleFrontMatter, 2, Error}:       "front matter",
	}
	got := map[key]bool{}
	for _, f := range rep.Findings {
		k := key{strings.TrimPrefix(f.File, "content/poradniki/"), f.Rule, f.Line, f.Severity}
		got[k] = true
		word, ok := want[k]
		switch {
		case !ok:
			t.Errorf("unexpected finding %s:%d: %s [%s]: %s", f.File, f.Line, f.Severity, f.Rule, f.Message)
		case !strings.Contains(f.Message, word):
			t.Errorf("%s:%d [%s]: message %q does not say %q", f.File, f.Line, f.Rule, f.Message, word)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("not found: %s:%d %s [%s]", k.file, k.line, k.sev, k.rule)
		}
	}
	wantGuides := len(want) + len(cleanGuides)
	if rep.Guides != wantGuides {
		t.Errorf("checked %d guides, want %d", rep.Guides, wantGuides)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name       string
		opts       func(*Options)
		wantGuides int
		wantRules  []string
	}{
		{"only one file", func(o *Options) { o.Files = []string{"content/poradniki/zly-link.md"} }, 1, []string{RuleLink}},
		{"absolute file", func(o *Options) {
			abs, _ := filepath.Abs(filepath.Join(corpus, "content/poradniki/dobry.md"))
			o.Files = []string{abs}
		}, 1, nil},
		{"skip drafts", func(o *Options) { o.SkipDrafts = true; o.Files = nil }, 25 - 1, nil},
		{"a year later everything is stale", func(o *Options) {
			o.Now = corpusNow.AddDate(1, 1, 0)
			o.Files = []string{"content/poradniki/dobry.md"}
		}, 1, []string{RuleReviewed}},
		{"unknown topic config", func(o *Options) {
			o.Topics = []string{"pieniadze"}
			o.Files = []string{"content/poradniki/dobry.md"}
		}, 1, []string{RuleTopics}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := corpusOpts
			tt.opts(&o)
			rep, err := Check(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Guides != tt.wantGuides {
				t.Errorf("guides = %d, want %d", rep.Guides, tt.wantGuides)
			}
			if tt.wantRules == nil {
				return
			}
			var rules []string
			for _, f := range rep.Findings {
				rules = append(rules, f.Rule)
			}
			if fmt.Sprint(rules) != fmt.Sprint(tt.wantRules) {
				t.Errorf("rules = %v, want %v\n%+v", rules, tt.wantRules, rep.Findings)
			}
		})
	}
	if _, err := Check(t.Context(), Options{Root: corpus, Files: []string{"content/poradniki/nie-ma.md"}}); err == nil {
		t.Error("a file that is not in content/ was accepted")
	}
}

func TestOutput(t *testing.T) {
	rep, err := Check(t.Context(), corpusOpts)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"content/poradniki/zly-link.md:12: błąd: odnośnik do /poradniki/drugi-dobyr/",
		"content/poradniki/cudzyslowy.md:12: ostrzeżenie: proste cudzysłowy",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text output lacks %q:\n%s", line, text.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(js.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != len(rep.Findings) {
		t.Fatalf("json has %d findings, want %d", len(list), len(rep.Findings))
	}
	columns := 0
	for _, f := range list {
		for _, k := range []string{"file", "line", "severity", "rule", "message"} {
			if _, ok := f[k]; !ok {
				t.Errorf("json finding lacks %q: %v", k, f)
			}
		}
		if c, ok := f["column"].(float64); ok && c > 0 {
			columns++
		}
	}
	if columns == 0 {
		t.Error("no finding in the JSON has a column")
	}
	empty := &Report{}
	js.Reset()
	_ = empty.WriteJSON(&js)
	if strings.TrimSpace(js.String()) != "[]" {
		t.Errorf("no findings in JSON = %q, want []", js.String())
	}
}

func TestSummaryPlurals(t *testing.T) {
	tests := []struct {
		r    Report
		want string
	}{
		{Report{Guides: 1, Errors: 1, Warnings: 1}, "Sprawdzono 1 poradnik: 1 błąd, 1 ostrzeżenie."},
		{Report{Guides: 3, Errors: 2, Warnings: 4}, "Sprawdzono 3 poradniki: 2 błędy, 4 ostrzeżenia."},
		{Report{Guides: 14, Errors: 0, Warnings: 12}, "Sprawdzono 14 poradników: 0 błędów, 12 ostrzeżeń."},
		{Report{Guides: 22, Errors: 25, Warnings: 112}, "Sprawdzono 22 poradniki: 25 błędów, 112 ostrzeżeń."},
	}
	for _, tt := range tests {
		if got := tt.r.Summary(); got != tt.want {
			t.Errorf("Summary() = %q, want %q", got, tt.want)
		}
	}
}

// TestRealContent: the site's own guides have no errors (warnings are
// for the writers to judge).
func TestRealContent(t *testing.T) {
	rep, err := Check(t.Context(), Options{Root: "../..", Topics: []string{"rozmowy", "pieniadze", "prawo"}, BaseURL: "https://wiedza.saldo.example.pl/"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Guides == 0 {
		t.Fatal("no guides found in ../../content")
	}
	for _, f := range rep.Findings {
		if f.Severity == Error {
			t.Errorf("%s:%d: %s", f.File, f.Line, f.Message)
		} else {
			t.Logf("%s:%d: warning: %s", f.File, f.Line, f.Message)
		}
	}
}

// BenchmarkCheck500 checks a generated site of 500 guides linking to one
// another, with headings, lists and anchors.
func BenchmarkCheck500(b *testing.B) {
	root := b.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(corpus, "config.toml"))
	if err != nil {
		b.Fatal(err)
	}
	write("config.toml", string(cfg))
	write("content/poradniki/_index.md", "---\ntitle: Poradniki\n---\n")
	const n = 500
	desc := strings.Repeat("Opis poradnika dla testu wydajności. ", 4)[:140]
	for i := range n {
		var body strings.Builder
		for s := range 8 {
			fmt.Fprintf(&body, "## Sekcja %d poradnika %d\n\n", s, i)
			fmt.Fprintf(&body, "Akapit z „cudzysłowem” i odnośnikiem do [poprzedniego](/poradniki/p-%d/#sekcja-%d-poradnika-%d) oraz [tagu](/tagi/tag-%d/).\n\n", (i+n-1)%n, s, (i+n-1)%n, i%20)
			body.WriteString("- punkt pierwszy z **pogrubieniem**\n- punkt drugi z `kodem`\n\n")
			body.WriteString(strings.Repeat("Zdanie wypełniające treść poradnika, żeby miał realną długość. ", 12) + "\n\n")
		}
		write(fmt.Sprintf("content/poradniki/p-%d.md", i), fmt.Sprintf(
			"---\ntitle: \"Poradnik numer %d\"\ndescription: \"%s\"\ndate: 2026-10-01\nreviewed: 2026-11-15\ntags: [\"tag-%d\"]\ntopics: [\"rozmowy\"]\n---\n\n%s", i, desc, i%20, body.String()))
	}
	opts := Options{Root: root, Topics: topics, Now: corpusNow}
	b.ResetTimer()
	for b.Loop() {
		rep, err := Check(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Guides != n || rep.Errors != 0 {
			b.Fatalf("guides %d, errors %d: %+v", rep.Guides, rep.Errors, rep.Findings[:min(3, len(rep.Findings))])
		}
	}
}
