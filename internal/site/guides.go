package site

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strings"

	"github.com/bep/logg"
	"github.com/gohugoio/hugo/resources/page"
	"github.com/gohugoio/hugo/tpl"
	"github.com/spf13/cast"
	"golang.org/x/sync/errgroup"

	"github.com/kbpress/kb/internal/guide"
)

// guides returns the published guides of the default language, newest
// first (ties by slug, so the order is stable).
func (s *hugoSite) guides(ctx context.Context) ([]guide.Guide, error) {
	if len(s.h.Sites) == 0 {
		return nil, errors.New("site: hugo built no sites")
	}
	site := s.h.Sites[0]
	basePath := "/"
	if u, err := url.Parse(site.BaseURL()); err == nil && u.Path != "" {
		basePath = u.Path
	}
	var pages []page.Page
	for _, p := range site.RegularPages() {
		if p.Section() == GuidesSection && p.File() != nil {
			pages = append(pages, p)
		}
	}
	// On every core: the guides' summaries and texts are a second of
	// work at 10,000 guides, and Hugo's pages are safe to read at once
	// (it renders them so). The first error in page order is reported.
	out := make([]guide.Guide, len(pages))
	errs := make([]error, len(pages))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range pages {
		g.Go(func() error {
			out[i], errs[i] = toGuide(ctx, s.opts.Root, basePath, p)
			return nil
		})
	}
	g.Wait()
	if err := cmp.Or(errs...); err != nil {
		return nil, err
	}
	// A render hook's errorf (a missing image) is only logged, and under
	// LoadGuides the content renders here, after process checked the log.
	if s.logger.LoggCount(logg.LevelError) > 0 {
		return nil, formatError(s.opts.Root, "render guides", errors.New(strings.TrimSpace(s.logger.Errors())))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.After(out[j].Date)
		}
		return out[i].Slug < out[j].Slug
	})
	return out, nil
}

func toGuide(ctx context.Context, root, basePath string, p page.Page) (guide.Guide, error) {
	rel := p.RelPermalink()
	params := p.Params()
	g := guide.Guide{
		Slug:              path.Base(strings.TrimSuffix(rel, "/")),
		Title:             p.Title(),
		Description:       p.Description(),
		Summary:           plainText(string(p.Summary(ctx))),
		Permalink:         p.Permalink(),
		OutputPath:        outputPath(basePath, rel),
		Date:              p.Date(),
		Tags:              cast.ToStringSlice(params["tags"]),
		Topics:            cast.ToStringSlice(params["topics"]),
		WordCount:         p.WordCount(ctx),
		ReadingTime:       p.ReadingTime(ctx),
		Newsletter:        true,
		NewsletterSubject: strings.TrimSpace(cast.ToString(params["newsletter_subject"])),
		SourcePath:        relPath(root, p.File().Filename()),
		Markdown:          p.RawContent(),
	}
	if v, ok := params["newsletter"]; ok {
		b, err := cast.ToBoolE(v)
		if err != nil {
			return g, fmt.Errorf("site: %s: front matter newsletter: want true or false, got %v", g.SourcePath, v)
		}
		g.Newsletter = b
	}
	// The image render hook records the email versions while the content
	// renders; LoadGuides renders nothing else, so render it here.
	if _, err := p.Content(ctx); err != nil {
		return g, fmt.Errorf("site: %s: %w", g.SourcePath, err)
	}
	g.Images = emailImages(p.Store().Get(emailImagesKey))
	return g, nil
}

// emailImagesKey is the .Page.Store map layouts/_markup/render-image.html
// fills: destination → {url, width, height, link}.
const emailImagesKey = "emailImages"

func emailImages(v any) map[string]guide.Image {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]guide.Image, len(m))
	for dest, raw := range m {
		im := cast.ToStringMap(raw)
		out[dest] = guide.Image{
			URL:    cast.ToString(im["url"]),
			Width:  cast.ToInt(im["width"]),
			Height: cast.ToInt(im["height"]),
			Link:   cast.ToString(im["link"]),
		}
	}
	return out
}

// outputPath maps a page's relative URL to the file Hugo wrote for it,
// relative to the publish dir: the base URL's path is not part of it.
func outputPath(basePath, rel string) string {
	p := strings.TrimPrefix(rel, strings.TrimSuffix(basePath, "/"))
	p = strings.TrimPrefix(p, "/")
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	return p
}

// plainText turns rendered HTML (a summary) into one line of text.
func plainText(h string) string {
	s := html.UnescapeString(tpl.StripHTML(h))
	return strings.Join(strings.Fields(s), " ")
}
