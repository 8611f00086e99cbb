package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbpress/kb/internal/report"
	"github.com/kbpress/kb/internal/store"
)

// reportCampaigns is how many campaigns `kb report` lists.
const reportCampaigns = 10

func (a *app) reportCommand() *cobra.Command {
	var (
		asJSON   bool
		htmlFile string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print the newsletter's figures: growth, confirmations and the last campaigns",
		Long: `kb report prints the overview of the firm's dashboard (confirmed subscribers
now and at each of the last 12 months' ends, the last 12 weeks' signups,
confirmations, unsubscribes, bounces and complaints, the confirmation rate
and median time to confirm over 90 days) and the last 10 campaigns with what
Mailgun reported back. --json prints the same as JSON; --html FILE writes it
as one self-contained HTML page (in Polish) to send to the partners.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := time.LoadLocation("Europe/Warsaw")
			if err != nil {
				return fmt.Errorf("time zone: %w", err)
			}
			return a.withStore(cmd.Context(), func(st *store.Store) error {
				r := report.New(st, loc)
				o, err := r.Overview(cmd.Context(), time.Now())
				if err != nil {
					return err
				}
				rows, err := r.Campaigns(cmd.Context(), reportCampaigns)
				if err != nil {
					return err
				}
				switch {
				case htmlFile != "":
					return a.writeReportHTML(a.path(htmlFile), o, rows)
				case asJSON:
					return writeJSON(a.stdout, reportJSON(o, rows))
				}
				return writeReportText(a.stdout, o, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&htmlFile, "html", "", "write the report as one self-contained HTML `FILE`")
	cmd.MarkFlagsMutuallyExclusive("json", "html")
	return cmd
}

// writeReportHTML writes the page next to path and renames it into place,
// so a reader of path never sees half a report.
func (a *app) writeReportHTML(path string, o report.Overview, rows []report.CampaignRow) error {
	var b bytes.Buffer
	if err := report.WriteHTML(&b, o, rows); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kb-report-*.html")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(a.stdout, "Wrote %s.\n", path)
	return nil
}

func writeReportText(w io.Writer, o report.Overview, rows []report.CampaignRow) error {
	fmt.Fprintf(w, "Newsletter report, %s\n\n", o.Now.Format("2006-01-02 15:04 MST"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Confirmed subscribers\t%d\n", o.Confirmed)
	fmt.Fprintf(tw, "Confirmation rate (90 days)\t%.1f%%\n", 100*o.ConfirmationRate)
	fmt.Fprintf(tw, "Median time to confirm (90 days)\t%s\n", medianText(o.MedianToConfirm))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nConfirmed subscribers at each month's end:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MONTH\tCONFIRMED\t")
	for _, m := range o.Months {
		fmt.Fprintf(tw, "%s\t%d\t\n", m.Month.Format("2006-01"), m.Confirmed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nWeeks (from Monday):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "WEEK\tSIGNUPS\tCONFIRMED\tUNSUBSCRIBED\tBOUNCED\tCOMPLAINED\t")
	for _, wk := range o.Weeks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", wk.Week.Format("2006-01-02"), wk.Signups, wk.Confirmations,
			wk.Unsubscribes, wk.Bounces, wk.Complaints)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLast %d campaigns:\n", reportCampaigns)
	if len(rows) == 0 {
		fmt.Fprintln(w, "none yet")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCAMPAIGN\tDATE\tRECIPIENTS\tACCEPTED\tDELIVERED\tPERM. FAILED\tTEMP. FAILED\tCOMPLAINTS\tUNSUBSCRIBES")
	for _, c := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", c.ID, c.Slug, c.Date.Format("2006-01-02"), c.Recipients,
			c.Accepted, c.Delivered, c.PermanentFailures, c.TemporaryFailures, c.Complaints, c.Unsubscribes)
	}
	return tw.Flush()
}

func medianText(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Minute).String()
}

// The JSON of `kb report --json`: names in snake_case, months as
// YYYY-MM, days as YYYY-MM-DD, the median in seconds.
type (
	reportOut struct {
		Now                    time.Time        `json:"now"`
		Confirmed              int              `json:"confirmed"`
		Months                 []reportMonth    `json:"months"`
		Weeks                  []reportWeek     `json:"weeks"`
		ConfirmationRate       float64          `json:"confirmation_rate"`
		MedianToConfirmSeconds float64          `json:"median_to_confirm_seconds"`
		LastCampaign           *reportCampaign  `json:"last_campaign"`
		Campaigns              []reportCampaign `json:"campaigns"`
	}
	reportMonth struct {
		Month     string `json:"month"`
		Confirmed int    `json:"confirmed"`
	}
	reportWeek struct {
		Week          string `json:"week"`
		Signups       int    `json:"signups"`
		Confirmations int    `json:"confirmations"`
		Unsubscribes  int    `json:"unsubscribes"`
		Bounces       int    `json:"bounces"`
		Complaints    int    `json:"complaints"`
	}
	reportCampaign struct {
		ID                int64  `json:"id"`
		Slug              string `json:"slug"`
		Title             string `json:"title"`
		Kind              string `json:"kind"`
		Date              string `json:"date"`
		Recipients        int    `json:"recipients"`
		Accepted          int    `json:"accepted"`
		Delivered         int    `json:"delivered"`
		PermanentFailures int    `json:"permanent_failures"`
		TemporaryFailures int    `json:"temporary_failures"`
		Complaints        int    `json:"complaints"`
		Unsubscribes      int    `json:"unsubscribes"`
		Opens             int    `json:"opens"`
		Clicks            int    `json:"clicks"`
	}
)

func reportJSON(o report.Overview, rows []report.CampaignRow) reportOut {
	out := reportOut{Now: o.Now, Confirmed: o.Confirmed, ConfirmationRate: o.ConfirmationRate,
		MedianToConfirmSeconds: o.MedianToConfirm.Seconds(), Months: []reportMonth{}, Weeks: []reportWeek{},
		Campaigns: []reportCampaign{}}
	for _, m := range o.Months {
		out.Months = append(out.Months, reportMonth{m.Month.Format("2006-01"), m.Confirmed})
	}
	for _, w := range o.Weeks {
		out.Weeks = append(out.Weeks, reportWeek{w.Week.Format("2006-01-02"), w.Signups, w.Confirmations, w.Unsubscribes, w.Bounces, w.Complaints})
	}
	if o.LastCampaign != nil {
		c := campaignJSON(*o.LastCampaign)
		out.LastCampaign = &c
	}
	for _, c := range rows {
		out.Campaigns = append(out.Campaigns, campaignJSON(c))
	}
	return out
}

func campaignJSON(c report.CampaignRow) reportCampaign {
	return reportCampaign{ID: c.ID, Slug: c.Slug, Title: c.Title, Kind: c.Kind, Date: c.Date.Format("2006-01-02"),
		Recipients: c.Recipients, Accepted: c.Accepted, Delivered: c.Delivered, PermanentFailures: c.PermanentFailures,
		TemporaryFailures: c.TemporaryFailures, Complaints: c.Complaints, Unsubscribes: c.Unsubscribes, Opens: c.Opens, Clicks: c.Clicks}
}
