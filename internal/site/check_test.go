package site

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// builtPage is one HTML file of a built site, parsed.
type builtPage struct {
	file string   // relative to the publish dir, slash-separated
	url  *url.URL // where it is served
	doc  *html.Node
	ids  map[string]int
}

// builtSite is a publish dir loaded for checking.
type builtSite struct {
	dir   string
	base  *url.URL
	pages map[string]*builtPage // by file
	files map[string]bool
}

func loadBuiltSite(t *testing.T, dir, baseURL string) *builtSite {
	t.Helper()
	base, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	s := &builtSite{dir: dir, base: base, pages: map[string]*builtPage{}, files: map[string]bool{}}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		s.files[rel] = true
		if !strings.HasSuffix(rel, ".html") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Scripting off, so <noscript> content is parsed and checked too.
		doc, err := html.ParseWithOptions(bytes.NewReader(raw), html.ParseOptionEnableScripting(false))
		if err != nil {
			t.Errorf("%s: parse: %v", rel, err)
			return nil
		}
		p := &builtPage{file: rel, url: s.urlOf(rel), doc: doc, ids: map[string]int{}}
		walk(doc, func(n *html.Node) {
			if id, ok := attr(n, "id"); ok {
				p.ids[id]++
			}
		})
		s.pages[rel] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// urlOf is the URL a built file is served at.
func (s *builtSite) urlOf(file string) *url.URL {
	p := file
	if p == "index.html" {
		p = ""
	} else if strings.HasSuffix(p, "/index.html") {
		p = strings.TrimSuffix(p, "index.html")
	}
	u := *s.base
	u.Path = strings.TrimSuffix(s.base.Path, "/") + "/" + p
	return &u
}

// fileOf maps a same-host URL path to a built file, or "".
func (s *builtSite) fileOf(u *url.URL) string {
	rel, ok := strings.CutPrefix(u.Path, s.base.Path)
	if !ok {
		rel, ok = strings.CutPrefix(u.Path+"/", s.base.Path)
		if !ok {
			return ""
		}
	}
	if rel == "" || strings.HasSuffix(rel, "/") {
		rel += "index.html"
	}
	if s.files[rel] {
		return rel
	}
	if s.files[rel+"/index.html"] {
		return rel + "/index.html"
	}
	return ""
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	if n.Type != html.ElementNode {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(n *html.Node, key string) bool { _, ok := attr(n, key); return ok }

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(n, func(c *html.Node) {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	})
	return out
}

func byTag(a atom.Atom) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.DataAtom == a }
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id }
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

func innerHTML(n *html.Node) string {
	var b bytes.Buffer
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		_ = html.Render(&b, c)
	}
	return b.String()
}

func metaContent(doc *html.Node, key, name string) []string {
	var out []string
	for _, m := range find(doc, byTag(atom.Meta)) {
		if v, _ := attr(m, key); v == name {
			c, _ := attr(m, "content")
			out = append(out, c)
		}
	}
	return out
}

func linkHref(doc *html.Node, rel string) []string {
	var out []string
	for _, l := range find(doc, byTag(atom.Link)) {
		if v, _ := attr(l, "rel"); v == rel {
			h, _ := attr(l, "href")
			out = append(out, h)
		}
	}
	return out
}

// checkLinks verifies every internal reference of every page, and that no
// page loads anything from another host.
func (s *builtSite) checkLinks(t *testing.T) {
	t.Helper()
	refAttrs := map[atom.Atom][]string{
		atom.A: {"href"}, atom.Link: {"href"}, atom.Script: {"src"}, atom.Img: {"src", "srcset"},
		atom.Source: {"src", "srcset"}, atom.Iframe: {"src"}, atom.Video: {"src", "poster"},
		atom.Audio: {"src"}, atom.Object: {"data"}, atom.Embed: {"src"}, atom.Track: {"src"},
	}
	for _, file := range sortedKeys(s.pages) {
		p := s.pages[file]
		walk(p.doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			if n.DataAtom == atom.Style {
				s.checkCSS(t, file+" <style>", text(n))
			}
			if st, ok := attr(n, "style"); ok {
				s.checkCSS(t, file+" style=", st)
			}
			for _, key := range refAttrs[n.DataAtom] {
				v, ok := attr(n, key)
				if !ok {
					continue
				}
				refs := []string{v}
				if key == "srcset" {
					refs = nil
					for _, part := range strings.Split(v, ",") {
						if f := strings.Fields(part); len(f) > 0 {
							refs = append(refs, f[0])
						}
					}
				}
				for _, ref := range refs {
					s.checkRef(t, p, n.DataAtom, ref)
				}
			}
		})
	}
	for file := range s.files {
		if strings.HasSuffix(file, ".css") {
			raw, _ := os.ReadFile(filepath.Join(s.dir, file))
			s.checkCSS(t, file, string(raw))
		}
	}
}

func (s *builtSite) checkRef(t *testing.T, p *builtPage, tag atom.Atom, ref string) {
	t.Helper()
	if strings.TrimSpace(ref) == "" {
		t.Errorf("%s: empty reference in <%s>", p.file, tag)
		return
	}
	u, err := p.url.Parse(ref)
	if err != nil {
		t.Errorf("%s: bad URL %q: %v", p.file, ref, err)
		return
	}
	switch u.Scheme {
	case "mailto", "tel":
		if tag != atom.A {
			t.Errorf("%s: <%s> refers to %q", p.file, tag, ref)
		}
		return
	case "http", "https":
	default:
		t.Errorf("%s: <%s> has unexpected URL scheme %q", p.file, tag, ref)
		return
	}
	if u.Host != s.base.Host {
		if tag != atom.A {
			t.Errorf("%s: <%s> loads %q from another host", p.file, tag, ref)
		}
		return
	}
	target := s.fileOf(u)
	if target == "" {
		t.Errorf("%s: broken link <%s> %q", p.file, tag, ref)
		return
	}
	if u.Fragment != "" {
		tp := s.pages[target]
		if tp == nil || tp.ids[u.Fragment] == 0 {
			t.Errorf("%s: link %q: no id %q in %s", p.file, ref, u.Fragment, target)
		}
	}
}

var (
	cssURLRe    = regexp.MustCompile(`url\(\s*['"]?([^'")]*)`)
	cssImportRe = regexp.MustCompile(`@import`)
)

func (s *builtSite) checkCSS(t *testing.T, where, css string) {
	t.Helper()
	if cssImportRe.MatchString(css) {
		t.Errorf("%s: @import", where)
	}
	for _, m := range cssURLRe.FindAllStringSubmatch(css, -1) {
		ref := strings.TrimSpace(m[1])
		if strings.HasPrefix(ref, "data:") || strings.HasPrefix(ref, "#") {
			continue
		}
		if strings.HasPrefix(ref, "//") || strings.Contains(ref, "://") {
			t.Errorf("%s: url(%s) loads from another host", where, ref)
		}
	}
}

// checkPages applies the per-page rules: language, one h1, title, meta
// description, canonical URL, unique ids, labelled inputs.
func (s *builtSite) checkPages(t *testing.T, exempt map[string]string) {
	t.Helper()
	for _, file := range sortedKeys(s.pages) {
		p := s.pages[file]
		htmlEl := find(p.doc, byTag(atom.Html))
		if len(htmlEl) != 1 {
			t.Errorf("%s: %d <html> elements", file, len(htmlEl))
			continue
		}
		if lang, _ := attr(htmlEl[0], "lang"); lang != "pl" {
			t.Errorf("%s: <html lang=%q>, want pl", file, lang)
		}
		// The document's <title>, not an inline SVG's (which names a chart).
		titles := find(p.doc, func(n *html.Node) bool { return n.DataAtom == atom.Title && n.Namespace == "" })
		if len(titles) != 1 || text(titles[0]) == "" {
			t.Errorf("%s: want one non-empty <title>", file)
		}
		if desc := metaContent(p.doc, "name", "description"); len(desc) != 1 || strings.TrimSpace(desc[0]) == "" {
			t.Errorf("%s: want one non-empty meta description, got %q", file, desc)
		}
		if n := len(find(p.doc, byTag(atom.H1))); n != 1 && exempt[file] != "shell" {
			t.Errorf("%s: %d h1 elements, want 1", file, n)
		}
		for id, n := range p.ids {
			if n > 1 {
				t.Errorf("%s: id %q used %d times", file, id, n)
			}
		}
		canon := linkHref(p.doc, "canonical")
		if exempt[file] == "" {
			if len(canon) != 1 {
				t.Errorf("%s: want one canonical link, got %q", file, canon)
			} else if canon[0] != p.url.String() {
				t.Errorf("%s: canonical %q, want %q", file, canon[0], p.url.String())
			}
		}
		for _, c := range canon {
			if !strings.HasPrefix(c, s.base.String()) {
				t.Errorf("%s: canonical %q is not absolute under %s", file, c, s.base)
			}
		}
		if alt := linkHref(p.doc, "alternate"); len(alt) != 1 {
			t.Errorf("%s: want one RSS autodiscovery link, got %q", file, alt)
		}
		for _, in := range find(p.doc, func(n *html.Node) bool {
			return n.DataAtom == atom.Input || n.DataAtom == atom.Select || n.DataAtom == atom.Textarea
		}) {
			typ, _ := attr(in, "type")
			if typ == "hidden" || typ == "submit" {
				continue
			}
			id, _ := attr(in, "id")
			if id == "" || len(find(p.doc, func(n *html.Node) bool {
				v, _ := attr(n, "for")
				return n.DataAtom == atom.Label && v == id
			})) != 1 {
				t.Errorf("%s: input %q has no label", file, id)
			}
		}
		if len(find(p.doc, func(n *html.Node) bool { return n.DataAtom == atom.A && hasClass(n, "skip-link") })) != 1 {
			t.Errorf("%s: no skip link", file)
		}
		if len(find(p.doc, byID("main"))) != 1 {
			t.Errorf("%s: no <main id=main>", file)
		}
	}
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	for _, c := range strings.Fields(v) {
		if c == class {
			return true
		}
	}
	return false
}

// signupForms checks every signup form on the page against the markup
// contract documented in layouts/_partials/signup-form.html.
func (s *builtSite) signupForms(t *testing.T, p *builtPage) []*html.Node {
	t.Helper()
	forms := find(p.doc, func(n *html.Node) bool { return n.DataAtom == atom.Form && hasAttr(n, "data-signup") })
	for _, f := range forms {
		id, _ := attr(f, "id")
		action, _ := attr(f, "action")
		if u, err := p.url.Parse(action); err != nil || u.Path != s.base.Path+"api/subscribe" {
			t.Errorf("%s #%s: action %q", p.file, id, action)
		}
		if m, _ := attr(f, "method"); m != "post" {
			t.Errorf("%s #%s: method %q", p.file, id, m)
		}
		if e, _ := attr(f, "enctype"); e != "application/x-www-form-urlencoded" {
			t.Errorf("%s #%s: enctype %q", p.file, id, e)
		}
		input := func(name string) *html.Node {
			in := find(f, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.DataAtom == atom.Input && v == name })
			if len(in) != 1 {
				t.Errorf("%s #%s: %d inputs named %q", p.file, id, len(in), name)
				return &html.Node{}
			}
			return in[0]
		}
		want := func(n *html.Node, key, val string) {
			if v, ok := attr(n, key); !ok || v != val {
				name, _ := attr(n, "name")
				t.Errorf("%s #%s: input %s: %s=%q, want %q", p.file, id, name, key, v, val)
			}
		}
		email := input("email")
		want(email, "type", "email")
		want(email, "autocomplete", "email")
		want(email, "required", "")
		want(input("name"), "type", "text")
		consent := input("consent")
		want(consent, "type", "checkbox")
		want(consent, "required", "")
		want(input("whitepaper"), "type", "checkbox")
		hp := input("website")
		want(hp, "tabindex", "-1")
		want(hp, "autocomplete", "off")
		if hp.Parent == nil || !hasClass(hp.Parent, "hp") {
			t.Errorf("%s #%s: honeypot not in .hp", p.file, id)
		} else {
			want(hp.Parent, "aria-hidden", "true")
		}
		src := input("source")
		want(src, "type", "hidden")
		want(src, "value", p.url.Path)
		consentID, _ := attr(consent, "id")
		labels := find(f, func(n *html.Node) bool { v, _ := attr(n, "for"); return n.DataAtom == atom.Label && v == consentID })
		if len(labels) != 1 || len(find(labels[0], func(n *html.Node) bool {
			h, _ := attr(n, "href")
			return n.DataAtom == atom.A && strings.HasSuffix(h, "/polityka-prywatnosci/")
		})) != 1 {
			t.Errorf("%s #%s: consent label does not link the privacy policy", p.file, id)
		}
		for _, suffix := range []string{"-error", "-email-error", "-name-error", "-consent-error"} {
			if len(find(f, byID(id+suffix))) != 1 {
				t.Errorf("%s #%s: no #%s%s", p.file, id, id, suffix)
			}
		}
	}
	return forms
}

type rssFeed struct {
	Channel struct {
		Title       string `xml:"title"`
		Link        string `xml:"link"`
		Description string `xml:"description"`
		Language    string `xml:"language"`
		Items       []struct {
			Title       string `xml:"title"`
			Link        string `xml:"link"`
			GUID        string `xml:"guid"`
			PubDate     string `xml:"pubDate"`
			Description string `xml:"description"`
		} `xml:"item"`
	} `xml:"channel"`
}

type sitemap struct {
	URLs []struct {
		Loc string `xml:"loc"`
	} `xml:"url"`
}

type searchIndex struct {
	Version int `json:"version"`
	Items   []struct {
		Title       string   `json:"title"`
		URL         string   `json:"url"`
		Description string   `json:"description"`
		Tags        []string `json:"tags"`
		Date        string   `json:"date"`
		Content     string   `json:"content"`
	} `json:"items"`
}

func readXML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
