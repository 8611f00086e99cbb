package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/site"
)

func (a *app) buildCommand() *cobra.Command {
	var out, baseURL string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the site into the publish directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.siteOptions(out, baseURL)
			if err != nil {
				return err
			}
			res, err := site.Build(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Built %d pages (%d files, %d guides) into %s in %s\n",
				res.Pages, res.Files, len(res.Guides), res.PublishDir, res.Duration.Round(1e6))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "public", "publish directory")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "override baseURL from config.toml")
	return cmd
}

// siteOptions validates the configuration and returns the build options.
// Files the caller adds to the publish dir (the whitepaper PDF) must be
// copied in after site.Build returns; see the site package comment.
func (a *app) siteOptions(out, baseURL string) (site.Options, error) {
	cfg, err := config.Load(a.root, a.getenv)
	if err != nil {
		return site.Options{}, err
	}
	if baseURL != "" {
		if cfg, err = cfg.WithBaseURL(baseURL); err != nil {
			return site.Options{}, fmt.Errorf("--base-url: %w", err)
		}
	}
	publishDir, err := filepath.Abs(resolve(a.root, out))
	if err != nil {
		return site.Options{}, err
	}
	return site.Options{
		Root:       a.root,
		PublishDir: publishDir,
		BaseURL:    cfg.BaseURL,
		Logger:     a.log,
	}, nil
}
