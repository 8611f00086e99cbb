package prefs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// baseURL is the public address in links; tests swap it for a server's
// own address when they follow a link.
const baseURL = "http://kb.test/"

// testGuide is one of the test site's own guides.
type testGuide struct {
	slug, title, description string
	day                      int      // of March 2026 (first build) or April (second): later is newer
	topics                   []string // none: a guide for everyone
	words                    int      // the body's length, which sets the reading time
}

// The guides of the first build, and those the second adds: one per topic
// and one without topics in each.
var (
	firstGuides = []testGuide{
		{"rozmowa-o-cenie-uslug", "Rozmowa o cenie usług z nowym klientem",
			"Jak przedstawić cenę obsługi księgowej nowemu klientowi, zanim zapyta o rabat – i co odpowiedzieć, gdy porówna ją z ofertą tańszego biura.",
			2, []string{"rozmowy"}, 120},
		{"bufor-gotowki-na-podatki", "Bufor gotówki na podatki i składki",
			"Ile odkładać co miesiąc na VAT, PIT i składki, żeby termin płatności nie zaskoczył klienta – prosty arkusz, który biuro może mu przygotować.",
			3, []string{"pieniadze"}, 650},
		{"kalendarz-terminow-na-kwartal", "Kalendarz terminów biura na kwartał",
			"Jeden kalendarz na kwartał dla biura i klientów: które terminy wpisać, kiedy przypominać o dokumentach i jak uniknąć gonienia w ostatnim dniu.",
			4, []string{"prawo"}, 300},
		{"porzadek-w-dokumentach", "Porządek w dokumentach klienta",
			"Jak ustalić z klientem, w jakiej postaci i do kiedy przekazuje dokumenty, żeby miesiąc w biurze nie kończył się nocnym księgowaniem.",
			5, nil, 1100},
	}
	secondGuides = []testGuide{
		{"pytania-przed-podpisaniem-umowy", "Pytania przed podpisaniem umowy z biurem",
			"Pięć pytań, które warto zadać nowemu klientowi przed podpisaniem umowy, żeby obie strony wiedziały, czego się spodziewać od pierwszego miesiąca.",
			20, []string{"rozmowy"}, 200},
		{"przypomnienie-o-platnosci", "Przypomnienie o płatności, które działa",
			"Jak napisać przypomnienie o zaległej fakturze, żeby klient zapłacił, a nie poczuł się urażony – trzy gotowe wersje na różne etapy zaległości.",
			21, []string{"pieniadze"}, 450},
		{"zmiany-w-terminach-od-stycznia", "Zmiany w terminach od stycznia",
			"Co zmienia się w terminach od stycznia i jak uprzedzić o tym klientów biura jednym e-mailem, zanim zaczną dzwonić z pytaniami i wątpliwościami.",
			22, []string{"prawo"}, 350},
		{"jak-czytac-raport-miesieczny", "Jak czytać raport miesięczny od biura",
			"Krótki przewodnik dla klienta: co oznaczają liczby w miesięcznym raporcie z biura i na które z nich patrzeć, zanim podejmie decyzję o wydatkach.",
			23, nil, 800},
	}
)

// welcomeSlugs are the start-here guides of the test site's welcome email.
var welcomeSlugs = []string{"rozmowa-o-cenie-uslug", "bufor-gotowki-na-podatki", "porzadek-w-dokumentach"}

// date is when g was published: March in the first build, April in the
// second.
func (g testGuide) date(second bool) string {
	month := 3
	if second {
		month = 4
	}
	return fmt.Sprintf("2026-%02d-%02d", month, g.day)
}

func (g testGuide) markdown(second bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %q\ndescription: %q\ndate: %s\nreviewed: 2026-12-02\ntags: [\"komunikacja\"]\n",
		g.title, g.description, g.date(second))
	if len(g.topics) > 0 {
		quoted, _ := json.Marshal(g.topics)
		fmt.Fprintf(&b, "topics: %s\n", quoted)
	}
	b.WriteString("---\n\n")
	sentence := strings.Fields("Biuro ustala z klientem jasne zasady, zapisuje je w jednym miejscu i wraca do nich, gdy coś się zmienia.")
	for i := range g.words {
		if i > 0 && i%60 == 0 {
			b.WriteString("\n\n")
		} else if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(sentence[i%len(sentence)])
	}
	b.WriteString("\n")
	return b.String()
}

// stage is one build of the test site: its sources and what kb build made
// of them.
type stage struct {
	root, public, private string
	// guides are the site's guides as the build indexed them, by slug.
	guides map[string]builtGuide
}

// builtGuide is a guide as kb build indexes it for kb serve.
type builtGuide struct {
	Slug, Title, Description, Permalink string
	Date                                time.Time
	ReadingTime                         int
	Topics                              []string
}

// guide is the build of one of the test site's guides.
func (s stage) guide(t *testing.T, slug string) builtGuide {
	t.Helper()
	g, ok := s.guides[slug]
	if !ok {
		t.Fatalf("the build has no guide %s", slug)
	}
	return g
}

// sites are the two builds, made once for the package: the first with
// firstGuides, the second with all eight.
var sites struct {
	once          sync.Once
	dir           string // made by TestMain, removed after the tests
	first, second stage
	err           string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kb-e2e-prefs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sites.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// builds returns the two builds of the test site, building them on first
// use.
func builds(t *testing.T) (first, second stage) {
	t.Helper()
	sites.once.Do(func() {
		ok := false
		defer func() {
			if !ok {
				sites.err = "building the test site failed in an earlier test"
			}
		}()
		sites.first = buildStage(t, filepath.Join(sites.dir, "first"), firstGuides, nil)
		sites.second = buildStage(t, filepath.Join(sites.dir, "second"), firstGuides, secondGuides)
		ok = true
	})
	if sites.err != "" {
		t.Fatal(sites.err)
	}
	return sites.first, sites.second
}

// buildStage writes the test site into dir/site — a copy of the real one
// whose own guides are never mailed, with first and second as its guides
// for the newsletter — and builds it.
func buildStage(t *testing.T, dir string, first, second []testGuide) stage {
	t.Helper()
	s := stage{root: filepath.Join(dir, "site"), public: filepath.Join(dir, "public"), private: filepath.Join(dir, "private")}
	kbproc.CopySite(t, s.root)
	guides := filepath.Join(s.root, "content", "poradniki")
	real, err := filepath.Glob(filepath.Join(guides, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range real {
		if filepath.Base(path) == "_index.md" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(string(b), "---\n")
		fm, body, closed := strings.Cut(rest, "\n---\n")
		if !ok || !closed {
			t.Fatalf("%s: no YAML front matter to mark newsletter: false", path)
		}
		fm = newsletterKey.ReplaceAllString(fm+"\n", "")
		if err := os.WriteFile(path, []byte("---\nnewsletter: false\n"+fm+"---\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, list := range [][]testGuide{first, second} {
		for _, g := range list {
			if err := os.WriteFile(filepath.Join(guides, g.slug+".md"), []byte(g.markdown(i == 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	configure(t, filepath.Join(s.root, "config.toml"))
	kbproc.MustRun(t, kbproc.Options{Root: s.root}, "build", "--out", s.public, "--private", s.private, "--base-url", baseURL)

	raw, err := os.ReadFile(filepath.Join(s.public, "kb-shell", "guides.json"))
	if err != nil {
		t.Fatalf("the build's guides index: %v", err)
	}
	var list []builtGuide
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("the build's guides index: %v", err)
	}
	s.guides = map[string]builtGuide{}
	for _, g := range list {
		s.guides[g.Slug] = g
	}
	for _, g := range slices.Concat(first, second) {
		if _, ok := s.guides[g.slug]; !ok {
			t.Fatalf("kb build did not publish the test guide %s", g.slug)
		}
	}
	return s
}

// newsletterKey is a newsletter: line of a real guide's front matter,
// replaced by the test's.
var newsletterKey = regexp.MustCompile(`(?m)^newsletter:.*\n`)

// configure sets the test site's newsletter: every test guide is due, the
// welcome email suggests welcomeSlugs, and the scheduled digest is days
// away, so that only kb send --digest sends one.
func configure(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	far := strings.ToLower(time.Now().In(warsaw).AddDate(0, 0, 3).Weekday().String())
	welcome, _ := json.Marshal(welcomeSlugs)
	cfg := string(b)
	for _, r := range []struct{ re, with string }{
		{`(?m)^(\s*)since = .*$`, "${1}since = 2026-03-01"},
		{`(?m)^(\s*)welcome = \[.*\]$`, "${1}welcome = " + strings.ReplaceAll(string(welcome), ",", ", ")},
		{`(?m)^(\s*)schedule = "weekly"$`, `${1}schedule = "weekly"`}, // kept: the weekday counts only if weekly
		{`(?m)^(\s*)weekday = ".*"$`, `${1}weekday = "` + far + `"`},
	} {
		re := regexp.MustCompile(r.re)
		if len(re.FindAllString(cfg, -1)) != 1 {
			t.Fatalf("config.toml: want one line matching %s to change; the test site's setup needs updating", r.re)
		}
		cfg = re.ReplaceAllString(cfg, r.with)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}
