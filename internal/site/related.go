package site

import (
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gohugoio/hugo/common/types"
	"github.com/gohugoio/hugo/config/allconfig"
	"github.com/spf13/cast"
)

// relatedParam is the site param (site.Params.kbrelated) holding each
// guide's related guides, page path → up to three page paths, for
// layouts/_partials/related.html.
const relatedParam = "kbrelated"

// relatedPerTag is how many of each tag's newest pages are candidates.
const relatedPerTag = 8

// relatedGuides applies related.html's rule to the front matter read
// before the build: the $perTag newest pages of each of a guide's tags
// are candidates, those in two or more of the lists first, then the
// others, each part newest first; the first three other guides win.
//
// Done in a template, the set operations and sorts were an eighth of a
// 2,000-guide build; here they take milliseconds. The template keeps its
// own version for `hugo` run without kb, and looks each page up, so a page
// Hugo did not build (a draft, a future or expired guide) is never linked.
func relatedGuides(files []contentFile, configs *allconfig.Configs, drafts bool, now time.Time) map[string]any {
	type pg struct {
		path, section, title string
		date                 time.Time
		weight               int
		tags                 []string // term keys, front matter order
	}
	var pages []*pg
	terms := map[string][]*pg{}
	for _, f := range files {
		rel, err := filepath.Rel(f.dir, f.path)
		if err != nil || f.fm == nil || strings.HasPrefix(filepath.Base(rel), "_index.") {
			continue
		}
		fm := f.fm
		if cast.ToBool(lookupFold(fm, "draft")) && !drafts {
			continue
		}
		date, _ := cast.ToTimeE(lookupFold(fm, "date"))
		publish := date
		if v := lookupFold(fm, "publishdate"); v != nil {
			publish, _ = cast.ToTimeE(v)
		}
		if publish.After(now) && !drafts {
			continue
		}
		if v := lookupFold(fm, "expirydate"); v != nil {
			if exp, err := cast.ToTimeE(v); err == nil && !exp.IsZero() && exp.Before(now) {
				continue
			}
		}
		key := configs.ContentPathParser.Parse("content", "/"+filepath.ToSlash(rel)).Base()
		p := &pg{path: key, date: date, weight: cast.ToInt(lookupFold(fm, "weight")),
			title: cast.ToString(lookupFold(fm, "linktitle"))}
		if p.title == "" {
			p.title = cast.ToString(lookupFold(fm, "title"))
		}
		if section, _, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/"); ok {
			p.section = section
		}
		for _, t := range types.ToStringSlicePreserveString(lookupFold(fm, "tags")) {
			k := strings.ToLower(strings.Join(strings.Fields(t), "-"))
			if k != "" && !slices.Contains(p.tags, k) {
				p.tags = append(p.tags, k)
				terms[k] = append(terms[k], p)
			}
		}
		pages = append(pages, p)
	}
	// A term's pages in Hugo's default order: weight (unweighted last),
	// newest first, then title and path.
	byDefault := func(a, b *pg) int {
		switch {
		case a.weight != b.weight && (a.weight == 0 || b.weight == 0):
			return cmpBool(a.weight == 0, b.weight == 0)
		case a.weight != b.weight:
			return a.weight - b.weight
		case !a.date.Equal(b.date):
			return b.date.Compare(a.date)
		case a.title != b.title:
			return strings.Compare(a.title, b.title)
		}
		return strings.Compare(a.path, b.path)
	}
	for _, l := range terms {
		slices.SortStableFunc(l, byDefault)
	}
	newest := func(a, b *pg) int { return b.date.Compare(a.date) }
	out := map[string]any{}
	for _, p := range pages {
		if p.section != GuidesSection || len(p.tags) == 0 {
			continue
		}
		var all, multi []*pg
		for i, t := range p.tags {
			l := terms[t][:min(relatedPerTag, len(terms[t]))]
			if i > 0 {
				for _, q := range all {
					if slices.Contains(l, q) && !slices.Contains(multi, q) {
						multi = append(multi, q)
					}
				}
			}
			for _, q := range l {
				if !slices.Contains(all, q) {
					all = append(all, q)
				}
			}
		}
		slices.SortStableFunc(all, newest)
		slices.SortStableFunc(multi, newest)
		var r []string
		for _, q := range append(multi, all...) {
			if q != p && q.section == GuidesSection && !slices.Contains(r, q.path) {
				r = append(r, q.path)
				if len(r) == 3 {
					break
				}
			}
		}
		if len(r) > 0 {
			out[p.path] = r
		}
	}
	return out
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
