package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

func (a *app) mailgunCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mailgun",
		Short: "Work with the Mailgun account (suppression lists)",
	}
	cmd.AddCommand(a.mailgunSyncCommand())
	return cmd
}

// suppressionStatus is what each Mailgun list means here.
var suppressionStatus = map[mail.SuppressionKind]store.Status{
	mail.SuppressedBounce:      store.StatusBounced,
	mail.SuppressedComplaint:   store.StatusComplained,
	mail.SuppressedUnsubscribe: store.StatusUnsubscribed,
}

// syncCounts are one list's outcome.
type syncCounts struct {
	listed, applied, already, unknown, beforeConfirm int
}

func (a *app) mailgunSyncCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "sync",
		Short: "Apply Mailgun's bounce, complaint and unsubscribe lists to the subscribers",
		Long: `Sync reads the sending domain's suppression lists from Mailgun (bounces,
complaints, unsubscribes) and marks each subscriber on them bounced,
complained or unsubscribed, as a webhook would: Mailgun will not deliver to
them, so they are not counted as reachable. Addresses that are not
subscribers are left alone. Safe to run again; run it after connecting an
existing Mailgun account, or from cron if webhooks are off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.config("")
			if err != nil {
				return err
			}
			if cfg.Env.MailgunAPIKey == "" || cfg.Env.MailgunDomain == "" {
				return errors.New("kb mailgun sync needs MAILGUN_API_KEY and MAILGUN_DOMAIN")
			}
			mg, err := mail.NewMailgun(mail.MailgunConfig{Domain: cfg.Env.MailgunDomain, APIKey: cfg.Env.MailgunAPIKey,
				APIBase: cfg.Env.MailgunAPIBase, Timeout: 30 * time.Second})
			if err != nil {
				return err
			}
			return a.withStore(ctx, func(st *store.Store) error {
				counts := map[mail.SuppressionKind]*syncCounts{}
				for k := range suppressionStatus {
					counts[k] = &syncCounts{}
				}
				err := mg.Suppressions(ctx, func(s mail.Suppression) error {
					c := counts[s.Kind]
					c.listed++
					reason := "mailgun sync: " + string(s.Kind)
					if s.Reason != "" {
						reason += " " + s.Reason
					}
					sub, found, changed, err := st.Suppress(ctx, s.Address, suppressionStatus[s.Kind], reason, time.Now())
					switch {
					case errors.Is(err, store.ErrInvalidEmail):
						c.unknown++ // not an address kb could hold
						return nil
					case err != nil:
						return err
					case !found:
						c.unknown++
					case changed:
						c.applied++
						if !s.At.IsZero() && s.At.Before(sub.ConfirmedAt) {
							c.beforeConfirm++
						}
					default:
						c.already++
					}
					return nil
				})
				a.printSync(counts)
				if err != nil {
					return fmt.Errorf("mailgun sync stopped (what was applied stays; run it again): %w", err)
				}
				return nil
			})
		},
	}
}

func (a *app) printSync(counts map[mail.SuppressionKind]*syncCounts) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIST\tLISTED\tAPPLIED\tALREADY\tNOT SUBSCRIBERS")
	before := 0
	for _, k := range []mail.SuppressionKind{mail.SuppressedBounce, mail.SuppressedComplaint, mail.SuppressedUnsubscribe} {
		c := counts[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", k, c.listed, c.applied, c.already, c.unknown)
		before += c.beforeConfirm
	}
	tw.Flush()
	if before > 0 {
		fmt.Fprintf(a.stdout, "%d of them were suppressed by Mailgun before they last confirmed: Mailgun still will not deliver to them. "+
			"If they asked to come back, remove them from Mailgun's list, then ask them to sign up again.\n", before)
	}
}
