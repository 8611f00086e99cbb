package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/newsletter"
	"github.com/kbpress/kb/internal/site"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// sendFlags are the flags of kb send that shape the newsletter sender.
type sendFlags struct {
	out         string
	baseURL     string
	at          string
	testMode    bool
	concurrency int
	ratePerHour int
	settle      time.Duration
	wait        time.Duration
	// sends: the command mails (kb send), so production settings apply.
	sends bool
	// digestNow: kb send --digest.
	digestNow bool
}

func (a *app) sendCommand() *cobra.Command {
	f := sendFlags{sends: true}
	var dryRun, asJSON, digestNow bool
	var testAddress string
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Send every new guide to confirmed subscribers (run after kb build)",
		Long: `Send finds the guides that are due — published in the built site, dated on
or after params.newsletter.since, not marked newsletter: false, not sent
before — and sends each as one campaign: batches of up to 1,000 recipients
through Mailgun (or the .eml outbox without MAILGUN_API_KEY), each
recipient exactly once, to the readers who get each guide on its topics.
Readers who chose the digest get the guide queued for their digest, which
goes out when params.newsletter.digest says (run kb send at least daily)
or at once with --digest. Campaigns a crash or a kill left unfinished are
resumed first; a batch whose outcome is unknown is checked against
Mailgun's events before anything is resent. Safe to run from cron.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			f.digestNow = digestNow
			s, err := a.newsletterSession(ctx, f)
			if err != nil {
				return err
			}
			defer s.close()
			switch {
			case dryRun:
				plan, err := s.sender.Plan(ctx, s.guides, s.publishDir)
				if err != nil {
					return err
				}
				return a.printPlan(plan, asJSON)
			case testAddress != "":
				if err := s.sender.SendTest(ctx, s.guides, s.publishDir, testAddress); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Sent one test copy of each due guide to %s (%s).\n", testAddress, s.transport)
				return nil
			}
			sum, err := s.sender.Run(ctx, s.guides, s.publishDir)
			a.printSummary(sum, asJSON)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "public", "the built site (kb build --out)")
	fl.StringVar(&f.baseURL, "base-url", "", "the site's public base URL, if kb build was given one (links in emails)")
	fl.BoolVar(&dryRun, "dry-run", false, "show which campaigns would be sent to how many recipients; send nothing")
	fl.StringVar(&testAddress, "test", "", "send one copy of each due guide to this `address`; record nothing")
	fl.StringVar(&f.at, "at", "", "schedule delivery (Mailgun o:deliverytime), e.g. 2026-12-01T08:00+01:00")
	fl.BoolVar(&f.testMode, "test-mode", false, "Mailgun test mode: accepted but not delivered (o:testmode)")
	fl.IntVar(&f.concurrency, "concurrency", newsletter.DefaultConcurrency, "Mailgun calls in flight")
	fl.IntVar(&f.ratePerHour, "rate", 0, "at most this many messages per hour (new Mailgun accounts); 0: no limit")
	fl.DurationVar(&f.settle, "settle", 0, "how long after an unanswered call Mailgun's events are trusted (default 10m)")
	fl.DurationVar(&f.wait, "wait", 0, "wait this long for another kb send to finish instead of exiting")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&digestNow, "digest", false, "send the digest now to every reader with new guides waiting, whatever params.newsletter.digest says")
	return cmd
}

// newsletterSession is everything a send, a preview or a campaign command
// needs, opened from the configuration.
type newsletterSession struct {
	cfg        *config.Config
	store      *store.Store
	sender     *newsletter.Sender
	guides     []guide.Guide
	publishDir string
	transport  string
}

func (s *newsletterSession) close() { s.store.Close() }

func (a *app) newsletterSession(ctx context.Context, f sendFlags) (*newsletterSession, error) {
	cfg, err := a.config(f.baseURL)
	if err != nil {
		return nil, err
	}
	if f.sends {
		if err := checkSend(cfg); err != nil {
			return nil, err
		}
	}
	var deliverAt time.Time
	if f.at != "" {
		if deliverAt, err = parseTime(f.at); err != nil {
			return nil, fmt.Errorf("--at: %w", err)
		}
	}
	publishDir := a.path(f.out)
	guides, err := site.LoadGuides(ctx, site.Options{Root: a.root, PublishDir: publishDir, BaseURL: cfg.BaseURL, Logger: a.log})
	if err != nil {
		return nil, err
	}
	wp, _, err := a.planWhitepaper(cfg, publishDir, "")
	if err != nil {
		return nil, err
	}
	tpl, err := a.templates(cfg, wp.Title)
	if err != nil {
		return nil, err
	}
	signer, err := a.signer(cfg)
	if err != nil {
		return nil, err
	}
	tr, err := a.mailTransport(cfg)
	if err != nil {
		return nil, err
	}
	st, err := a.openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sender := newsletter.New(st, tr, tpl, token.NewLinks(signer, cfg.BaseURL), newsletter.Options{
		From:             cfg.Params.Mail.From(),
		ReplyTo:          cfg.Params.Mail.ReplyTo,
		Since:            cfg.Params.Newsletter.Since,
		FullTextMaxWords: cfg.Params.Newsletter.FullTextMaxWords,
		Concurrency:      f.concurrency,
		RatePerHour:      f.ratePerHour,
		DeliverAt:        deliverAt,
		TestMode:         f.testMode,
		Settle:           f.settle,
		LockWait:         f.wait,
		Digest:           cfg.Params.Newsletter.Digest,
		DigestNow:        f.digestNow,
		Logger:           a.log,
		Progress:         newsletter.NewProgress(a.stderr, isTerminal(a.stderr)),
	})
	return &newsletterSession{cfg: cfg, store: st, sender: sender, guides: guides, publishDir: publishDir, transport: tr.Describe()}, nil
}

// parseTime accepts RFC 3339 with or without seconds.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like 2026-12-01T08:00+01:00", s)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) printPlan(plan []newsletter.PlanItem, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, plan)
	}
	if len(plan) == 0 {
		fmt.Fprintln(a.stdout, "Nothing to send: no guide is due and no campaign is unfinished.")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tSTATE\tRECIPIENTS\tREMAINING\tBATCHES\tNOTE")
	for _, p := range plan {
		state := string(p.State)
		if state == "" {
			state = "new"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", p.Slug, state, p.Recipients, p.Remaining, p.RemainingBatches, p.Problem)
	}
	return tw.Flush()
}

func (a *app) printSummary(sum newsletter.Summary, asJSON bool) {
	if asJSON {
		_ = writeJSON(a.stdout, sum)
		return
	}
	if len(sum.Campaigns) == 0 {
		fmt.Fprintln(a.stdout, "Nothing to send: no guide is due and no campaign is unfinished.")
		return
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tSTATE\tRECIPIENTS\tSENT\tRESOLVED\tSKIPPED\tFAILED\tCALLS\tTIME\tERROR")
	for _, c := range sum.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", c.Slug, c.State, c.Recipients, c.Sent, c.Resolved,
			c.Skipped, c.Failed, c.Calls, c.Duration.Round(time.Millisecond), c.Error)
	}
	tw.Flush()
}

func (a *app) previewCommand() *cobra.Command {
	var out, dir, baseURL string
	var digest bool
	cmd := &cobra.Command{
		Use:   "preview GUIDE | --digest",
		Short: "Write a guide's newsletter email, or a sample digest, (HTML and text) to files to open in a browser",
		Args: func(cmd *cobra.Command, args []string) error {
			if digest {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.newsletterSession(cmd.Context(), sendFlags{out: out, baseURL: baseURL, concurrency: newsletter.DefaultConcurrency})
			if err != nil {
				return err
			}
			defer s.close()
			var htmlPath, textPath string
			if digest {
				// The three newest guides, as a digest reader would get them.
				latest := s.guides[:min(3, len(s.guides))]
				htmlPath, textPath, err = s.sender.PreviewDigest(latest, a.path(dir))
			} else {
				var g guide.Guide
				if g, err = findGuide(s.guides, args[0]); err != nil {
					return err
				}
				htmlPath, textPath, err = s.sender.Preview(g, a.path(dir))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\n%s\n", htmlPath, textPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "public", "the built site")
	cmd.Flags().StringVar(&dir, "dir", "preview", "where to write the files")
	cmd.Flags().BoolVar(&digest, "digest", false, "write a sample digest of the three newest guides instead")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "the site's public base URL, if kb build was given one")
	return cmd
}

// findGuide matches a slug or a source path.
func findGuide(guides []guide.Guide, name string) (guide.Guide, error) {
	name = strings.TrimSuffix(strings.Trim(name, "/"), ".md")
	for _, g := range guides {
		if g.Slug == name || strings.TrimSuffix(g.SourcePath, ".md") == name ||
			strings.HasSuffix(strings.TrimSuffix(g.SourcePath, ".md"), "/"+name) {
			return g, nil
		}
	}
	return guide.Guide{}, fmt.Errorf("no published guide %q (give its slug, e.g. rozmowa-o-zaleglej-fakturze)", name)
}

func (a *app) campaignsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "campaigns",
		Short: "List newsletter campaigns with their state and counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				list, err := st.Campaigns(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, list)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCAMPAIGN\tSTATE\tCREATED\tRECIPIENTS\tSENT\tRESOLVED\tSKIPPED\tFAILED\tERROR")
				for _, c := range list {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.ID, c.Slug, c.State,
						c.CreatedAt.Local().Format("2006-01-02 15:04"), c.Recipients, c.Sent, c.Resolved, c.Skipped, c.Failed, c.Error)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(&cobra.Command{
		Use:   "cancel SLUG",
		Short: "Stop an unfinished campaign for good (what was sent stays sent)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.newsletterSession(cmd.Context(), sendFlags{out: "public", concurrency: newsletter.DefaultConcurrency})
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.sender.Cancel(cmd.Context(), args[0], "cancelled with kb campaigns cancel"); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Campaign %s cancelled.\n", args[0])
			return nil
		},
	})
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
