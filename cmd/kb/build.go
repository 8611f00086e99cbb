package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/atomicfile"
	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/precompress"
	"github.com/kbpress/kb/internal/search"
	"github.com/kbpress/kb/internal/site"
	"github.com/kbpress/kb/internal/whitepaper"
)

func (a *app) buildCommand() *cobra.Command {
	var out, private, baseURL string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the site and the whitepaper PDF into the publish directory",
		Long: `Build renders the whitepaper PDF (only when its source changed), then the
site with Hugo running in-process, into --out. A free whitepaper is copied
into the site; a gated one goes to --private, for kb serve to hand out
through signed links only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(baseURL)
			if err != nil {
				return err
			}
			b, err := a.build(cmd.Context(), cfg, a.path(out), a.path(private), "production")
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Built %d pages (%d files, %d guides) into %s in %s\n",
				b.Pages, b.Files, len(b.Guides), b.PublishDir, b.Duration.Round(time.Millisecond))
			if wp := b.Whitepaper; wp.File != "" {
				fmt.Fprintf(a.stdout, "Whitepaper %q: %d pages, %d bytes → %s%s\n",
					wp.Title, wp.Info.Pages, wp.Info.Size, wp.File, map[bool]string{true: " (unchanged, from cache)"}[wp.Info.Cached])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "public", "publish directory (deploy it to any static host)")
	cmd.Flags().StringVar(&private, "private", "private", "directory for the gated whitepaper PDF (kept out of --out)")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "override baseURL from config.toml")
	return cmd
}

// built is a finished build: the site and where the whitepaper went.
type built struct {
	*site.Result
	Whitepaper builtWhitepaper
}

type builtWhitepaper struct {
	Title string
	// File is the PDF's place: in the publish dir when free, in the
	// private dir when gated; empty when the site has no whitepaper.
	File string
	// URL is the PDF's public address when free, empty when gated.
	URL  string
	Info whitepaper.Info
}

// whitepaperPlan is where the whitepaper comes from and goes.
type whitepaperPlan struct {
	src      string // markdown source
	cached   string // rendered PDF in the build cache
	cacheDir string
	public   string // its place in the publish dir (free) — or the stale copy to remove (gated)
	builtWhitepaper
}

// planWhitepaper reads the whitepaper's front matter and decides where its
// PDF goes; ok is false when the site has no whitepaper.
func (a *app) planWhitepaper(cfg *config.Config, publishDir, privateDir string) (p whitepaperPlan, ok bool, err error) {
	src := cfg.Params.Whitepaper.Source
	if src == "" {
		return p, false, nil
	}
	p.src = filepath.Join(a.root, "content", filepath.FromSlash(src))
	raw, err := os.ReadFile(p.src)
	if err != nil {
		return p, false, fmt.Errorf("whitepaper (params.whitepaper.source): %w", err)
	}
	doc, err := whitepaper.Parse(p.src, raw)
	if err != nil {
		return p, false, err
	}
	slug := cmp.Or(doc.Slug, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
	p.Title = doc.Title
	p.cacheDir = filepath.Join(a.root, "resources", "_gen", "kb-whitepaper")
	p.cached = filepath.Join(p.cacheDir, slug+".pdf")
	urlPath := path.Join("/", path.Dir(src), slug+".pdf")
	p.public = filepath.Join(publishDir, filepath.FromSlash(urlPath))
	if cfg.Params.Whitepaper.Gated {
		p.File = filepath.Join(privateDir, slug+".pdf")
	} else {
		p.File = p.public
		p.URL = cfg.AbsURL(urlPath)
	}
	return p, true, nil
}

// build renders the whitepaper, builds the site with the PDF's size and
// page count in its params, and then puts the PDF in place. The PDF goes in
// after the site build because the build replaces the publish directory.
func (a *app) build(ctx context.Context, cfg *config.Config, publishDir, privateDir, environment string) (*built, error) {
	return a.buildSite(ctx, cfg, publishDir, privateDir, environment, false)
}

// buildSite is build, with drafts and future-dated guides too when drafts
// is set (kb serve --watch --drafts, into a directory of its own).
func (a *app) buildSite(ctx context.Context, cfg *config.Config, publishDir, privateDir, environment string, drafts bool) (*built, error) {
	publishDir, err := filepath.Abs(publishDir)
	if err != nil {
		return nil, err
	}
	wp, hasWhitepaper, err := a.planWhitepaper(cfg, publishDir, privateDir)
	if err != nil {
		return nil, err
	}
	// The privacy notice names the region where Mailgun processes emails.
	params := map[string]any{"mail_region": cfg.Env.MailgunRegion()}
	if hasWhitepaper {
		wp.Info, err = whitepaper.Build(ctx, wp.src, wp.cached, wp.cacheDir, whitepaper.Options{
			Firm:        cfg.Params.Firm.Name,
			FirmAddress: cfg.Params.Firm.Address,
			BaseURL:     cfg.BaseURL,
			Language:    "pl",
		})
		if err != nil {
			return nil, err
		}
		for _, w := range wp.Info.Warnings {
			a.log.Warn("whitepaper", "file", wp.src, "warning", w)
		}
		if wp.URL != "" {
			// Root-relative like every other link on the site; emails get
			// the absolute wp.URL.
			params["whitepaper_pdf"] = map[string]any{"url": sitePath(wp.URL), "size_bytes": wp.Info.Size, "pages": wp.Info.Pages}
		}
	}
	res, err := site.Build(ctx, site.Options{
		Root:        a.root,
		PublishDir:  publishDir,
		BaseURL:     cfg.BaseURL,
		Params:      params,
		Environment: environment,
		Drafts:      drafts,
		Logger:      a.log,
		Check: func(guides []guide.Guide) error {
			return guide.Check(guides, cfg.Params.Newsletter.TopicIDs(), cfg.Params.Newsletter.Welcome)
		},
		// The search index Hugo rendered becomes fragments loaded per word.
		AfterRender: func(staging string) ([]string, error) {
			return search.FromHugoIndex(staging, search.Options{})
		},
	})
	if err != nil {
		return nil, err
	}
	if err := guide.WriteIndex(res.PublishDir, res.Guides); err != nil {
		return nil, fmt.Errorf("write the guides index: %w", err)
	}
	if hasWhitepaper {
		if cfg.Params.Whitepaper.Gated {
			// The publish dir keeps files the build did not write, so a copy
			// from before the whitepaper was gated must go explicitly.
			if err := os.Remove(wp.public); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("remove public copy of the gated whitepaper: %w", err)
			}
		}
		if err := copyFile(wp.cached, wp.File); err != nil {
			return nil, fmt.Errorf("place whitepaper PDF: %w", err)
		}
	}
	// Last, when every file is in place: .br and .gz siblings for servers.
	pc, err := precompress.Dir(res.PublishDir, precompress.Options{})
	if err != nil {
		return nil, err
	}
	a.log.Info("precompressed", "files", pc.Files, "written", pc.Written, "kept", pc.Kept, "removed", pc.Removed, "duration", pc.Duration)
	return &built{Result: res, Whitepaper: wp.builtWhitepaper}, nil
}

// locateWhitepaper finds the PDF a previous kb build placed (kb serve
// --no-build).
func (a *app) locateWhitepaper(cfg *config.Config, publishDir, privateDir string) (builtWhitepaper, error) {
	wp, ok, err := a.planWhitepaper(cfg, publishDir, privateDir)
	if err != nil || !ok {
		return builtWhitepaper{}, err
	}
	fi, err := os.Stat(wp.File)
	if err != nil {
		return builtWhitepaper{}, fmt.Errorf("whitepaper PDF not found (run kb build with the same --out/--private): %w", err)
	}
	wp.Info.Size = fi.Size()
	return wp.builtWhitepaper, nil
}

// sitePath is the path part of an absolute URL on the site.
func sitePath(abs string) string {
	u, err := url.Parse(abs)
	if err != nil {
		return abs
	}
	return u.EscapedPath()
}

// copyFile copies src to dst atomically (temp file + rename), so a server
// never hands out half a PDF.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFrom(dst, in)
}
