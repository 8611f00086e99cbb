package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/editorial"
)

// errFindings makes kb exit 1 after a report with errors; the report
// itself is already printed.
var errFindings = errors.New("są błędy – popraw je przed publikacją")

func (a *app) checkCommand() *cobra.Command {
	var asJSON, skipDrafts bool
	cmd := &cobra.Command{
		Use:   "check [FILE.md...]",
		Short: "Editorial check of the guides before publishing (links, anchors, front matter, headings, images, quotes)",
		Long: `Check reads content/ without building the site and reports, for every guide
in content/poradniki (or only the files given), one line per finding:

  content/poradniki/x.md:12: błąd: … (what to do)

Errors (broken links and #anchors, missing title, description or reviewed,
a # heading in the body or a skipped level, images without alt text, raw
HTML, shortcodes, unknown newsletter topics, placeholder paragraphs left
from the archetype) make kb check exit 1; warnings (description outside
110–160 characters, a title of 70 or more, straight quotes, reviewed over
12 months ago, a tag no other guide uses) do not. --json prints a JSON
array of {file, line, column, severity, rule, message} instead, for tools.
Drafts are checked too; --skip-drafts leaves them out (CI on a branch
that keeps drafts).`,
		RunE: func(cmd *cobra.Command, files []string) error {
			cfg, err := a.config("")
			if err != nil {
				return err
			}
			opts := editorial.Options{
				Root:       a.root,
				Topics:     cfg.Params.Newsletter.TopicIDs(),
				BaseURL:    cfg.BaseURL,
				Files:      files,
				SkipDrafts: skipDrafts,
			}
			// The whitepaper PDF is copied in by kb build, not a content file.
			if wp, ok, err := a.planWhitepaper(cfg, "", ""); err == nil && ok && wp.URL != "" {
				opts.ExtraPaths = append(opts.ExtraPaths, sitePath(wp.URL))
			}
			rep, err := editorial.Check(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				if err := rep.WriteJSON(a.stdout); err != nil {
					return err
				}
				fmt.Fprintln(a.stderr, rep.Summary())
			} else {
				if err := rep.WriteText(a.stdout); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, rep.Summary())
			}
			if rep.Errors > 0 {
				return errFindings
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as a JSON array (the summary goes to stderr)")
	cmd.Flags().BoolVar(&skipDrafts, "skip-drafts", false, "leave draft guides out")
	return cmd
}
