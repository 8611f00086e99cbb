// Package site builds the knowledge-base site with Hugo running in-process,
// watches its sources for changes, and hands the published guides to the
// rest of kb as plain data (guide.Guide). It is the only package that
// imports Hugo.
//
// Publishing order. Build renders into a staging directory next to the
// publish directory and then swaps the two (atomically on Linux), so a
// rebuild never leaves pages of deleted guides behind, a failed build
// changes nothing, and a server reading the publish directory never sees a
// half-written site. The files a build wrote are listed in a manifest
// inside the publish directory (ManifestName; servers should not serve
// dot-files). Any other file found there — such as the whitepaper PDF
// that cmd/kb copies in after Build returns — belongs to the caller and is
// carried over into every later build untouched (unless the new build
// writes a file at the same path). The replaced build is kept next to the
// publish dir (".<name>.old-…") and the next Build renders into it,
// pruning what it does not write again: deleting and recreating thousands
// of files on every build would cost more than Hugo's own work. The
// expected order is:
//
//	res, err := site.Build(ctx, opts) // replaces the publish dir
//	copy whitepaper.pdf into res.PublishDir
//
// and, when the PDF must disappear (the whitepaper became gated), the
// caller deletes it itself.
package site

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kbpress/kb/internal/guide"
)

// GuidesSection is the content section whose regular pages are guides.
const GuidesSection = "poradniki"

// Options says what to build and where.
type Options struct {
	// Root is the Hugo site directory (where config.toml lives).
	Root string
	// PublishDir is where the built site goes; default <Root>/public.
	PublishDir string
	// BaseURL overrides baseURL from config.toml, e.g. the local address
	// for `kb serve`.
	BaseURL string
	// Params are merged into the site's [params] (maps merge key by key),
	// e.g. "whitepaper_pdf": {"url": …, "size_bytes": …, "pages": …}.
	Params map[string]any
	// Environment is Hugo's environment; default "production".
	Environment string
	// Logger receives Hugo's warnings and errors; nil discards them.
	Logger *slog.Logger
	// Drafts also builds drafts and future-dated pages (Hugo's
	// buildDrafts and buildFuture), for a writer's preview only: publish
	// such a build elsewhere than the deployed directory. kb build and
	// kb send never set it.
	Drafts bool
	// Check, if set, vets the published guides before the build replaces
	// the publish directory: its error fails the build and keeps the
	// previous site (e.g. a guide naming an unknown newsletter topic).
	Check func([]guide.Guide) error
	// AfterRender, if set, runs on the staging dir once Hugo has rendered
	// into it and before it is published: files it writes there (returned
	// as slash paths relative to the dir) are published with the build,
	// files it deletes are not (e.g. the search index turned into
	// fragments). Its error fails the build and keeps the previous site.
	AfterRender func(stagingDir string) (written []string, err error)
}

// Result describes a finished build.
type Result struct {
	// PublishDir is the absolute publish directory.
	PublishDir string
	// Pages is the number of HTML files the build wrote.
	Pages int
	// Files is the number of files the build wrote (pages, feeds, assets,
	// static files); files the caller added are not counted.
	Files    int
	Duration time.Duration
	// Guides are the published guides, newest first.
	Guides []guide.Guide
}

func (o Options) normalize() (Options, error) {
	if o.Root == "" {
		return o, errors.New("site: Options.Root is required")
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return o, fmt.Errorf("site: root: %w", err)
	}
	o.Root = root
	if o.PublishDir == "" {
		o.PublishDir = filepath.Join(root, "public")
	}
	if o.PublishDir, err = filepath.Abs(o.PublishDir); err != nil {
		return o, fmt.Errorf("site: publish dir: %w", err)
	}
	if o.Environment == "" {
		o.Environment = "production"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Build renders the site into Options.PublishDir (see the package comment
// for how the directory is replaced) and returns the published guides.
// The previous build is kept as a hidden sibling (".public.old-…") for
// the next Build to render into. One Build at a time per publish dir.
func Build(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if err := checkPublishDir(opts.Root, opts.PublishDir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.PublishDir), 0o755); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	staging, reused, err := prepareStaging(opts.PublishDir)
	if err != nil {
		return nil, fmt.Errorf("site: staging dir: %w", err)
	}
	published := false
	defer func() {
		if !published {
			// Failed: keep the dir for the next build to render into.
			setAside(staging, opts.PublishDir, opts.Logger)
		}
	}()
	defer removeTrash(opts.PublishDir, opts.Logger)()
	opts.Logger.Debug("site: staging", "dir", staging, "reused", reused)

	tConfig := time.Now()
	h, err := newHugo(ctx, opts, staging, false)
	if err != nil {
		return nil, err
	}
	defer h.close()
	tRender := time.Now()
	if err := h.build(ctx); err != nil {
		return nil, err
	}
	tGuides := time.Now()
	guides, err := h.guides(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Check != nil {
		if err := opts.Check(guides); err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tPublish := time.Now()
	built, err := h.builtFiles(staging)
	if err != nil {
		return nil, fmt.Errorf("site: list built files: %w", err)
	}
	if opts.AfterRender != nil {
		written, err := opts.AfterRender(staging)
		if err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		for _, f := range written {
			built[f] = true
		}
	}
	m, err := publish(staging, opts.PublishDir, built, opts.Logger)
	if err != nil {
		return nil, err
	}
	published = true
	opts.Logger.Debug("site: build phases", "config", tRender.Sub(tConfig), "render", tGuides.Sub(tRender),
		"guides", tPublish.Sub(tGuides), "publish", time.Since(tPublish))
	res := &Result{
		PublishDir: opts.PublishDir,
		Pages:      m.pages(),
		Files:      len(m.Files),
		Duration:   time.Since(start),
		Guides:     guides,
	}
	opts.Logger.Info("site built", "dir", opts.PublishDir, "pages", res.Pages, "files", res.Files,
		"guides", len(guides), "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// LoadGuides reads the published guides without rendering the site (for
// `kb send`). Drafts, future and expired guides are left out, as in Build.
func LoadGuides(ctx context.Context, opts Options) ([]guide.Guide, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	// Nothing is written; the publish dir only feeds permalinks/paths.
	h, err := newHugo(ctx, opts, opts.PublishDir, true)
	if err != nil {
		return nil, err
	}
	defer h.close()
	if err := h.process(ctx); err != nil {
		return nil, err
	}
	return h.guides(ctx)
}
