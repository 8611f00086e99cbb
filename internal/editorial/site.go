package editorial

import (
	"github.com/kbpress/kb/internal/textfold"

	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/pelletier/go-toml/v2"
)

// siteIndex is what a link can point at: pages (by URL), files, tag pages
// and the ids every page gets from the layouts.
type siteIndex struct {
	root        string
	pages       map[string]*document // "/poradniki/x/" → page
	files       map[string]bool      // static files and generated ones, "/favicon.svg"
	tags        map[string]bool      // slugs of tag pages Hugo will render
	tagsPath    string               // "/tagi/"
	termPath    string               // "/tagi/:slug/"
	templateIDs map[string]bool
}

// generatedFiles are written by kb build besides the pages (config.toml
// [outputs], robots.txt, the sitemap); links to them are fine.
var generatedFiles = []string{"/sitemap.xml", "/robots.txt", "/search-index.json", "/poradniki/index.xml"}

// taxonomyConfig reads where the tag pages live from config.toml
// ([permalinks.taxonomy] and [permalinks.term] for "tags"); Hugo's
// defaults otherwise.
func taxonomyConfig(root string) (list, term string) {
	list, term = "/tags/", "/tags/:slug/"
	raw, err := os.ReadFile(filepath.Join(root, "config.toml"))
	if err != nil {
		return list, term
	}
	var cfg struct {
		Permalinks struct {
			Taxonomy map[string]string `toml:"taxonomy"`
			Term     map[string]string `toml:"term"`
		} `toml:"permalinks"`
	}
	if toml.Unmarshal(raw, &cfg) != nil {
		return list, term
	}
	if p := cfg.Permalinks.Taxonomy["tags"]; p != "" {
		list = slashed(p)
	}
	if p := cfg.Permalinks.Term["tags"]; p != "" {
		term = slashed(p)
	}
	return list, term
}

func slashed(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// pageURL is the path Hugo gives a content file (rel relative to content/):
// url: wins, slug: replaces the last segment, index.md/_index.md are their
// directory. Paths are lower-cased as Hugo does.
func pageURL(rel string, fm map[string]any, tagsPath string) string {
	if u, ok := fm["url"].(string); ok && u != "" {
		return slashed(strings.ToLower(u))
	}
	dir, file := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	stem := strings.TrimSuffix(file, path.Ext(file))
	if stem == "_index" && dir == "tags" {
		return tagsPath
	}
	segs := []string{}
	if dir != "" {
		segs = strings.Split(dir, "/")
	}
	if stem != "_index" && stem != "index" {
		segs = append(segs, stem)
	}
	if s, ok := fm["slug"].(string); ok && s != "" && stem != "_index" && len(segs) > 0 {
		segs[len(segs)-1] = s
	}
	if len(segs) == 0 {
		return "/"
	}
	return strings.ToLower("/" + strings.Join(segs, "/") + "/")
}

// termSlug is a tag's URL segment: Hugo's path sanitising, lower case,
// accents removed (removePathAccents) and ł folded as kb's build does.
func termSlug(tag string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.TrimSpace(tag) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || strings.ContainsRune("._#+~-@", r):
			if hyphen && r != '-' {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		case unicode.IsSpace(r) && b.Len() > 0:
			hyphen = true
		}
	}
	return textfold.ASCII(strings.ToLower(b.String()))
}

// tagKey makes tags that differ only in case or diacritics compare equal.
func tagKey(tag string) string {
	return textfold.ASCII(strings.ToLower(strings.Join(strings.Fields(tag), " ")))
}

func (s *siteIndex) termURL(slug string) string {
	return strings.Replace(s.termPath, ":slug", slug, 1)
}

// listFiles maps every file under dir to its site path.
func listFiles(dir string, into map[string]bool) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			into["/"+filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

var layoutIDRe = regexp.MustCompile(`\bid="([A-Za-z][A-Za-z0-9_-]*)"`)

// layoutIDs collects the literal ids in the layouts (id="signup-band"):
// every page may have them, so #anchors to them are not broken.
func layoutIDs(dir string) map[string]bool {
	ids := map[string]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".html" {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, m := range layoutIDRe.FindAllSubmatch(raw, -1) {
			ids[string(m[1])] = true
		}
		return nil
	})
	return ids
}

// nearest suggests the page URL closest to p (a typo), or "".
func (s *siteIndex) nearest(p string) string {
	best, bestD := "", 4 // more than 3 edits is not a typo
	urls := make([]string, 0, len(s.pages))
	for u := range s.pages {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		if d := distance(p, u, bestD); d < bestD {
			best, bestD = u, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, or limit when it is
// clearly more.
func distance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if abs(len(ra)-len(rb)) >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
