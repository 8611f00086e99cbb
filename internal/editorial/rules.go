package editorial

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// Limits of the front matter texts, in characters (runes).
const (
	DescriptionMin = 110
	DescriptionMax = 160
	TitleMax       = 69 // "under 70"
	// ReviewedMaxAge is how old a reviewed date may get before a warning.
	ReviewedMaxAge = 12 // months
	// Placeholder starts the archetype's paragraphs the writer must replace.
	Placeholder = "DO NAPISANIA"
)

type checker struct {
	opts   Options
	idx    *siteIndex
	docs   []*document
	tagUse map[string]map[string][]string
}

// report collects one guide's findings.
type report struct {
	d     *document
	out   []Finding
	lines map[string]bool // rule+line already reported (one per line)
}

func (r *report) add(sev Severity, rule string, line, col int, format string, args ...any) {
	r.out = append(r.out, Finding{File: r.d.rel, Line: line, Column: col, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// fmLine is the line of a front matter key, or of the header.
func (d *document) keyLine(key string) int {
	if l, ok := d.fmLines[key]; ok {
		return l
	}
	return max(d.fmLine, 1)
}

func (c *checker) guide(d *document) []Finding {
	r := &report{d: d, lines: map[string]bool{}}
	if d.fmLine == 0 && d.fmErr == nil {
		r.add(Error, RuleFrontMatter, 1, 1, "brak front matter – plik musi zaczynać się od --- z title, description, date i reviewed (kb new poradniki/nazwa.md tworzy gotowy szablon)")
	}
	if d.fmErr != nil {
		r.add(Error, RuleFrontMatter, d.fmErrAt, 0, "front matter się nie wczytuje: %v – popraw składnię YAML (porównaj z innym poradnikiem)", d.fmErr)
	} else if d.fmLine != 0 {
		c.frontMatter(r)
	}
	c.body(r)
	return r.out
}

func (c *checker) frontMatter(r *report) {
	d := r.d
	title, _ := d.fm["title"].(string)
	title = strings.TrimSpace(title)
	switch n := utf8.RuneCountInString(title); {
	case title == "":
		r.add(Error, RuleTitle, d.keyLine("title"), 0, "brak tytułu (title:) – dopisz go: to nagłówek strony i temat e-maila")
	case n > TitleMax:
		r.add(Warning, RuleTitle, d.keyLine("title"), 0, "tytuł ma %d znaków – skróć go poniżej 70, bo wyszukiwarki i programy pocztowe go obetną (dłuższy temat e-maila: newsletter_subject)", n)
	}
	if strings.Contains(title, `"`) {
		r.add(Warning, RuleQuotes, d.keyLine("title"), 0, "proste cudzysłowy \"…\" w tytule – napisz „…”: tytuł trafia do tematu e-maila bez zmian")
	}

	desc, _ := d.fm["description"].(string)
	desc = strings.TrimSpace(desc)
	switch n := utf8.RuneCountInString(desc); {
	case desc == "":
		r.add(Error, RuleDescription, d.keyLine("description"), 0, "brak opisu (description:) – napisz jedno zdanie, %d–%d znaków: to opis w wyszukiwarce i początek e-maila", DescriptionMin, DescriptionMax)
	case n < DescriptionMin:
		r.add(Warning, RuleDescription, d.keyLine("description"), 0, "opis ma %d znaków – rozwiń go do %d–%d, żeby wyszukiwarka miała co pokazać", n, DescriptionMin, DescriptionMax)
	case n > DescriptionMax:
		r.add(Warning, RuleDescription, d.keyLine("description"), 0, "opis ma %d znaków – skróć go do %d–%d, bo wyszukiwarka go obetnie", n, DescriptionMin, DescriptionMax)
	}
	if strings.Contains(desc, `"`) {
		r.add(Warning, RuleQuotes, d.keyLine("description"), 0, "proste cudzysłowy \"…\" w opisie – napisz „…”: opis trafia do e-maila bez zmian")
	}

	c.reviewed(r)
	c.tags(r)
	c.topics(r)
}

func (c *checker) reviewed(r *report) {
	d := r.d
	line := d.keyLine("reviewed")
	v, ok := d.fm["reviewed"]
	if !ok || v == nil || v == "" {
		r.add(Error, RuleReviewed, line, 0, "brak daty sprawdzenia (reviewed: RRRR-MM-DD) – dopisz dzień, w którym tekst był ostatnio sprawdzony")
		return
	}
	var rev time.Time
	switch v := v.(type) {
	case string:
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
		if err != nil {
			r.add(Error, RuleReviewed, line, 0, "reviewed: %q to nie data – napisz ją jako RRRR-MM-DD, np. %s", v, c.opts.Now.Format(time.DateOnly))
			return
		}
		rev = t
	default:
		t, ok := toTime(v)
		if !ok {
			r.add(Error, RuleReviewed, line, 0, "reviewed: %v to nie data – napisz ją jako RRRR-MM-DD, np. %s", v, c.opts.Now.Format(time.DateOnly))
			return
		}
		rev = t
	}
	if !d.date.IsZero() && rev.Format(time.DateOnly) < d.date.Format(time.DateOnly) {
		r.add(Error, RuleReviewed, line, 0, "reviewed: %s jest przed datą publikacji (date: %s) – ustaw reviewed na dzień publikacji albo późniejszy",
			rev.Format(time.DateOnly), d.date.Format(time.DateOnly))
		return
	}
	if limit := c.opts.Now.AddDate(0, -ReviewedMaxAge, 0); rev.Format(time.DateOnly) < limit.Format(time.DateOnly) {
		r.add(Warning, RuleReviewed, line, 0, "tekst sprawdzony ostatnio %s, ponad rok temu – przejrzyj przepisy, kwoty i terminy, a potem ustaw reviewed: na dzień sprawdzenia",
			rev.Format(time.DateOnly))
	}
}

func (c *checker) tags(r *report) {
	d := r.d
	line := d.keyLine("tags")
	tags, ok := stringList(d.fm["tags"])
	if !ok {
		r.add(Error, RuleTags, line, 0, `tags: to nie lista – napisz tags: ["pierwszy tag", "drugi tag"]`)
		return
	}
	if len(tags) == 0 {
		r.add(Warning, RuleTags, line, 0, "brak tagów – dodaj jeden lub dwa tagi innych poradników: z nich powstają strony tagów i „Powiązane poradniki”")
		return
	}
	for _, t := range tags {
		if strings.TrimSpace(t) == "" {
			r.add(Error, RuleTags, line, 0, "pusty tag – usuń go albo wpisz nazwę")
			continue
		}
		others := map[string]int{} // other guides' spellings of this tag
		for spelling, files := range c.tagUse[tagKey(t)] {
			for _, f := range files {
				if f != d.rel {
					others[spelling]++
				}
			}
		}
		if others[t] > 0 {
			continue
		}
		if len(others) > 0 {
			r.add(Warning, RuleTags, line, 0, "tag „%s” inne poradniki piszą „%s” – użyj tej samej pisowni, bo to ta sama strona tagu", t, mostUsed(others))
			continue
		}
		r.add(Warning, RuleTags, line, 0, "nowy tag „%s”: żaden inny poradnik go nie ma – czy na pewno? Istniejące: %s", t, c.knownTags(d.rel))
	}
}

func mostUsed(m map[string]int) string {
	best := ""
	for k, n := range m {
		if best == "" || n > m[best] || (n == m[best] && k < best) {
			best = k
		}
	}
	return best
}

// knownTags lists the tags other published guides use.
func (c *checker) knownTags(except string) string {
	seen := map[string]bool{}
	for _, spellings := range c.tagUse {
		for s, files := range spellings {
			if slices.ContainsFunc(files, func(f string) bool { return f != except }) {
				seen[s] = true
			}
		}
	}
	list := sortedKeys(seen)
	if len(list) == 0 {
		return "(brak)"
	}
	const show = 20
	if len(list) > show {
		return strings.Join(list[:show], ", ") + fmt.Sprintf(" i %d innych", len(list)-show)
	}
	return strings.Join(list, ", ")
}

func (c *checker) topics(r *report) {
	d := r.d
	line := d.keyLine("topics")
	topics, ok := stringList(d.fm["topics"])
	if !ok {
		r.add(Error, RuleTopics, line, 0, `topics: to nie lista – napisz topics: ["%s"]`, strings.Join(c.opts.Topics, `", "`))
		return
	}
	for _, t := range topics {
		if !slices.Contains(c.opts.Topics, t) {
			r.add(Error, RuleTopics, line, 0, "nieznany temat newslettera „%s” – dozwolone: %s (params.newsletter.topics w config.toml); bez topics e-mail dostaną wszyscy",
				t, strings.Join(c.opts.Topics, ", "))
		}
	}
}

var shortcodeRe = regexp.MustCompile(`\{\{[<%]\s*/?\s*([A-Za-z0-9_./-]*)`)

func (c *checker) body(r *report) {
	d := r.d
	// Hugo expands shortcodes before markdown, even inside code blocks.
	for _, m := range shortcodeRe.FindAllSubmatchIndex(d.body, -1) {
		line, col := d.pos(m[0])
		r.add(Error, RuleShortcode, line, col, "shortcode {{< %s >}} w poradniku – e-maile powstają z tego samego markdownu i go nie rozumieją; zapisz to zwykłym markdownem",
			d.body[m[2]:m[3]])
	}
	level := 1 // the title is the h1
	_ = ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.CodeSpan, *ast.FencedCodeBlock, *ast.CodeBlock:
			return ast.WalkSkipChildren, nil
		case *ast.Heading:
			line, col := d.nodePos(n)
			switch {
			case n.Level == 1:
				r.add(Error, RuleHeading, line, col, "nagłówek # w treści – tytuł (title:) jest jedynym nagłówkiem pierwszego stopnia; zacznij od ##")
			case n.Level > level+1:
				r.add(Error, RuleHeading, line, col, "nagłówek %s po %s pomija poziom – użyj %s",
					strings.Repeat("#", n.Level), strings.Repeat("#", max(level, 1)), strings.Repeat("#", level+1))
			}
			level = n.Level
		case *ast.Paragraph:
			if lines := n.Lines(); lines.Len() > 0 && bytes.HasPrefix(bytes.TrimSpace(lines.Value(d.body)), []byte(Placeholder)) {
				line, col := d.nodePos(n)
				r.add(Error, RulePlaceholder, line, col, "akapit „%s” z szablonu – napisz go albo usuń", Placeholder)
			}
		case *ast.HTMLBlock, *ast.RawHTML:
			line, col := d.nodePos(n)
			r.add(Error, RuleRawHTML, line, col, "surowy HTML w poradniku – ani strona, ani e-mail go nie pokażą; zapisz to markdownem (lista, tabela, **pogrubienie**, > cytat)")
			return ast.WalkSkipChildren, nil
		case *ast.Link:
			c.link(r, n, string(n.Destination))
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL {
				c.link(r, n, string(n.URL(d.body)))
			}
		case *ast.Image:
			c.image(r, n)
		case *ast.Text:
			if bytes.IndexByte(n.Segment.Value(d.body), '"') >= 0 {
				line, col := d.pos(n.Segment.Start + bytes.IndexByte(n.Segment.Value(d.body), '"'))
				if key := fmt.Sprint(RuleQuotes, line); !r.lines[key] {
					r.lines[key] = true
					r.add(Warning, RuleQuotes, line, col, "proste cudzysłowy \"…\" – po polsku „…”: strona je zamieni, ale e-mail pokaże proste")
				}
			}
		case *east.FootnoteLink, *east.FootnoteBacklink:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
}

// link checks one link: internal ones must resolve, anchors included.
func (c *checker) link(r *report, n ast.Node, dest string) {
	d := r.d
	line, col := d.nodePos(n)
	dest = strings.TrimSpace(dest)
	if dest == "" {
		r.add(Error, RuleLink, line, col, "pusty odnośnik [tekst]() – wpisz adres w nawiasach")
		return
	}
	u, err := url.Parse(dest)
	if err != nil {
		r.add(Error, RuleLink, line, col, "nieprawidłowy adres %q – sprawdź, czy nie ma w nim spacji ani nawiasów", dest)
		return
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		if base, err := url.Parse(c.opts.BaseURL); err != nil || base.Host == "" || !strings.EqualFold(u.Host, base.Host) {
			return // external
		}
		r.add(Warning, RuleLink, line, col, "pełny adres własnej strony %s – napisz go od ukośnika: %s (działa na stronie i w e-mailu)", dest, cmpPath(u))
	case u.Scheme != "" || strings.HasPrefix(dest, "//"):
		return // mailto:, tel:, another host
	case u.Path == "" && u.Fragment != "":
		if !d.ids[u.Fragment] && !c.idx.templateIDs[u.Fragment] {
			r.add(Error, RuleAnchor, line, col, "kotwica #%s nie pasuje do żadnego nagłówka tego poradnika%s", u.Fragment, idHint(d.ids))
		}
		return
	case !strings.HasPrefix(u.Path, "/"):
		if d.bundle && u.Path != "" && fileExists(filepath.Join(c.opts.Root, filepath.Dir(d.rel), filepath.FromSlash(u.Path))) {
			return
		}
		r.add(Error, RuleLink, line, col, "względny odnośnik %s – w e-mailu nie zadziała; napisz adres od ukośnika, np. /%s/nazwa-poradnika/", dest, GuidesDir)
		return
	}
	c.internal(r, line, col, u)
}

func cmpPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.Fragment != "" {
		p += "#" + u.Fragment
	}
	return p
}

// internal resolves a root-relative link against the predicted site.
func (c *checker) internal(r *report, line, col int, u *url.URL) {
	d, p := r.d, u.Path
	if p == "" {
		p = "/"
	}
	if c.idx.files[p] || c.isResource(p) {
		return
	}
	key := strings.TrimSuffix(p, "index.html")
	if path.Ext(key) == "" && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	if t, ok := c.idx.pages[key]; ok {
		switch {
		case t.draft && !d.draft:
			r.add(Error, RuleLink, line, col, "odnośnik do szkicu %s (%s, draft: true) – nie ma go na stronie; usuń odnośnik albo opublikuj tamten poradnik", p, t.rel)
		case t.future && !d.future:
			r.add(Warning, RuleLink, line, col, "odnośnik do %s, który ukaże się dopiero %s – do tego dnia odnośnik nie będzie działał", p, t.date.Format(time.DateOnly))
		}
		if u.Fragment != "" && !t.ids[u.Fragment] && !c.idx.templateIDs[u.Fragment] {
			r.add(Error, RuleAnchor, line, col, "kotwica #%s nie pasuje do żadnego nagłówka w %s%s", u.Fragment, t.rel, idHint(t.ids))
		}
		return
	}
	if key == c.idx.tagsPath {
		return
	}
	if slug, ok := c.termFromPath(key); ok {
		if !c.idx.tags[slug] {
			r.add(Error, RuleLink, line, col, "odnośnik do strony tagu %s – żaden opublikowany poradnik nie ma takiego tagu; sprawdź pisownię (adres tagu to jego nazwa bez polskich znaków, spacje jako -)", p)
		}
		return
	}
	hint := ""
	if near := c.idx.nearest(key); near != "" {
		hint = fmt.Sprintf("; może chodziło o %s?", near)
	}
	r.add(Error, RuleLink, line, col, "odnośnik do %s – nie ma takiej strony ani pliku%s", p, hint)
}

// termFromPath reads a tag slug out of a term page path.
func (c *checker) termFromPath(p string) (string, bool) {
	prefix, suffix, ok := strings.Cut(c.idx.termPath, ":slug")
	if !ok || !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, suffix) || len(p) <= len(prefix)+len(suffix) {
		return "", false
	}
	slug := p[len(prefix) : len(p)-len(suffix)]
	return slug, !strings.Contains(slug, "/")
}

// isResource reports whether p is a file of a page bundle, e.g.
// /poradniki/x/wykres.png next to content/poradniki/x/index.md.
func (c *checker) isResource(p string) bool {
	dir, file := path.Split(p)
	t, ok := c.idx.pages[dir]
	if !ok || !t.bundle || file == "" {
		return false
	}
	return fileExists(filepath.Join(c.opts.Root, filepath.Dir(t.rel), file))
}

func (c *checker) image(r *report, n *ast.Image) {
	d := r.d
	line, col := d.nodePos(n)
	dest := string(n.Destination)
	if strings.TrimSpace(plainText(n, d.body)) == "" {
		r.add(Error, RuleImage, line, col, "obrazek %s bez tekstu alternatywnego – opisz w ![…](…), co przedstawia (czytniki ekranu, e-maile z wyłączonymi obrazkami)", dest)
	}
	u, err := url.Parse(dest)
	switch {
	case err != nil || dest == "":
		r.add(Error, RuleImage, line, col, "obrazek bez prawidłowego adresu %q – wpisz nazwę pliku", dest)
	case u.Scheme != "" || strings.HasPrefix(dest, "//"):
		// External: the build does not fetch it.
	case strings.HasPrefix(u.Path, "/"):
		if !c.idx.files[u.Path] && !c.isResource(u.Path) {
			r.add(Error, RuleImage, line, col, "obrazek %s nie istnieje – sprawdź nazwę pliku", dest)
		}
	case !d.bundle:
		r.add(Error, RuleImage, line, col, "obrazek %s obok zwykłego pliku – poradnik z obrazkami to katalog: przenieś %s do %s/index.md i połóż obrazek obok",
			dest, d.rel, strings.TrimSuffix(d.rel, ".md"))
	case !fileExists(filepath.Join(c.opts.Root, filepath.Dir(d.rel), filepath.FromSlash(u.Path))):
		r.add(Error, RuleImage, line, col, "obrazek %s nie istnieje w %s/ – sprawdź nazwę pliku", dest, path.Dir(d.rel))
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// idHint lists the ids a page has, so the writer can pick the right one.
func idHint(ids map[string]bool) string {
	if len(ids) == 0 {
		return " (ta strona nie ma nagłówków)"
	}
	list := sortedKeys(ids)
	if len(list) > 8 {
		list = append(list[:8], "…")
	}
	return " – kotwica to tekst nagłówka małymi literami, spacje jako -; są: " + strings.Join(list, ", ")
}
