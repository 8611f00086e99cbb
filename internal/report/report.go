// Package report turns the store's aggregates into the figures the firm
// reads: the overview (growth, weekly flow, confirmation rate, the last
// campaign), the campaigns with what Mailgun reported back, and where
// signups come from. The admin dashboard and `kb report` share it; charts
// (charts.go) and the self-contained HTML report (html.go) are drawn from
// the same numbers.
package report

import (
	"context"
	"fmt"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// Store is the part of the store the figures come from; *store.Store has it.
type Store interface {
	OverviewFigures(ctx context.Context, q store.FiguresQuery) (store.OverviewFigures, error)
	CampaignFigures(ctx context.Context, limit int) ([]store.CampaignFigures, error)
	CampaignTimeline(ctx context.Context, id int64) (store.CampaignFigures, []store.HourFigures, error)
	SourceFigures(ctx context.Context, since time.Time) (pages []store.SourceFigures, whitepaperRequests, whitepaperDownloads int, err error)
}

// How far back the overview looks.
const (
	months     = 12
	weeks      = 12
	rateWindow = 90 * 24 * time.Hour
)

// Overview is the dashboard's first page.
type Overview struct {
	Now              time.Time
	Confirmed        int          // confirmed subscribers now
	Months           []MonthPoint // last 12 months, oldest first: confirmed subscribers at each month's end
	Weeks            []WeekPoint  // last 12 weeks (Monday-based, in the reporter's zone), oldest first
	ConfirmationRate float64      // confirmed ÷ signups over the last 90 days (0–1); 0 when no signups
	MedianToConfirm  time.Duration
	LastCampaign     *CampaignRow // nil when none
}

// MonthPoint is the number of confirmed subscribers at a month's end (the
// current month: now). Month is the month's first day.
type MonthPoint struct {
	Month     time.Time
	Confirmed int
}

// WeekPoint is one week's flow; Week is its Monday, 00:00.
type WeekPoint struct {
	Week                                                      time.Time
	Signups, Confirmations, Unsubscribes, Bounces, Complaints int
}

// CampaignRow is one campaign's results. Accepted is what Mailgun took
// (the ledger's sent and resolved); the rest is what its webhooks and the
// unsubscribe links reported.
type CampaignRow struct {
	ID                                                                                              int64
	Slug, Title, Kind                                                                               string
	Date                                                                                            time.Time
	Recipients, Accepted, Delivered, PermanentFailures, TemporaryFailures, Complaints, Unsubscribes int
	Opens, Clicks                                                                                   int // only when params.newsletter.tracking = true; else 0
}

// CampaignDetail is a campaign with its hourly timeline (hours with any
// event, oldest first).
type CampaignDetail struct {
	CampaignRow
	Timeline []TimelinePoint
}

// TimelinePoint is one hour of a campaign.
type TimelinePoint struct {
	Hour                                                                      time.Time
	Delivered, PermanentFailures, TemporaryFailures, Complaints, Unsubscribes int
}

// Source is one page signups came from (consent_source: the page the form
// was on; "" when unknown, e.g. imported).
type Source struct {
	Path               string
	Signups, Confirmed int
}

// Sources are the growth sources since a time.
type Sources struct {
	Pages []Source
	// WhitepaperRequests: whitepaper links sent (in the welcome email, or
	// to a confirmed reader asking again); WhitepaperDownloads: gated
	// downloads, at most one an hour per reader.
	WhitepaperRequests, WhitepaperDownloads int
}

// Reporter computes the figures. It is safe for concurrent use.
type Reporter struct {
	st  Store
	loc *time.Location
}

// New returns a Reporter over st whose months and weeks are those of loc
// (Europe/Warsaw for the firm); nil loc means UTC.
func New(st Store, loc *time.Location) *Reporter {
	if loc == nil {
		loc = time.UTC
	}
	return &Reporter{st: st, loc: loc}
}

// Location is the zone the reporter's months and weeks are in.
func (r *Reporter) Location() *time.Location { return r.loc }

// Overview computes the overview as of now.
func (r *Reporter) Overview(ctx context.Context, now time.Time) (Overview, error) {
	now = now.In(r.loc)
	monthStarts := lastMonths(now, months)
	ends := make([]time.Time, len(monthStarts))
	for i, m := range monthStarts {
		ends[i] = m.AddDate(0, 1, 0).Add(-time.Microsecond) // the month's last instant
		if ends[i].After(now) {
			ends[i] = now
		}
	}
	bounds := lastWeeks(now, weeks)
	f, err := r.st.OverviewFigures(ctx, store.FiguresQuery{ConfirmedAt: ends, Periods: bounds, Since: now.Add(-rateWindow)})
	if err != nil {
		return Overview{}, fmt.Errorf("report: overview: %w", err)
	}
	o := Overview{Now: now, Confirmed: f.Confirmed, MedianToConfirm: f.MedianToConfirm}
	o.Months = make([]MonthPoint, len(monthStarts))
	for i, m := range monthStarts {
		o.Months[i] = MonthPoint{Month: m, Confirmed: at(f.ConfirmedAt, i)}
	}
	o.Weeks = make([]WeekPoint, len(bounds)-1)
	for i := range o.Weeks {
		var w store.Flow
		if i < len(f.Periods) {
			w = f.Periods[i]
		}
		o.Weeks[i] = WeekPoint{Week: bounds[i], Signups: w.Signups, Confirmations: w.Confirmations,
			Unsubscribes: w.Unsubscribes, Bounces: w.Bounces, Complaints: w.Complaints}
	}
	if f.Signups > 0 {
		o.ConfirmationRate = float64(f.SignupsConfirmed) / float64(f.Signups)
	}
	if f.Last != nil {
		row := r.row(*f.Last)
		o.LastCampaign = &row
	}
	return o, nil
}

func at(v []int, i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// lastMonths returns the first days of the n months up to now's, oldest
// first.
func lastMonths(now time.Time, n int) []time.Time {
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.AddDate(0, i-(n-1), 0)
	}
	return out
}

// lastWeeks returns the n+1 boundaries of the n weeks up to now's: Mondays
// at midnight, oldest first (the last one ends the current week). AddDate
// keeps midnight across a change of daylight saving time.
func lastWeeks(now time.Time, n int) []time.Time {
	back := (int(now.Weekday()) + 6) % 7 // days since Monday
	monday := time.Date(now.Year(), now.Month(), now.Day()-back, 0, 0, 0, 0, now.Location())
	out := make([]time.Time, n+1)
	for i := range out {
		out[i] = monday.AddDate(0, 0, 7*(i-(n-1)))
	}
	return out
}

func (r *Reporter) row(c store.CampaignFigures) CampaignRow {
	return CampaignRow{ID: c.ID, Slug: c.Slug, Title: c.Title, Kind: c.Kind, Date: c.Date.In(r.loc),
		Recipients: c.Recipients, Accepted: c.Accepted, Delivered: c.Delivered, PermanentFailures: c.PermanentFailures,
		TemporaryFailures: c.TemporaryFailures, Complaints: c.Complaints, Unsubscribes: c.Unsubscribes,
		Opens: c.Opens, Clicks: c.Clicks}
}

// Campaigns returns the newest limit campaigns, newest first.
func (r *Reporter) Campaigns(ctx context.Context, limit int) ([]CampaignRow, error) {
	list, err := r.st.CampaignFigures(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("report: campaigns: %w", err)
	}
	out := make([]CampaignRow, len(list))
	for i, c := range list {
		out[i] = r.row(c)
	}
	return out, nil
}

// Campaign returns one campaign with its timeline; an unknown id wraps
// store.ErrNotFound.
func (r *Reporter) Campaign(ctx context.Context, id int64) (CampaignDetail, error) {
	c, hours, err := r.st.CampaignTimeline(ctx, id)
	if err != nil {
		return CampaignDetail{}, fmt.Errorf("report: campaign %d: %w", id, err)
	}
	d := CampaignDetail{CampaignRow: r.row(c), Timeline: make([]TimelinePoint, len(hours))}
	for i, h := range hours {
		d.Timeline[i] = TimelinePoint{Hour: h.Hour.In(r.loc), Delivered: h.Delivered, PermanentFailures: h.PermanentFailures,
			TemporaryFailures: h.TemporaryFailures, Complaints: h.Complaints, Unsubscribes: h.Unsubscribes}
	}
	return d, nil
}

// Sources returns where signups since since came from.
func (r *Reporter) Sources(ctx context.Context, since time.Time) (Sources, error) {
	pages, req, dl, err := r.st.SourceFigures(ctx, since)
	if err != nil {
		return Sources{}, fmt.Errorf("report: sources: %w", err)
	}
	out := Sources{Pages: make([]Source, len(pages)), WhitepaperRequests: req, WhitepaperDownloads: dl}
	for i, p := range pages {
		out.Pages[i] = Source{Path: p.Path, Signups: p.Signups, Confirmed: p.Confirmed}
	}
	return out, nil
}
