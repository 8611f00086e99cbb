package site

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/fsnotify/fsnotify"
	"github.com/gohugoio/hugo/parser/pageparser"
	"github.com/spf13/cast"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/kbpress/kb/internal/guide"
)

const repoRoot = "../.."

// testLogger sends Hugo's warnings to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// sourceGuide is what a guide's markdown says about itself.
type sourceGuide struct {
	file      string
	slug      string
	title     string
	subject   string
	published bool
	reviewed  time.Time // zero when the front matter has none
	body      string
}

// readSourceGuides reads content/poradniki/*.md (not _index) of a site.
func readSourceGuides(t *testing.T, root string) []sourceGuide {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "content", GuidesSection, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []sourceGuide
	now := time.Now()
	for _, f := range files {
		if filepath.Base(f) == "_index.md" {
			continue
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := pageparser.ParseFrontMatterAndContent(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fm := cf.FrontMatter
		slug := strings.TrimSuffix(filepath.Base(f), ".md")
		if s := cast.ToString(fm["slug"]); s != "" {
			slug = s
		}
		published := !cast.ToBool(fm["draft"])
		for _, key := range []string{"date", "publishdate", "publishDate"} {
			if d, err := cast.ToTimeE(fm[key]); err == nil && d.After(now) {
				published = false
			}
		}
		for _, key := range []string{"expirydate", "expiryDate"} {
			if d, err := cast.ToTimeE(fm[key]); err == nil && !d.IsZero() && d.Before(now) {
				published = false
			}
		}
		reviewed, _ := cast.ToTimeE(fm["reviewed"]) // TestContentHasReviewedDates checks the value
		out = append(out, sourceGuide{
			reviewed:  reviewed,
			file:      filepath.ToSlash(filepath.Join("content", GuidesSection, filepath.Base(f))),
			slug:      slug,
			title:     cast.ToString(fm["title"]),
			subject:   cast.ToString(fm["newsletter_subject"]),
			published: published,
			body:      string(cf.Content),
		})
	}
	return out
}

// newFixture makes a site in a temp dir from the real layouts, assets,
// i18n, static files and config, with the content of testdata/site.
func newFixture(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"layouts", "i18n", "assets", "static"} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(repoRoot, d))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(filepath.Join(dir, "content"), os.DirFS("testdata/site/content")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.toml", "content/kb-shell.md", "content/tags/_index.md"} {
		raw, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(raw))
	}
	return dir
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestRealSite builds the repository's site and checks all of it.
func TestRealSite(t *testing.T) {
	const baseURL = "https://wiedza.test/"
	out := filepath.Join(t.TempDir(), "public")
	res, err := Build(context.Background(), Options{Root: repoRoot, PublishDir: out, BaseURL: baseURL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := checkBuiltSite(t, repoRoot, res, baseURL)

	t.Run("whitepaper reviewed", func(t *testing.T) {
		for _, file := range reviewedFiles(t, repoRoot) {
			if strings.HasPrefix(file, "content/"+GuidesSection+"/") {
				continue // checkGuide
			}
			fm := readFrontMatterT(t, filepath.Join(repoRoot, file))
			slug := cast.ToString(fm["slug"])
			if slug == "" {
				slug = strings.TrimSuffix(filepath.Base(file), ".md")
			}
			page := strings.TrimSuffix(strings.TrimPrefix(filepath.Dir(file), "content/"), "/") + "/" + slug + "/index.html"
			p := s.pages[page]
			if p == nil {
				t.Fatalf("%s: no page %s", file, page)
			}
			published, _ := cast.ToTimeE(fm["date"])
			reviewed, _ := cast.ToTimeE(fm["reviewed"])
			checkReviewedShown(t, p, file, published, reviewed, nil)
		}
	})
}

// checkBuiltSite holds every check that applies to any build of the site.
func checkBuiltSite(t *testing.T, root string, res *Result, baseURL string) *builtSite {
	t.Helper()
	s := loadBuiltSite(t, res.PublishDir, baseURL)
	sources := readSourceGuides(t, root)

	byFile := map[string]guide.Guide{}
	for _, g := range res.Guides {
		byFile[g.SourcePath] = g
	}
	wantGuides := map[string]bool{} // permalinks
	t.Run("guides", func(t *testing.T) {
		published := 0
		for _, src := range sources {
			g, ok := byFile[src.file]
			if !src.published {
				if ok {
					t.Errorf("%s is a draft/future/expired guide but was published", src.file)
				}
				if s.files[GuidesSection+"/"+src.slug+"/index.html"] {
					t.Errorf("%s: unpublished guide has a page", src.file)
				}
				continue
			}
			published++
			if !ok {
				t.Errorf("%s: no guide in the result", src.file)
				continue
			}
			wantGuides[g.Permalink] = true
			checkGuide(t, s, src, g, baseURL)
		}
		if len(res.Guides) != published {
			t.Errorf("result has %d guides, the content %d", len(res.Guides), published)
		}
		if !slices.IsSortedFunc(res.Guides, func(a, b guide.Guide) int { return b.Date.Compare(a.Date) }) {
			t.Error("guides are not newest first")
		}
	})

	t.Run("pages", func(t *testing.T) {
		exempt := map[string]string{"kb-shell/index.html": "shell", "404.html": "404"}
		s.checkPages(t, exempt)
		if res.Pages != len(s.pages) {
			t.Errorf("Result.Pages = %d, built %d HTML files", res.Pages, len(s.pages))
		}
	})
	t.Run("links", s.checkLinks)
	t.Run("firm footer", func(t *testing.T) { s.checkFirmFooter(t, root) })

	t.Run("signup forms", func(t *testing.T) {
		noForm := map[string]bool{"kb-shell/index.html": true, "newsletter/dziekujemy/index.html": true}
		for _, file := range sortedKeys(s.pages) {
			forms := s.signupForms(t, s.pages[file])
			if noForm[file] && len(forms) > 0 {
				t.Errorf("%s: has a signup form", file)
			}
			if !noForm[file] && len(forms) == 0 {
				t.Errorf("%s: no signup form", file)
			}
		}
	})

	t.Run("shell", func(t *testing.T) {
		p := s.pages["kb-shell/index.html"]
		if p == nil {
			t.Fatal("no kb-shell page")
		}
		raw := readFile(t, filepath.Join(res.PublishDir, "kb-shell", "index.html"))
		if strings.Count(raw, "%%KB_TITLE%%") != 1 || strings.Count(raw, "%%KB_MAIN%%") != 1 {
			t.Errorf("markers must occur once each")
		}
		if title := text(find(p.doc, byTag(atom.Title))[0]); !strings.Contains(title, "%%KB_TITLE%%") {
			t.Errorf("title %q lacks the marker", title)
		}
		if main := find(p.doc, byID("main")); len(main) != 1 || innerHTML(main[0]) != "%%KB_MAIN%%" {
			t.Errorf("main must hold only %%%%KB_MAIN%%%%")
		}
		if r := metaContent(p.doc, "name", "robots"); len(r) != 1 || !strings.Contains(r[0], "noindex") {
			t.Errorf("robots %q", r)
		}
		for _, tag := range []atom.Atom{atom.Header, atom.Nav, atom.Footer} {
			if len(find(p.doc, byTag(tag))) == 0 {
				t.Errorf("shell lacks <%s>", tag)
			}
		}
		if len(find(p.doc, func(n *html.Node) bool { h, _ := attr(n, "rel"); return h == "stylesheet" })) != 1 {
			t.Error("shell lacks the stylesheet")
		}
	})

	t.Run("feed", func(t *testing.T) {
		var feed rssFeed
		readXML(t, filepath.Join(res.PublishDir, GuidesSection, "index.xml"), &feed)
		if feed.Channel.Language != "pl-pl" || feed.Channel.Title == "" || feed.Channel.Description == "" {
			t.Errorf("channel %+v", feed.Channel)
		}
		got := map[string]bool{}
		for _, it := range feed.Channel.Items {
			got[it.Link] = true
			if it.Description == "" || it.PubDate == "" || it.GUID != it.Link {
				t.Errorf("item %+v", it)
			}
			if _, err := time.Parse(time.RFC1123Z, it.PubDate); err != nil {
				t.Errorf("item %s: pubDate: %v", it.Link, err)
			}
		}
		if !mapsEqual(got, wantGuides) {
			t.Errorf("feed lists %v, want %v", sortedStrings(got), sortedStrings(wantGuides))
		}
	})

	t.Run("sitemap", func(t *testing.T) {
		var sm sitemap
		readXML(t, filepath.Join(res.PublishDir, "sitemap.xml"), &sm)
		got := map[string]bool{}
		for _, u := range sm.URLs {
			got[u.Loc] = true
		}
		for g := range wantGuides {
			if !got[g] {
				t.Errorf("sitemap lacks %s", g)
			}
		}
		for _, p := range []string{"kb-shell/", "newsletter/dziekujemy/", "szukaj/", "404.html"} {
			if got[baseURL+p] {
				t.Errorf("sitemap lists %s", p)
			}
		}
		for loc := range got {
			u, err := url.Parse(loc)
			if err != nil || u.Host != s.base.Host || s.fileOf(u) == "" {
				t.Errorf("sitemap lists %s, which was not built", loc)
			}
		}
	})

	t.Run("robots", func(t *testing.T) {
		robots := readFile(t, filepath.Join(res.PublishDir, "robots.txt"))
		for _, line := range []string{"Sitemap: " + baseURL + "sitemap.xml", "Disallow: /api/", "Disallow: /kb-shell/"} {
			if !strings.Contains(robots, line+"\n") {
				t.Errorf("robots.txt lacks %q:\n%s", line, robots)
			}
		}
	})

	t.Run("search index", func(t *testing.T) {
		var idx searchIndex
		readJSON(t, filepath.Join(res.PublishDir, "search-index.json"), &idx)
		got := map[string]int{}
		for i, it := range idx.Items {
			got[it.URL] = i
		}
		for _, src := range sources {
			g, ok := byFile[src.file]
			if !ok {
				continue
			}
			i, ok := got[strings.TrimPrefix(g.Permalink, strings.TrimSuffix(baseURL, "/"))]
			if !ok {
				t.Errorf("search index lacks %s", g.Permalink)
				continue
			}
			it := idx.Items[i]
			if it.Title != g.Title || it.Description != g.Description || it.Date != g.Date.Format("2006-01-02") ||
				!slices.Equal(it.Tags, g.Tags) || len(it.Content) < 20 {
				t.Errorf("index item for %s: %+v", src.file, it)
			}
			// Folding happens in the browser: the index keeps the letters.
			if w := firstDiacriticWord(src.body); w != "" && !strings.Contains(it.Content, w) {
				t.Errorf("index content of %s lacks %q", src.file, w)
			}
			if strings.ContainsAny(it.Content, "<>") || strings.Contains(it.Content, "&bdquo;") {
				t.Errorf("index content of %s is not plain text", src.file)
			}
		}
		for _, it := range idx.Items {
			if strings.Contains(it.URL, "kb-shell") {
				t.Error("search index lists the shell")
			}
		}
	})

	t.Run("tag URLs are ASCII", func(t *testing.T) {
		for f := range s.files {
			if strings.HasPrefix(f, "tagi/") && !isASCII(f) {
				t.Errorf("tag page %s has non-ASCII letters", f)
			}
		}
	})
	return s
}

func checkGuide(t *testing.T, s *builtSite, src sourceGuide, g guide.Guide, baseURL string) {
	t.Helper()
	if g.Slug != src.slug || g.Title != src.title || g.NewsletterSubject != src.subject {
		t.Errorf("%s: slug/title/subject = %q/%q/%q", src.file, g.Slug, g.Title, g.NewsletterSubject)
	}
	if g.Permalink != baseURL+GuidesSection+"/"+src.slug+"/" {
		t.Errorf("%s: permalink %q", src.file, g.Permalink)
	}
	if g.OutputPath != GuidesSection+"/"+src.slug+"/index.html" || !s.files[g.OutputPath] {
		t.Errorf("%s: output path %q not built", src.file, g.OutputPath)
	}
	if g.Date.IsZero() || g.WordCount < 10 || g.ReadingTime < 1 || g.Description == "" {
		t.Errorf("%s: date/words/minutes/description = %v/%d/%d/%q", src.file, g.Date, g.WordCount, g.ReadingTime, g.Description)
	}
	if g.Summary == "" || strings.ContainsAny(g.Summary, "<>") || strings.Contains(g.Summary, "&") {
		t.Errorf("%s: summary is not plain text: %q", src.file, g.Summary)
	}
	if strings.TrimSpace(g.Markdown) != strings.TrimSpace(src.body) {
		t.Errorf("%s: Markdown is not the body", src.file)
	}
	p := s.pages[g.OutputPath]
	if p == nil {
		return
	}
	if h1 := find(p.doc, byTag(atom.H1)); len(h1) != 1 || text(h1[0]) != g.Title {
		t.Errorf("%s: h1 is not the title", src.file)
	}
	var ld []map[string]any
	for _, sc := range find(p.doc, byTag(atom.Script)) {
		if typ, _ := attr(sc, "type"); typ == "application/ld+json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(text(sc)), &v); err != nil {
				t.Errorf("%s: JSON-LD: %v", src.file, err)
			}
			ld = append(ld, v)
		}
	}
	if len(ld) != 1 {
		t.Fatalf("%s: %d JSON-LD blocks", src.file, len(ld))
	}
	a := ld[0]
	if a["@type"] != "Article" || a["headline"] != g.Title || a["inLanguage"] != "pl" || a["description"] != g.Description {
		t.Errorf("%s: JSON-LD %v", src.file, a)
	}
	for _, k := range []string{"datePublished", "dateModified"} {
		if _, err := time.Parse(time.RFC3339, cast.ToString(a[k])); err != nil {
			t.Errorf("%s: JSON-LD %s: %v", src.file, k, err)
		}
	}
	checkReviewedShown(t, p, src.file, g.Date, src.reviewed, a)
	if m, _ := a["mainEntityOfPage"].(map[string]any); m["@id"] != g.Permalink {
		t.Errorf("%s: mainEntityOfPage %v", src.file, a["mainEntityOfPage"])
	}
	if pub, _ := a["publisher"].(map[string]any); pub["name"] == "" || pub["name"] == nil {
		t.Errorf("%s: publisher %v", src.file, a["publisher"])
	}
	og := map[string]string{
		"og:type": "article", "og:title": g.Title, "og:description": g.Description,
		"og:url": g.Permalink, "og:locale": "pl_PL",
	}
	for k, v := range og {
		if got := metaContent(p.doc, "property", k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want %q", src.file, k, got, v)
		}
	}
	if got := metaContent(p.doc, "property", "og:site_name"); len(got) != 1 || got[0] == "" {
		t.Errorf("%s: og:site_name %q", src.file, got)
	}
	body := text(find(p.doc, byID("main"))[0])
	if !strings.Contains(body, "min czytania") || !strings.Contains(body, g.Date.Format("2006")) {
		t.Errorf("%s: no reading time or date on the page", src.file)
	}
}

// firstDiacriticWord returns the first word of markdown with a Polish letter.
func firstDiacriticWord(md string) string {
	for _, w := range strings.FieldsFunc(md, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if strings.ContainsAny(w, "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ") && len([]rune(w)) > 3 {
			return w
		}
	}
	return ""
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestFixtureSite checks the same rules on the fixture, which also has a
// draft, a future guide and tags with ł.
func TestFixtureSite(t *testing.T) {
	root := newFixture(t)
	const baseURL = "http://localhost:8080/"
	res, err := Build(context.Background(), Options{Root: root, BaseURL: baseURL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.PublishDir != filepath.Join(root, "public") {
		t.Errorf("default publish dir %s", res.PublishDir)
	}
	s := checkBuiltSite(t, root, res, baseURL)

	var wp guide.Guide
	for _, g := range res.Guides {
		if g.Slug == "podwyzka" {
			wp = g
		}
	}
	if wp.Newsletter {
		t.Error("newsletter: false was ignored")
	}
	for _, g := range res.Guides {
		if g.Slug == "zalegla-faktura" && (!g.Newsletter || !slices.Equal(g.Tags, []string{"należności", "płynność finansowa", "rozmowy z klientem"})) {
			t.Errorf("zalegla-faktura: %+v", g)
		}
	}
	for _, f := range []string{"tagi/plynnosc-finansowa/index.html", "tagi/naleznosci/index.html", "tagi/rozmowy-z-klientem/index.html"} {
		if !s.files[f] {
			t.Errorf("no %s", f)
		}
	}
	if s.files["tagi/przyszlosc/index.html"] || s.files["tagi/szkic/index.html"] {
		t.Error("tags of unpublished guides have pages")
	}
	page := readFile(t, filepath.Join(res.PublishDir, "poradniki/zalegla-faktura/index.html"))
	for _, want := range []string{"1 października 2026", "Zaktualizowano <time datetime=\"2026-12-02\">2 grudnia 2026</time>", "Spis treści", "class=\"table-wrap\"", "Tagi:", "Przeczytaj też"} {
		if !strings.Contains(page, want) {
			t.Errorf("guide page lacks %q", want)
		}
	}
	// The whitepaper is free but no PDF was passed: no download button.
	landing := readFile(t, filepath.Join(res.PublishDir, "biala-ksiega/index.html"))
	if strings.Contains(landing, "Pobierz PDF") || !strings.Contains(landing, "Czytaj na stronie") {
		t.Error("landing without a PDF must offer only the online version")
	}
}

// TestPaginatedSite checks a guide list long enough to be paginated.
func TestPaginatedSite(t *testing.T) {
	root := newBenchSite(t, 23)
	const baseURL = "https://wiedza.test/"
	res, err := Build(context.Background(), Options{Root: root, BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	s := checkBuiltSite(t, root, res, baseURL)
	// 25 guides, 10 a page: /poradniki/, /poradniki/strona/2/, /poradniki/strona/3/.
	titles := map[string]string{}
	for _, f := range []string{"poradniki/index.html", "poradniki/strona/2/index.html", "poradniki/strona/3/index.html"} {
		p := s.pages[f]
		if p == nil {
			t.Fatalf("no %s", f)
		}
		title := text(find(p.doc, byTag(atom.Title))[0])
		if other, dup := titles[title]; dup {
			t.Errorf("%s and %s share the title %q", f, other, title)
		}
		titles[title] = f
		if n := len(find(p.doc, func(n *html.Node) bool { return hasClass(n, "card") })); n == 0 {
			t.Errorf("%s lists no guides", f)
		}
	}
	if s.files["poradniki/strona/4/index.html"] || s.files["poradniki/strona/1/index.html"] {
		t.Error("unexpected pager pages")
	}
}

// TestWhitepaperModes covers the free whitepaper with a PDF and the gated one.
func TestWhitepaperModes(t *testing.T) {
	root := newFixture(t)
	ctx := context.Background()
	pdf := map[string]any{"url": "/biala-ksiega/gotowka.pdf", "size_bytes": 1_258_291, "pages": 12}

	t.Run("free", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "public")
		res, err := Build(ctx, Options{Root: root, PublishDir: out, Params: map[string]any{"whitepaper_pdf": pdf}})
		if err != nil {
			t.Fatal(err)
		}
		landing := readFile(t, filepath.Join(out, "biala-ksiega/index.html"))
		for _, want := range []string{`href="/biala-ksiega/gotowka.pdf"`, "PDF, 1,2 MB, 12 stron", "Co znajdziesz w środku"} {
			if !strings.Contains(landing, want) {
				t.Errorf("landing lacks %q", want)
			}
		}
		paper := readFile(t, filepath.Join(out, "biala-ksiega/strategia-przeplywow-pienieznych/index.html"))
		if !strings.Contains(paper, "ZNACZNIKPELNEGOTEKSTU") || !strings.Contains(paper, "PDF, 1,2 MB, 12 stron") {
			t.Error("free whitepaper page lacks the text or the download")
		}
		if !strings.Contains(readFile(t, filepath.Join(out, "search-index.json")), "ZNACZNIKPELNEGOTEKSTU") {
			t.Error("free whitepaper is not searchable")
		}
		_ = res
	})

	t.Run("gated", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "public")
		params := map[string]any{"whitepaper_pdf": pdf, "whitepaper": map[string]any{"gated": true}}
		if _, err := Build(ctx, Options{Root: root, PublishDir: out, Params: params, BaseURL: "https://wiedza.test/"}); err != nil {
			t.Fatal(err)
		}
		s := loadBuiltSite(t, out, "https://wiedza.test/")
		for _, file := range []string{"biala-ksiega/index.html", "biala-ksiega/strategia-przeplywow-pienieznych/index.html"} {
			p := s.pages[file]
			raw := readFile(t, filepath.Join(out, file))
			if strings.Contains(raw, "gotowka.pdf") || strings.Contains(raw, "ZNACZNIKPELNEGOTEKSTU") {
				t.Errorf("%s: gated whitepaper leaks the PDF link or the text", file)
			}
			forms := s.signupForms(t, p)
			if len(forms) != 1 {
				t.Fatalf("%s: %d signup forms, want 1 (no band under the gate form)", file, len(forms))
			}
			wp := find(forms[0], func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "whitepaper" })
			if len(wp) != 1 || !hasAttr(wp[0], "checked") {
				t.Errorf("%s: whitepaper box not pre-checked", file)
			}
			if !strings.Contains(raw, "po potwierdzeniu") && !strings.Contains(raw, "gdy potwierdzisz") {
				t.Errorf("%s: no note about the emailed link", file)
			}
		}
		if strings.Contains(readFile(t, filepath.Join(out, "search-index.json")), "ZNACZNIKPELNEGOTEKSTU") {
			t.Error("gated whitepaper text is in the search index")
		}
		// The source front matter keeps its other whitepaper params.
		if !strings.Contains(readFile(t, filepath.Join(out, "index.html")), "Biała księga") {
			t.Error("home lost the whitepaper")
		}
	})
}

func TestLoadGuides(t *testing.T) {
	root := newFixture(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "public")
	guides, err := LoadGuides(ctx, Options{Root: root, PublishDir: out, BaseURL: "https://wiedza.test/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("LoadGuides wrote into the publish dir (stat: %v)", err)
	}
	res, err := Build(ctx, Options{Root: root, PublishDir: out, BaseURL: "https://wiedza.test/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(guides) != 2 {
		t.Fatalf("got %d guides, want 2 (no draft, no future guide)", len(guides))
	}
	for i := range guides {
		a, b := guides[i], res.Guides[i]
		if a.Slug != b.Slug || a.Summary != b.Summary || a.WordCount != b.WordCount || a.Markdown != b.Markdown ||
			a.Permalink != b.Permalink || a.OutputPath != b.OutputPath || a.Newsletter != b.Newsletter || !a.Date.Equal(b.Date) {
			t.Errorf("LoadGuides and Build disagree:\n%+v\n%+v", a, b)
		}
	}
}

// TestRebuild checks that a rebuild removes pages of deleted guides,
// keeps files the caller added, and that a failed build changes nothing.
func TestRebuild(t *testing.T) {
	root := newFixture(t)
	ctx := context.Background()
	parent := t.TempDir()
	out := filepath.Join(parent, "public")
	opts := Options{Root: root, PublishDir: out}
	if _, err := Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, "biala-ksiega", "gotowka.pdf"), "%PDF-1.7 caller's file")
	writeFile(t, filepath.Join(out, "downloads", "extra.txt"), "caller")
	if err := os.Remove(filepath.Join(root, "content/poradniki/podwyzka.md")); err != nil {
		t.Fatal(err)
	}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "poradniki/podwyzka/index.html")); !os.IsNotExist(err) {
		t.Error("page of the deleted guide is still published")
	}
	if _, err := os.Stat(filepath.Join(out, "tagi/honorarium/index.html")); !os.IsNotExist(err) {
		t.Error("tag page of the deleted guide is still published")
	}
	if got := readFile(t, filepath.Join(out, "biala-ksiega", "gotowka.pdf")); got != "%PDF-1.7 caller's file" {
		t.Errorf("caller's PDF lost: %q", got)
	}
	if got := readFile(t, filepath.Join(out, "downloads", "extra.txt")); got != "caller" {
		t.Errorf("caller's file lost: %q", got)
	}
	if len(res.Guides) != 1 {
		t.Errorf("%d guides after deleting one", len(res.Guides))
	}
	// The replaced build waits beside the publish dir; the next build
	// deletes it.
	trash1, _ := filepath.Glob(filepath.Join(parent, ".public.old-*"))
	if len(trash1) != 1 {
		t.Fatalf("set-aside builds: %v", trash1)
	}
	// A caller's file survives more than one rebuild.
	if _, err := Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	trash2, _ := filepath.Glob(filepath.Join(parent, ".public.old-*"))
	if len(trash2) != 1 || trash2[0] == trash1[0] {
		t.Errorf("previous set-aside build not deleted: %v then %v", trash1, trash2)
	}
	if _, err := os.Stat(filepath.Join(out, "biala-ksiega", "gotowka.pdf")); err != nil {
		t.Errorf("caller's PDF lost on the second rebuild: %v", err)
	}

	// A failed build leaves the published site as it was.
	before := readFile(t, filepath.Join(out, "index.html"))
	writeFile(t, filepath.Join(root, "content/poradniki/zly.md"), "---\ntitle: \"bez końca\ndate: 2026-01-01\n---\nTreść\n")
	if _, err := Build(ctx, opts); err == nil {
		t.Fatal("broken front matter built")
	}
	if readFile(t, filepath.Join(out, "index.html")) != before {
		t.Error("a failed build changed the published site")
	}
	assertSiblings(t, parent)

	// Rebuilds render into the previous build's tree; whatever they do
	// not write again must go. After more changes (a guide back, a static
	// file added and removed), the publish dir must equal a fresh build.
	if err := os.Remove(filepath.Join(root, "content/poradniki/zly.md")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "static/extra/plik.txt"), "static")
	writeFile(t, filepath.Join(root, "content/poradniki/nowy.md"), "---\ntitle: Nowy\ndate: 2026-05-01\ntags: [\"łódź\"]\n---\nTreść nowego poradnika.\n")
	for range 2 {
		if _, err := Build(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(root, "static/extra")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "content/poradniki/nowy.md")); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "public")
	if _, err := Build(ctx, Options{Root: root, PublishDir: fresh}); err != nil {
		t.Fatal(err)
	}
	caller := map[string]bool{"biala-ksiega/gotowka.pdf": true, "downloads/extra.txt": true}
	got, want := listTree(t, out), listTree(t, fresh)
	var gotBuilt []string
	for _, f := range got {
		if !caller[f] {
			gotBuilt = append(gotBuilt, f)
		}
	}
	if !slices.Equal(gotBuilt, want) {
		t.Errorf("rebuilt publish dir differs from a fresh build:\n got %v\nwant %v", gotBuilt, want)
	}
	for _, f := range want {
		if readFile(t, filepath.Join(out, f)) != readFile(t, filepath.Join(fresh, f)) {
			t.Errorf("%s differs from a fresh build", f)
		}
	}
	for f := range caller {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("caller's %s lost: %v", f, err)
		}
	}
	// The caller's file is not shared with the set-aside tree, so the
	// next build rendering into that tree cannot touch it.
	old, _ := filepath.Glob(filepath.Join(parent, ".public.old-*"))
	for _, o := range old {
		if _, err := os.Stat(filepath.Join(o, "biala-ksiega", "gotowka.pdf")); err == nil {
			t.Error("set-aside tree still links the caller's PDF")
		}
	}
	assertSiblings(t, parent)
}

// assertSiblings checks that next to the publish dir there is at most one
// set-aside build and no staging dir.
func assertSiblings(t *testing.T, parent string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	var names []string
	old := 0
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), ".public.old-") {
			old++
		} else if e.Name() != "public" {
			t.Errorf("leftover next to the publish dir: %s", e.Name())
		}
	}
	if old > 1 {
		t.Errorf("%d set-aside builds: %v", old, names)
	}
}

// listTree lists the files under dir, without the build manifest.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(t *testing.T, root string)
		wantFile string
		wantMsg  string
	}{
		{
			name: "front matter syntax",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "content/poradniki/zly.md"), "---\ntitle: \"bez końca\ndate: 2026-01-01\ntags: [a\n---\nTreść\n")
			},
			wantFile: "content/poradniki/zly.md",
		},
		{
			name: "front matter date",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "content/poradniki/data.md"), "---\ntitle: Data\ndate: wczoraj\n---\nTreść\n")
			},
			wantFile: "content/poradniki/data.md",
		},
		{
			name: "newsletter flag",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "content/poradniki/flaga.md"), "---\ntitle: Flaga\ndate: 2026-01-01\nnewsletter: może\n---\nTreść\n")
			},
			wantFile: "content/poradniki/flaga.md",
			wantMsg:  "newsletter",
		},
		{
			name: "reviewed date",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "content/poradniki/przeglad.md"), "---\ntitle: Przegląd\ndate: 2026-01-01\nreviewed: 2026-02-30\n---\nTreść\n")
			},
			wantFile: "content/poradniki/przeglad.md",
			wantMsg:  "reviewed",
		},
		{
			name: "template syntax",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "layouts/poradniki/page.html"), "{{ define \"main\" }}\n<h1>{{ .Title </h1>\n{{ end }}\n")
			},
			wantFile: "layouts/poradniki/page.html",
		},
		{
			name: "template execution",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "layouts/page.html"), "{{ define \"main\" }}\n<h1>{{ .Title }}</h1>\n{{ .Nope }}\n{{ end }}\n")
			},
			wantFile: "layouts/page.html",
		},
		{
			name: "missing partial",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "layouts/term.html"), "{{ define \"main\" }}\n{{ partial \"nie-ma.html\" . }}\n{{ end }}\n")
			},
			wantFile: "layouts/term.html",
			wantMsg:  "nie-ma.html",
		},
		{
			name: "missing layout",
			edit: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, "layouts/page.html")); err != nil {
					t.Fatal(err)
				}
			},
			wantFile: "content/polityka-prywatnosci.md",
			wantMsg:  "no template",
		},
		{
			name: "config syntax",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "config.toml"), readFile(t, filepath.Join(root, "config.toml"))+"\n[broken\n")
			},
			wantFile: "config.toml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newFixture(t)
			tt.edit(t, root)
			out := filepath.Join(t.TempDir(), "public")
			_, err := Build(context.Background(), Options{Root: root, PublishDir: out})
			if err == nil {
				t.Fatal("build succeeded")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !strings.Contains(msg, tt.wantFile) {
				t.Errorf("error does not name %s", tt.wantFile)
			}
			if tt.wantMsg != "" && !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error does not mention %q", tt.wantMsg)
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, ".go:") || len(msg) > 1500 {
				t.Errorf("error is not concise (%d bytes)", len(msg))
			}
			if strings.Contains(msg, root) {
				t.Errorf("error repeats the absolute site path")
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("failed build created the publish dir")
			}
		})
	}
}

func TestCheckPublishDir(t *testing.T) {
	root := t.TempDir()
	home, _ := os.UserHomeDir()
	notSite := t.TempDir()
	writeFile(t, filepath.Join(notSite, "notes.txt"), "keep me")
	oldSite := t.TempDir()
	writeFile(t, filepath.Join(oldSite, "index.html"), "<html>")
	tests := []struct {
		dir string
		ok  bool
	}{
		{filepath.Join(root, "public"), true},
		{filepath.Join(t.TempDir(), "new", "public"), true},
		{oldSite, true},
		{root, false},
		{filepath.Dir(root), false},
		{"/", false},
		{home, false},
		{filepath.Join(root, "content", "public"), false},
		{filepath.Join(root, "static"), false},
		{notSite, false},
	}
	for _, tt := range tests {
		err := checkPublishDir(root, tt.dir)
		if (err == nil) != tt.ok {
			t.Errorf("checkPublishDir(%s) = %v, want ok=%v", tt.dir, err, tt.ok)
		}
	}
	// Build refuses before touching anything.
	if _, err := Build(context.Background(), Options{Root: root, PublishDir: notSite}); err == nil {
		t.Error("Build replaced a folder that is not a site")
	}
	if readFile(t, filepath.Join(notSite, "notes.txt")) != "keep me" {
		t.Error("file lost")
	}
}

func TestOutputPath(t *testing.T) {
	tests := []struct{ base, rel, want string }{
		{"/", "/poradniki/a/", "poradniki/a/index.html"},
		{"/", "/", "index.html"},
		{"/kb/", "/kb/poradniki/a/", "poradniki/a/index.html"},
		{"/", "/404.html", "404.html"},
		{"/", "/tagi/p%C5%82atno%C5%9Bci/", "tagi/płatności/index.html"},
	}
	for _, tt := range tests {
		if got := outputPath(tt.base, tt.rel); got != tt.want {
			t.Errorf("outputPath(%q, %q) = %q, want %q", tt.base, tt.rel, got, tt.want)
		}
	}
}

func TestRelevant(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		path string
		op   fsnotify.Op
		want bool
	}{
		{"content/poradniki/a.md", fsnotify.Write, true},
		{"content/poradniki/a.md", fsnotify.Chmod, false},
		{"layouts/page.html", fsnotify.Create, true},
		{"config.toml", fsnotify.Write, true},
		{"content", fsnotify.Create, true},
		{"public", fsnotify.Create, false},
		{".public.build-123", fsnotify.Rename, false},
		{".hugo_build.lock", fsnotify.Write, false},
		{"go.mod", fsnotify.Write, false},
		{"data/kb.db", fsnotify.Write, false},
		{"data/kb.db-wal", fsnotify.Write, false},
		{"data/outbox/1.eml", fsnotify.Create, false},
		{"data/firm.toml", fsnotify.Write, true},
		{"content/poradniki/.a.md.swp", fsnotify.Write, false},
		{"content/poradniki/a.md~", fsnotify.Write, false},
		{"i18n/pl.toml", fsnotify.Write, true},
		{"../elsewhere/content/a.md", fsnotify.Write, false},
	}
	for _, tt := range tests {
		if got := relevant(root, fsnotify.Event{Name: filepath.Join(root, tt.path), Op: tt.op}); got != tt.want {
			t.Errorf("relevant(%s, %v) = %v, want %v", tt.path, tt.op, got, tt.want)
		}
	}
}
