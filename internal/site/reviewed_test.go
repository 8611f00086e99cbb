package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gohugoio/hugo/parser/pageparser"
	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cast"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/kbpress/kb/internal/config"
)

// reviewedDate reads the front matter's reviewed: date. It is required on
// every guide and the whitepaper: readers and search engines
// see when a text was last checked, so it must be a date and not earlier
// than the publication.
func reviewedDate(fm map[string]any) (time.Time, error) {
	v, ok := fm["reviewed"]
	if !ok || v == nil || v == "" {
		return time.Time{}, errMissingReviewed
	}
	var d time.Time
	switch v := v.(type) {
	case string:
		// Quoted in YAML: it must still be a plain calendar date.
		var err error
		if d, err = time.Parse(time.DateOnly, strings.TrimSpace(v)); err != nil {
			return time.Time{}, errNotADate{v}
		}
	case int, int64, uint64, float64:
		// cast would read a number as Unix seconds.
		return time.Time{}, errNotADate{v}
	default:
		var err error
		if d, err = cast.ToTimeE(v); err != nil || d.IsZero() {
			return time.Time{}, errNotADate{v}
		}
	}
	if pub, err := cast.ToTimeE(fm["date"]); err == nil && d.Format(time.DateOnly) < pub.Format(time.DateOnly) {
		return time.Time{}, errBeforeDate{d, pub}
	}
	return d, nil
}

type reviewedError string

func (e reviewedError) Error() string { return string(e) }

const errMissingReviewed = reviewedError("front matter has no reviewed: date (reviewed: YYYY-MM-DD)")

type errNotADate struct{ v any }

func (e errNotADate) Error() string {
	return "front matter reviewed: " + cast.ToString(e.v) + " is not a date (want YYYY-MM-DD)"
}

type errBeforeDate struct{ reviewed, date time.Time }

func (e errBeforeDate) Error() string {
	return "front matter reviewed: " + e.reviewed.Format(time.DateOnly) + " is before date: " + e.date.Format(time.DateOnly)
}

func TestReviewedDate(t *testing.T) {
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		fm   map[string]any
		want time.Time // zero: an error
	}{
		{"YAML date", map[string]any{"date": "2026-10-01", "reviewed": day}, day},
		{"quoted date", map[string]any{"date": "2026-10-01", "reviewed": "2026-12-02"}, day},
		{"same day as published", map[string]any{"date": day, "reviewed": day}, day},
		{"missing", map[string]any{"date": day}, time.Time{}},
		{"empty", map[string]any{"date": day, "reviewed": ""}, time.Time{}},
		{"a word", map[string]any{"date": day, "reviewed": "wczoraj"}, time.Time{}},
		{"not a calendar date", map[string]any{"date": day, "reviewed": "2026-13-02"}, time.Time{}},
		{"Polish order", map[string]any{"date": day, "reviewed": "02.12.2026"}, time.Time{}},
		{"a number", map[string]any{"reviewed": 20261202}, time.Time{}},
		{"before the publication", map[string]any{"date": day, "reviewed": "2026-11-30"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reviewedDate(tt.fm)
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("reviewedDate(%v) = %v, want an error", tt.fm, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("reviewedDate(%v) = %v, %v; want %v", tt.fm, got, err, tt.want)
			}
		})
	}
}

// reviewedFiles are the content files that must carry a reviewed: date:
// every guide and the whitepaper, relative to root.
func reviewedFiles(t *testing.T, root string) []string {
	t.Helper()
	guides, err := filepath.Glob(filepath.Join(root, "content", GuidesSection, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range guides {
		if filepath.Base(f) != "_index.md" {
			files = append(files, filepath.ToSlash(filepath.Join("content", GuidesSection, filepath.Base(f))))
		}
	}
	cfg, err := config.Load(root, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if src := cfg.Params.Whitepaper.Source; src != "" {
		files = append(files, "content/"+src)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v: is root %s the site?", files, root)
	}
	return files
}

func readFrontMatterT(t *testing.T, path string) map[string]any {
	t.Helper()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cf, err := pageparser.ParseFrontMatterAndContent(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cf.FrontMatter
}

// TestContentHasReviewedDates checks the repository's guides and
// whitepaper (drafts included: they will be published) without building.
func TestContentHasReviewedDates(t *testing.T) {
	for _, file := range reviewedFiles(t, repoRoot) {
		if _, err := reviewedDate(readFrontMatterT(t, filepath.Join(repoRoot, file))); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// i18nText is the "other" form of a key in the site's i18n/pl.toml.
func i18nText(t *testing.T, root, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "i18n", "pl.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var entries map[string]map[string]string
	if err := toml.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("i18n/pl.toml: %v", err)
	}
	s := entries[key]["other"]
	if s == "" {
		t.Fatalf("i18n/pl.toml has no %s", key)
	}
	return s
}

// checkReviewedShown checks the page header of a built guide or whitepaper:
// a reviewed date later than the publication is shown as "Zaktualizowano
// <time>"; the same day, or none, is not shown. ld is the page's JSON-LD
// (nil when it has none): its dateModified is the reviewed date.
func checkReviewedShown(t *testing.T, p *builtPage, file string, published, reviewed time.Time, ld map[string]any) {
	t.Helper()
	label := i18nText(t, repoRoot, "reviewed") // fixtures copy the real i18n
	var meta *html.Node
	for _, n := range find(p.doc, func(n *html.Node) bool { return hasClass(n, "meta") }) {
		if len(find(n, byTag(atom.Time))) > 0 {
			meta = n
			break
		}
	}
	if meta == nil {
		t.Errorf("%s: page has no date line", file)
		return
	}
	shown := map[string]bool{}
	for _, tm := range find(meta, byTag(atom.Time)) {
		v, _ := attr(tm, "datetime")
		shown[v] = true
	}
	later := !reviewed.IsZero() && reviewed.Format(time.DateOnly) > published.Format(time.DateOnly)
	switch {
	case later && (!strings.Contains(text(meta), label+" ") || !shown[reviewed.Format(time.DateOnly)]):
		t.Errorf("%s: date line %q lacks %s <time datetime=%q>", file, text(meta), label, reviewed.Format(time.DateOnly))
	case !later && strings.Contains(text(meta), label):
		t.Errorf("%s: date line %q shows %s, but reviewed %v is not after %v", file, text(meta), label, reviewed, published)
	}
	if ld == nil {
		return
	}
	want := published
	if !reviewed.IsZero() {
		want = reviewed
	}
	if got, err := time.Parse(time.RFC3339, cast.ToString(ld["dateModified"])); err != nil || got.Format(time.DateOnly) != want.Format(time.DateOnly) {
		t.Errorf("%s: JSON-LD dateModified %v, want %s", file, ld["dateModified"], want.Format(time.DateOnly))
	}
}

// checkFirmFooter checks that every page's footer names the firm's registry
// details from config.toml (art. 206 k.s.h.).
func (s *builtSite) checkFirmFooter(t *testing.T, root string) {
	t.Helper()
	cfg, err := config.Load(root, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Params.Firm
	var want []string
	for _, v := range []string{f.Name, f.RegistryCourt, f.KRS, f.NIP, f.REGON, f.ShareCapital} {
		if v != "" {
			want = append(want, strings.Join(strings.Fields(v), " "))
		}
	}
	for _, file := range sortedKeys(s.pages) {
		footers := find(s.pages[file].doc, func(n *html.Node) bool { return n.DataAtom == atom.Footer && hasClass(n, "site-footer") })
		if len(footers) != 1 {
			t.Errorf("%s: %d site footers", file, len(footers))
			continue
		}
		got := text(footers[0])
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: footer lacks %q", file, w)
			}
		}
	}
}
