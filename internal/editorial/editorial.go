// Package editorial is `kb check`: an editorial check of the guides in
// content/ before publishing, fast enough for every save and for CI. It
// never runs Hugo: it parses the markdown with goldmark (configured like
// the site's) and the front matter itself, and predicts what Hugo will
// publish (page URLs, tag pages, heading ids).
//
// Severities. An error is something broken for readers or for kb: a link
// or #anchor that goes nowhere, a missing title, description or reviewed
// date, a # heading in the body or a skipped level, an image without alt
// text, raw HTML or a shortcode (emails are rendered from the same
// markdown and drop them), an unknown newsletter topic, a placeholder
// paragraph left from the archetype. A warning is worth a look but may
// be intended: a description outside 110–160 characters or a title of 70
// or more (search engines and mail clients cut them), straight quotes
// where Polish „…” belong (the site's typographer converts them, the
// emails' markdown renderer does not), a reviewed date over 12 months
// old, a tag no other guide uses or one spelled differently from an
// existing one. Messages are in Polish: writers read them.
package editorial

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Severity is how bad a finding is.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Rule ids, stable for tools reading --json.
const (
	RuleFrontMatter = "front-matter"
	RuleTitle       = "title"
	RuleDescription = "description"
	RuleReviewed    = "reviewed"
	RuleTags        = "tags"
	RuleTopics      = "topics"
	RuleLink        = "link"
	RuleAnchor      = "anchor"
	RuleHeading     = "heading"
	RuleImage       = "image"
	RuleRawHTML     = "raw-html"
	RuleShortcode   = "shortcode"
	RuleQuotes      = "quotes"
	RulePlaceholder = "placeholder"
)

// Finding is one problem in one file.
type Finding struct {
	// File is relative to the site root, slash-separated.
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column,omitempty"`
	Severity Severity `json:"severity"`
	Rule     string   `json:"rule"`
	Message  string   `json:"message"`
}

// Options says what to check.
type Options struct {
	// Root is the site directory (config.toml, content/, static/, layouts/).
	Root string
	// Topics are the newsletter topic ids (params.newsletter.topics).
	Topics []string
	// BaseURL is the site's address: absolute links to it are checked
	// like root-relative ones.
	BaseURL string
	// ExtraPaths are site paths that exist without a content or static
	// file, e.g. the whitepaper PDF that kb build copies in.
	ExtraPaths []string
	// Files limits the report to these guides (paths relative to Root or
	// absolute); empty: every guide. The whole site is read either way.
	Files []string
	// SkipDrafts leaves draft guides out of the report.
	SkipDrafts bool
	// Now is the day the reviewed dates are measured from; zero: now.
	Now time.Time
}

// Report is the result of a check.
type Report struct {
	Findings []Finding
	// Guides is the number of guides checked.
	Guides   int
	Errors   int
	Warnings int
}

// GuidesDir is the guides' section under content/.
const GuidesDir = "poradniki"

// Check reads the site and reports the findings on its guides, sorted by
// file and line. The error is for a site it cannot read at all.
func Check(ctx context.Context, opts Options) (*Report, error) {
	if opts.Root == "" {
		return nil, errors.New("editorial: Options.Root is required")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	docs, err := readContent(ctx, opts.Root)
	if err != nil {
		return nil, err
	}
	idx, err := buildIndex(opts, docs)
	if err != nil {
		return nil, err
	}
	only, err := onlyFiles(opts.Root, opts.Files, docs)
	if err != nil {
		return nil, err
	}
	c := &checker{opts: opts, idx: idx, docs: docs, tagUse: tagUse(docs)}
	rep := &Report{}
	for _, d := range docs {
		if !d.guide || (only != nil && !only[d.rel]) || (opts.SkipDrafts && d.draft) {
			continue
		}
		rep.Guides++
		rep.Findings = append(rep.Findings, c.guide(d)...)
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	for _, f := range rep.Findings {
		if f.Severity == Error {
			rep.Errors++
		} else {
			rep.Warnings++
		}
	}
	return rep, nil
}

// readContent parses every markdown file under content/, in parallel.
func readContent(ctx context.Context, root string) ([]*document, error) {
	contentDir := filepath.Join(root, "content")
	var paths []string
	err := filepath.WalkDir(contentDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".md") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("editorial: read content: %w", err)
	}
	docs := make([]*document, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				raw, err := os.ReadFile(paths[i])
				if err != nil {
					errs[i] = fmt.Errorf("editorial: %w", err)
					continue
				}
				rel, _ := filepath.Rel(root, paths[i])
				docs[i] = parseDocument(filepath.ToSlash(rel), raw)
			}
		})
	}
feed:
	for i := range paths {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return docs, nil
}

// buildIndex predicts the published site: page URLs, files, tag pages.
func buildIndex(opts Options, docs []*document) (*siteIndex, error) {
	idx := &siteIndex{root: opts.Root, pages: map[string]*document{}, files: map[string]bool{}, tags: map[string]bool{}}
	idx.tagsPath, idx.termPath = taxonomyConfig(opts.Root)
	idx.templateIDs = layoutIDs(filepath.Join(opts.Root, "layouts"))
	if err := listFiles(filepath.Join(opts.Root, "static"), idx.files); err != nil {
		return nil, fmt.Errorf("editorial: read static: %w", err)
	}
	for _, p := range append(slices.Clone(generatedFiles), opts.ExtraPaths...) {
		idx.files[p] = true
	}
	for _, d := range docs {
		rel := strings.TrimPrefix(d.rel, "content/")
		base := filepath.Base(rel)
		d.bundle = base == "index.md"
		d.guide = strings.HasPrefix(rel, GuidesDir+"/") && base != "_index.md" &&
			(!d.bundle || strings.Count(rel, "/") == 2)
		d.url = pageURL(rel, d.fm, idx.tagsPath)
		d.future = !d.date.IsZero() && d.date.After(opts.Now)
		idx.pages[d.url] = d
		if d.draft || d.future {
			continue
		}
		tags, _ := stringList(d.fm["tags"])
		for _, t := range tags {
			idx.tags[termSlug(t)] = true
		}
	}
	return idx, nil
}

// onlyFiles resolves Options.Files to document paths; nil means all.
func onlyFiles(root string, files []string, docs []*document) (map[string]bool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, d := range docs {
		known[d.rel] = true
	}
	only := map[string]bool{}
	for _, f := range files {
		abs := f
		if !filepath.IsAbs(f) {
			abs = filepath.Join(absRoot, f)
		}
		rel, err := filepath.Rel(absRoot, abs)
		rel = filepath.ToSlash(rel)
		if err != nil || !known[rel] {
			return nil, fmt.Errorf("%s: nie ma takiego pliku w content/ (podaj ścieżkę poradnika, np. content/%s/nazwa.md)", f, GuidesDir)
		}
		only[rel] = true
	}
	return only, nil
}

// tagUse counts, per tag key, the published guides using it and how each
// spelling is written.
func tagUse(docs []*document) map[string]map[string][]string {
	use := map[string]map[string][]string{} // key → spelling → files
	for _, d := range docs {
		if !d.guide || d.draft {
			continue
		}
		tags, _ := stringList(d.fm["tags"])
		for _, t := range tags {
			k := tagKey(t)
			if use[k] == nil {
				use[k] = map[string][]string{}
			}
			use[k][t] = append(use[k][t], d.rel)
		}
	}
	return use
}
