package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/csvsafe"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

// withStore runs fn with the configured store open.
func (a *app) withStore(ctx context.Context, fn func(*store.Store) error) error {
	cfg, err := a.config("")
	if err != nil {
		return err
	}
	// An operator's command (an export of every subscriber, read as fast
	// as a pipe takes it) may take longer than a request's statement_timeout.
	st, err := a.openStore(ctx, cfg, store.WithStatementTimeout(0))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

func (a *app) subscribersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subscribers",
		Short: "List, count, import, export, show and erase subscribers",
	}
	cmd.AddCommand(a.subscribersList(), a.subscribersStats(), a.subscribersImport(), a.subscribersExport(),
		a.subscribersShow(), a.subscribersDelete())
	return cmd
}

func parseStatus(s string) (store.Status, error) {
	if s == "" {
		return "", nil
	}
	for _, st := range store.Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown status %q (one of %v)", s, store.Statuses())
}

func (a *app) subscribersList() *cobra.Command {
	var status, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List subscribers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStatus(status)
			if err != nil {
				return fmt.Errorf("--status: %w", err)
			}
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				return a.writeSubscribers(cmd.Context(), s, store.ListFilter{Status: st}, format)
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only this status: pending, confirmed, unsubscribed, bounced or complained")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv or json")
	return cmd
}

var csvHeader = []string{"id", "email", "name", "status", "whitepaper_requested", "consent_at", "consent_version",
	"consent_source", "consent_ip", "created_at", "updated_at", "confirmed_at", "unsubscribed_at", "bounced_at", "complained_at"}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// writeSubscribers streams the subscribers in format: rows are written as
// they are read, so a large list never sits in memory.
func (a *app) writeSubscribers(ctx context.Context, s *store.Store, f store.ListFilter, format string) error {
	switch format {
	case "table":
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATUS\tCREATED\tCONFIRMED")
		err := s.ListSubscribers(ctx, f, func(sub store.Subscriber) error {
			_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", sub.ID, sub.Email, sub.Name, sub.Status,
				formatTime(sub.CreatedAt), formatTime(sub.ConfirmedAt))
			return err
		})
		if err != nil {
			return err
		}
		return tw.Flush()
	case "csv":
		w := &csvsafe.Writer{Writer: csv.NewWriter(a.stdout)}
		if err := w.Write(csvHeader); err != nil {
			return err
		}
		err := s.ListSubscribers(ctx, f, func(sub store.Subscriber) error {
			return w.Write([]string{fmt.Sprint(sub.ID), sub.Email, sub.Name, string(sub.Status), fmt.Sprint(sub.WhitepaperRequested),
				formatTime(sub.Consent.At), sub.Consent.Version, sub.Consent.Source, sub.Consent.IP,
				formatTime(sub.CreatedAt), formatTime(sub.UpdatedAt), formatTime(sub.ConfirmedAt),
				formatTime(sub.UnsubscribedAt), formatTime(sub.BouncedAt), formatTime(sub.ComplainedAt)})
		})
		if err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	case "json":
		// A JSON array written element by element.
		if _, err := io.WriteString(a.stdout, "["); err != nil {
			return err
		}
		first := true
		err := s.ListSubscribers(ctx, f, func(sub store.Subscriber) error {
			b, err := json.Marshal(sub)
			if err != nil {
				return err
			}
			sep := ",\n "
			if first {
				sep, first = "\n ", false
			}
			_, err = fmt.Fprintf(a.stdout, "%s%s", sep, b)
			return err
		})
		if err != nil {
			return err
		}
		_, err = io.WriteString(a.stdout, "\n]\n")
		return err
	default:
		return fmt.Errorf("--format %q: want table, csv or json", format)
	}
}

func (a *app) subscribersStats() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count subscribers per status, queued emails and campaigns",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				st, err := s.Stats(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, st)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				for _, status := range store.Statuses() {
					fmt.Fprintf(tw, "%s\t%d\n", status, st.Subscribers[status])
				}
				fmt.Fprintf(tw, "erased\t%d\n", st.Erased)
				fmt.Fprintf(tw, "confirmed, on the digest\t%d (%d with new guides waiting)\n", st.Digest, st.DigestWaiting)
				fmt.Fprintf(tw, "emails queued\t%d\n", st.MailQueued)
				fmt.Fprintf(tw, "emails being sent\t%d\n", st.MailSending)
				fmt.Fprintf(tw, "emails failed\t%d\n", st.MailFailed)
				fmt.Fprintf(tw, "campaigns\t%d (%d unfinished)\n", st.Campaigns, st.CampaignsActive)
				held := 0
				for _, n := range st.Held {
					held += n
				}
				fmt.Fprintf(tw, "emails held back by limits (30 days)\t%d\n", held)
				for _, reason := range slices.Sorted(maps.Keys(st.Held)) {
					fmt.Fprintf(tw, "  %s\t%d\n", reason, st.Held[reason])
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) subscribersImport() *cobra.Command {
	var status string
	var dump bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import subscribers from a CSV file (or restore a dump into an empty database)",
		Long: `Import reads a CSV file with a header row naming its columns: email
(required), name, consent_at (RFC 3339) and consent_source. The status must
be given: confirmed only for a list whose consent was already collected;
pending rows get a confirmation email. Invalid, duplicate and erased
addresses are skipped and reported with the reason. FILE "-" is stdin.

With --dump, FILE is the output of 'kb subscribers export --format dump'
and is restored, ids, consent evidence and campaign ledger included, into
an empty database — the way to move from SQLite to PostgreSQL.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, closeIn, err := a.openInput(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				if dump {
					if err := s.Restore(cmd.Context(), in); err != nil {
						return err
					}
					fmt.Fprintln(a.stdout, "Restored.")
					return nil
				}
				st, err := parseStatus(status)
				if err != nil || (st != store.StatusConfirmed && st != store.StatusPending) {
					return errors.New("--status must be confirmed (consent already collected) or pending (send a confirmation email)")
				}
				rows, rowsErr := readImportCSV(in)
				report, err := s.Import(cmd.Context(), rows, st, time.Now())
				if err := errors.Join(err, rowsErr()); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Read %d rows, imported %d, skipped %d.\n", report.Read, report.Imported, len(report.Skipped))
				for _, sk := range report.Skipped {
					fmt.Fprintf(a.stdout, "  line %d: %s: %s", sk.Line, sk.Email, sk.Reason)
					if sk.Detail != "" {
						fmt.Fprintf(a.stdout, " (%s)", sk.Detail)
					}
					fmt.Fprintln(a.stdout)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "confirmed or pending (required for CSV)")
	cmd.Flags().BoolVar(&dump, "dump", false, "FILE is a full dump to restore into an empty database")
	return cmd
}

func (a *app) openInput(name string) (io.Reader, func(), error) {
	if name == "-" {
		return a.stdin, func() {}, nil
	}
	f, err := os.Open(a.path(name))
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// readImportCSV yields the rows of a CSV with a header row; the returned
// func reports a malformed file once the rows are consumed.
func readImportCSV(r io.Reader) (iter.Seq[store.ImportRow], func() error) {
	var failure error
	seq := func(yield func(store.ImportRow) bool) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		header, err := cr.Read()
		if err != nil {
			failure = fmt.Errorf("read CSV header: %w", err)
			return
		}
		col := map[string]int{}
		for i, h := range header {
			col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
		}
		emailCol, ok := col["email"]
		if !ok {
			failure = errors.New(`CSV header has no "email" column`)
			return
		}
		// restoreCell: a list exported by kb imports as it was.
		get := func(rec []string, name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return csvsafe.Restore(strings.TrimSpace(rec[i]))
			}
			return ""
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			line, _ := cr.FieldPos(0)
			if err != nil {
				failure = fmt.Errorf("read CSV: %w", err)
				return
			}
			row := store.ImportRow{Line: line, Name: get(rec, "name"), Source: get(rec, "consent_source")}
			if emailCol < len(rec) {
				row.Email = csvsafe.Restore(rec[emailCol])
			}
			if at := get(rec, "consent_at"); at != "" {
				if t, err := time.Parse(time.RFC3339, at); err == nil {
					row.ConsentAt = t
				}
			}
			if !yield(row) {
				return
			}
		}
	}
	return seq, func() error { return failure }
}

func (a *app) subscribersExport() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export all subscribers (csv, json) or a full dump of the database (dump)",
		Long: `Export writes every subscriber with consent evidence to stdout as csv or
json. --format dump writes the whole database — subscribers, events,
erasure hashes, mail queue and campaign ledger — as JSON lines, for
'kb subscribers import --dump' into another database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				if format == "dump" {
					return s.Dump(cmd.Context(), a.stdout)
				}
				if format != "csv" && format != "json" {
					return fmt.Errorf("--format %q: want csv, json or dump", format)
				}
				return a.writeSubscribers(cmd.Context(), s, store.ListFilter{}, format)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv, json or dump")
	return cmd
}

func (a *app) subscribersShow() *cobra.Command {
	return &cobra.Command{
		Use:   "show EMAIL",
		Short: "Print all data held on one person as JSON (RODO access request)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				p, err := s.Person(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return writeJSON(a.stdout, p)
			})
		},
	}
}

func (a *app) subscribersDelete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete EMAIL",
		Short: "Erase a person's data, keeping only a hash so a re-import cannot bring them back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				found, err := s.Erase(cmd.Context(), args[0], time.Now())
				if err != nil {
					return err
				}
				// The outbox keeps copies of the emails sent to them: those
				// go too. (What Mailgun keeps is erased at Mailgun.)
				files, err := a.forgetOutbox(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("erased from the database, but not from the outbox: %w", err)
				}
				if !found {
					fmt.Fprintf(a.stdout, "No subscriber %s; its keyed hash is on the erasure list, so imports will skip it", args[0])
				} else {
					fmt.Fprintf(a.stdout, "Erased %s", args[0])
				}
				fmt.Fprintf(a.stdout, "; %d outbox files deleted.\n", files)
				return nil
			})
		},
	}
}

// forgetOutbox deletes the outbox's emails to address. The outbox is where
// the local transport writes; with Mailgun it may still hold emails from
// before Mailgun was configured.
func (a *app) forgetOutbox(ctx context.Context, address string) (int, error) {
	cfg, err := a.config("")
	if err != nil {
		return 0, err
	}
	ob, err := mail.NewOutbox(filepath.Join(cfg.Env.DataDir, "outbox"))
	if err != nil {
		return 0, err
	}
	return ob.Forget(ctx, address)
}

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and show the schema version",
		Long: `Migrate brings the database schema up to date and prints its version.
kb serve and kb send do the same when they start (under a lock, so several
instances starting at once are safe); run it on its own before an upgrade
to see that it succeeds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s *store.Store) error {
				v, err := s.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Database (%s) is at schema version %d.\n", s.Dialect(), v)
				return nil
			})
		},
	}
}
