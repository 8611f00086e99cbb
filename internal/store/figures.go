package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The figures behind the firm's dashboard and `kb report`: every number is
// an SQL aggregate (over indexes or the campaign_stats rollup); only the
// aggregates come back to Go.

// Campaign figures counted from webhooks and unsubscribe links.
const (
	StatDelivered        = "delivered"
	StatPermanentFailure = "failed_permanent"
	StatTemporaryFailure = "failed_temporary"
	StatComplained       = "complained"
	StatUnsubscribed     = "unsubscribed"
	StatOpened           = "opened" // only with params.newsletter.tracking
	StatClicked          = "clicked"
)

// EventWhitepaperDownloaded is a gated download (at most one an hour per
// subscriber: a download manager's range requests are one download).
const EventWhitepaperDownloaded = "whitepaper_downloaded"

func campaignStat(s string) bool {
	switch s {
	case StatDelivered, StatPermanentFailure, StatTemporaryFailure, StatComplained, StatUnsubscribed, StatOpened, StatClicked:
		return true
	}
	return false
}

// countCampaignStat adds one to the campaign's count of stat for the hour
// of now; nothing for a campaign that does not exist (a webhook for a
// deleted database's campaign).
func countCampaignStat(t *txn, campaignID int64, stat string, now time.Time) error {
	hour := now.Truncate(time.Hour)
	_, err := t.exec(`INSERT INTO campaign_stats (campaign_id, hour, type, n)
		SELECT id, CAST(? AS BIGINT), CAST(? AS TEXT), 1 FROM campaigns WHERE id = ?
		ON CONFLICT (campaign_id, hour, type) DO UPDATE SET n = campaign_stats.n + 1`,
		dbTime(hour), stat, campaignID)
	if err != nil {
		return fmt.Errorf("count %s for campaign %d: %w", stat, campaignID, err)
	}
	return nil
}

// UnsubscribeLinkFrom is UnsubscribeLink from the email of a campaign: the
// unsubscribe counts for that campaign when it changed the subscriber's
// status and the subscriber was one of its recipients. campaignID comes
// from an unsigned URL parameter, so anything else is ignored; 0 counts
// nothing.
func (s *Store) UnsubscribeLinkFrom(ctx context.Context, link Link, campaignID int64, reason string, now time.Time) (Subscriber, bool, error) {
	now = norm(now)
	reason = sanitize(reason, maxReasonLen)
	var (
		sub     Subscriber
		changed bool
	)
	err := s.tx(ctx, func(t *txn) error {
		var err error
		if sub, err = lockByLink(t, link); err != nil {
			return err
		}
		if changed, err = setStatus(t, &sub, StatusUnsubscribed, reason, now); err != nil || !changed || campaignID <= 0 {
			return err
		}
		var recipient int
		if err := t.queryRow("SELECT COUNT(*) FROM campaign_recipients WHERE subscriber_id = ? AND campaign_id = ?",
			sub.ID, campaignID).Scan(&recipient); err != nil {
			return err
		}
		if recipient == 0 {
			return nil
		}
		return countCampaignStat(t, campaignID, StatUnsubscribed, now)
	})
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("store: unsubscribe %d: %w", link.ID, err)
	}
	return sub, changed, nil
}

// RecordWhitepaperDownload notes a gated download by subscriber id, once
// an hour at most; recorded reports whether this one was noted.
func (s *Store) RecordWhitepaperDownload(ctx context.Context, id int64, now time.Time) (recorded bool, err error) {
	now = norm(now)
	err = s.tx(ctx, func(t *txn) error {
		recorded = false
		// The row lock serialises two range requests on PostgreSQL.
		var one int
		if err := t.queryRow("SELECT 1 FROM subscribers WHERE id = ?"+t.d.forUpdate, id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		n, err := affected(t.exec(`INSERT INTO subscriber_events (subscriber_id, at, type, detail)
			SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), '' WHERE NOT EXISTS (SELECT 1 FROM subscriber_events
				WHERE subscriber_id = ? AND type = ? AND at > ?)`,
			id, dbTime(now), EventWhitepaperDownloaded, id, EventWhitepaperDownloaded, dbTime(now.Add(-time.Hour))))
		recorded = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: record whitepaper download of %d: %w", id, err)
	}
	return recorded, nil
}

// FiguresQuery says which instants and periods OverviewFigures counts.
type FiguresQuery struct {
	// ConfirmedAt: the instants to count confirmed subscribers at (month
	// ends), ascending.
	ConfirmedAt []time.Time
	// Periods: period boundaries, ascending; len-1 periods (weeks).
	Periods []time.Time
	// Since starts the window of the confirmation rate and median.
	Since time.Time
}

// Flow is what happened in one period.
type Flow struct {
	Signups       int // distinct subscribers who signed up (or again after leaving)
	Confirmations int
	Unsubscribes  int
	Bounces       int
	Complaints    int
}

// OverviewFigures are the overview's numbers, read in one transaction.
type OverviewFigures struct {
	Confirmed   int
	ConfirmedAt []int  // one per FiguresQuery.ConfirmedAt
	Periods     []Flow // one per period
	// Of the subscribers whose signup (or new signup after leaving) is
	// since Since, how many, how many confirmed, and the median time from
	// signup to confirmation of those.
	Signups, SignupsConfirmed int
	MedianToConfirm           time.Duration
	Last                      *CampaignFigures // the newest campaign; nil without one
}

// CampaignFigures is one campaign's row of figures.
type CampaignFigures struct {
	ID                int64
	Slug, Title, Kind string
	Date              time.Time // started, or created when never started
	Recipients        int
	Accepted          int // sent + resolved in the ledger
	Delivered         int
	PermanentFailures int
	TemporaryFailures int
	Complaints        int
	Unsubscribes      int
	Opens, Clicks     int
	TestMode          bool
}

// HourFigures is one hour of a campaign's timeline.
type HourFigures struct {
	Hour                                                                      time.Time
	Delivered, PermanentFailures, TemporaryFailures, Complaints, Unsubscribes int
	Opens, Clicks                                                             int
}

// SourceFigures counts the signups from one page.
type SourceFigures struct {
	Path               string
	Signups, Confirmed int
}

// OverviewFigures reads the overview's numbers.
//
// Confirmed subscribers at an instant M are derived from the subscriber
// rows: a reader counts from confirmed_at until the first of
// unsubscribed_at, bounced_at or complained_at after it (none while still
// confirmed). Rows keep only the current stint, so a reader who left and
// signed up again counts from the new confirmation; an erased or purged
// row leaves the history with its person.
func (s *Store) OverviewFigures(ctx context.Context, q FiguresQuery) (OverviewFigures, error) {
	var f OverviewFigures
	err := s.readTx(ctx, func(t *txn) error {
		var err error
		if f.Confirmed, f.ConfirmedAt, err = confirmedAt(t, q.ConfirmedAt); err != nil {
			return fmt.Errorf("confirmed by month: %w", err)
		}
		if f.Periods, err = flows(t, q.Periods); err != nil {
			return fmt.Errorf("weekly counts: %w", err)
		}
		if err := confirmation(t, q.Since, &f); err != nil {
			return fmt.Errorf("confirmation rate: %w", err)
		}
		last, err := campaignFigures(t, 0, 1)
		if err != nil {
			return err
		}
		if len(last) > 0 {
			f.Last = &last[0]
		}
		return nil
	})
	if err != nil {
		return OverviewFigures{}, fmt.Errorf("store: overview figures: %w", err)
	}
	return f, nil
}

// leftAt is the first leave (unsubscribed, bounced, complained) at or after
// confirmed_at of a reader who left. Written with CASE because SQLite's
// min() and PostgreSQL's LEAST treat NULL differently.
var leftAt = func() string {
	after := func(col string) string { return "CASE WHEN " + col + " >= confirmed_at THEN " + col + " END" }
	least := func(a, b string) string {
		return "CASE WHEN (" + a + ") IS NULL THEN (" + b + ") WHEN (" + b + ") IS NULL OR (" + a + ") <= (" + b + ") THEN (" + a + ") ELSE (" + b + ") END"
	}
	return least(after("unsubscribed_at"), least(after("bounced_at"), after("complained_at")))
}()

// bucket is the SQL of the index of the first instant in at that x is at
// or before (len(at) when after all), with its arguments.
func bucket(x string, at []time.Time) (string, []any) {
	var b strings.Builder
	args := make([]any, len(at))
	b.WriteString("CASE")
	for i, m := range at {
		fmt.Fprintf(&b, " WHEN %s <= ? THEN %d", x, i)
		args[i] = dbTime(m)
	}
	fmt.Fprintf(&b, " ELSE %d END", len(at))
	return b.String(), args
}

// confirmedAt counts the confirmed subscribers now and at each instant of
// at. Readers still confirmed are counted by ranges of the (status,
// confirmed_at) index; readers who left, by the pair of periods their
// confirmation and their leaving fall in. Only these aggregates come back.
func confirmedAt(t *txn, at []time.Time) (now int, counts []int, err error) {
	var b strings.Builder
	args := make([]any, 0, 2*len(at))
	b.WriteString("SELECT (SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed')")
	for i, m := range at {
		if i == 0 {
			b.WriteString(", (SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed' AND confirmed_at <= ?)")
			args = append(args, dbTime(m))
			continue
		}
		b.WriteString(", (SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed' AND confirmed_at > ? AND confirmed_at <= ?)")
		args = append(args, dbTime(at[i-1]), dbTime(m))
	}
	ranges := make([]int, len(at))
	dst := []any{&now}
	for i := range ranges {
		dst = append(dst, &ranges[i])
	}
	if err := t.queryRow(b.String(), args...).Scan(dst...); err != nil {
		return 0, nil, err
	}
	counts = make([]int, len(at))
	sum := 0
	for i, n := range ranges {
		sum += n
		counts[i] = sum
	}
	if len(at) == 0 {
		return now, counts, nil
	}
	from, fromArgs := bucket("confirmed_at", at)
	to, toArgs := bucket("("+leftAt+")", at)
	rows, err := t.query(`SELECT f, u, COUNT(*) FROM (SELECT `+from+` AS f, `+to+` AS u FROM subscribers
		WHERE status IN ('unsubscribed', 'bounced', 'complained') AND confirmed_at IS NOT NULL) x GROUP BY f, u`,
		append(fromArgs, toArgs...)...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var f, u, n int
		if err := rows.Scan(&f, &u, &n); err != nil {
			return 0, nil, err
		}
		// Confirmed at at[k] for f <= k < u: confirmed by then, left after.
		for k := max(f, 0); k < min(u, len(at)); k++ {
			counts[k] += n
		}
	}
	return now, counts, rows.Err()
}

// flowTypes are the events a period counts, in Flow's order after the
// signups.
var flowTypes = []string{EventConfirmed, EventUnsubscribed, EventBounced, EventComplained}

// flows counts the events of each period: one range of the (type, at,
// subscriber_id) index per type and period, and the distinct subscribers
// who signed up in each (a form sent twice is one signup).
func flows(t *txn, bounds []time.Time) ([]Flow, error) {
	if len(bounds) < 2 {
		return nil, nil
	}
	periods := len(bounds) - 1
	var b strings.Builder
	args := make([]any, 0, 2*periods*(len(flowTypes)+1))
	b.WriteString("SELECT ")
	for p := range periods {
		if p > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(SELECT COUNT(DISTINCT subscriber_id) FROM subscriber_events
			WHERE type IN ('signup', 'resubscribed') AND at >= ? AND at < ?)`)
		args = append(args, dbTime(bounds[p]), dbTime(bounds[p+1]))
		for _, typ := range flowTypes {
			b.WriteString(", (SELECT COUNT(*) FROM subscriber_events WHERE type = '" + typ + "' AND at >= ? AND at < ?)")
			args = append(args, dbTime(bounds[p]), dbTime(bounds[p+1]))
		}
	}
	out := make([]Flow, periods)
	dst := make([]any, 0, periods*(len(flowTypes)+1))
	for p := range out {
		f := &out[p]
		dst = append(dst, &f.Signups, &f.Confirmations, &f.Unsubscribes, &f.Bounces, &f.Complaints)
	}
	if err := t.queryRow(b.String(), args...).Scan(dst...); err != nil {
		return nil, err
	}
	return out, nil
}

// confirmation fills the signups since since (a pending period that began
// then: pending_since survives the confirmation), how many confirmed, and
// the median time it took them.
func confirmation(t *txn, since time.Time, f *OverviewFigures) error {
	if err := t.queryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN confirmed_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM subscribers WHERE pending_since >= ?`, dbTime(since)).Scan(&f.Signups, &f.SignupsConfirmed); err != nil {
		return err
	}
	n := f.SignupsConfirmed
	if n == 0 {
		return nil
	}
	// The middle one or two, found by the database's sort.
	offset, limit := n/2, 1
	if n%2 == 0 {
		offset, limit = n/2-1, 2
	}
	rows, err := t.query(`SELECT confirmed_at - pending_since AS d FROM subscribers
		WHERE pending_since >= ? AND confirmed_at IS NOT NULL ORDER BY d LIMIT ? OFFSET ?`, dbTime(since), limit, offset)
	if err != nil {
		return err
	}
	defer rows.Close()
	var sum, got int64
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return err
		}
		sum, got = sum+d, got+1
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got > 0 {
		f.MedianToConfirm = time.Duration(sum/got) * time.Microsecond
	}
	return nil
}

const campaignFiguresQuery = `SELECT c.id, c.slug, c.title, c.kind, COALESCE(c.started_at, c.created_at), c.test_mode,
		c.recipients_count, c.sent_count + c.resolved_count,
		COALESCE(st.delivered, 0), COALESCE(st.permanent, 0), COALESCE(st.temporary, 0), COALESCE(st.complained, 0),
		COALESCE(st.unsubscribed, 0), COALESCE(st.opened, 0), COALESCE(st.clicked, 0)
	FROM (SELECT * FROM campaigns WHERE ? = 0 OR id = ? ORDER BY id DESC LIMIT ?) c
	LEFT JOIN (SELECT campaign_id,
			SUM(CASE WHEN type = 'delivered' THEN n ELSE 0 END) AS delivered,
			SUM(CASE WHEN type = 'failed_permanent' THEN n ELSE 0 END) AS permanent,
			SUM(CASE WHEN type = 'failed_temporary' THEN n ELSE 0 END) AS temporary,
			SUM(CASE WHEN type = 'complained' THEN n ELSE 0 END) AS complained,
			SUM(CASE WHEN type = 'unsubscribed' THEN n ELSE 0 END) AS unsubscribed,
			SUM(CASE WHEN type = 'opened' THEN n ELSE 0 END) AS opened,
			SUM(CASE WHEN type = 'clicked' THEN n ELSE 0 END) AS clicked
		FROM campaign_stats WHERE campaign_id IN (SELECT id FROM campaigns WHERE ? = 0 OR id = ? ORDER BY id DESC LIMIT ?)
		GROUP BY campaign_id) st ON st.campaign_id = c.id
	ORDER BY c.id DESC`

// campaignFigures reads the newest limit campaigns, or campaign id alone.
func campaignFigures(t *txn, id int64, limit int) ([]CampaignFigures, error) {
	rows, err := t.query(campaignFiguresQuery, id, id, limit, id, id, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign figures: %w", err)
	}
	defer rows.Close()
	var out []CampaignFigures
	for rows.Next() {
		var c CampaignFigures
		if err := rows.Scan(&c.ID, &c.Slug, &c.Title, &c.Kind, scanTime(&c.Date), &c.TestMode, &c.Recipients, &c.Accepted,
			&c.Delivered, &c.PermanentFailures, &c.TemporaryFailures, &c.Complaints, &c.Unsubscribes, &c.Opens, &c.Clicks); err != nil {
			return nil, fmt.Errorf("campaign figures: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("campaign figures: %w", err)
	}
	return out, nil
}

// CampaignFigures returns the newest limit campaigns' figures, newest first.
func (s *Store) CampaignFigures(ctx context.Context, limit int) ([]CampaignFigures, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []CampaignFigures
	err := s.readTx(ctx, func(t *txn) error {
		var err error
		out, err = campaignFigures(t, 0, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// CampaignTimeline returns campaign id's figures and its hours with any
// count, oldest first; ErrNotFound for no such campaign.
func (s *Store) CampaignTimeline(ctx context.Context, id int64) (CampaignFigures, []HourFigures, error) {
	var (
		c     CampaignFigures
		hours []HourFigures
	)
	err := s.readTx(ctx, func(t *txn) error {
		hours = nil
		list, err := campaignFigures(t, id, 1)
		if err != nil {
			return err
		}
		if id <= 0 || len(list) == 0 {
			return fmt.Errorf("campaign %d: %w", id, ErrNotFound)
		}
		c = list[0]
		// The rollup's rows are already one per hour and type.
		rows, err := t.query("SELECT hour, type, n FROM campaign_stats WHERE campaign_id = ? ORDER BY hour, type", id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				hour time.Time
				typ  string
				n    int
			)
			if err := rows.Scan(scanTime(&hour), &typ, &n); err != nil {
				return err
			}
			if len(hours) == 0 || !hours[len(hours)-1].Hour.Equal(hour) {
				hours = append(hours, HourFigures{Hour: hour})
			}
			h := &hours[len(hours)-1]
			switch typ {
			case StatDelivered:
				h.Delivered = n
			case StatPermanentFailure:
				h.PermanentFailures = n
			case StatTemporaryFailure:
				h.TemporaryFailures = n
			case StatComplained:
				h.Complaints = n
			case StatUnsubscribed:
				h.Unsubscribes = n
			case StatOpened:
				h.Opens = n
			case StatClicked:
				h.Clicks = n
			}
		}
		return rows.Err()
	})
	if err != nil {
		return CampaignFigures{}, nil, fmt.Errorf("store: campaign timeline: %w", err)
	}
	return c, hours, nil
}

// maxSources caps the pages SourceFigures lists (the rest are few each).
const maxSources = 50

// SourceFigures counts, for the subscribers whose latest consent is since
// since, the page each signed up on (consent_source) and how many of them
// confirmed; and, since then, the whitepaper links queued (the welcome
// email with the link, or a confirmed reader's new request) and the gated
// downloads.
func (s *Store) SourceFigures(ctx context.Context, since time.Time) (pages []SourceFigures, whitepaperRequests, whitepaperDownloads int, err error) {
	err = s.readTx(ctx, func(t *txn) error {
		pages = nil
		rows, err := t.query(`SELECT consent_source, COUNT(*), COALESCE(SUM(CASE WHEN confirmed_at IS NOT NULL THEN 1 ELSE 0 END), 0)
			FROM subscribers WHERE consent_at >= ? GROUP BY consent_source
			ORDER BY COUNT(*) DESC, consent_source`+t.d.binary+` LIMIT ?`, dbTime(since), maxSources)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p SourceFigures
			if err := rows.Scan(&p.Path, &p.Signups, &p.Confirmed); err != nil {
				return err
			}
			pages = append(pages, p)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return t.queryRow(`SELECT COALESCE(SUM(CASE WHEN type = ? THEN 1 ELSE 0 END), 0),
				COALESCE(SUM(CASE WHEN type = ? THEN 1 ELSE 0 END), 0)
			FROM subscriber_events WHERE type IN (?, ?) AND at >= ?`,
			EventWhitepaperQueued, EventWhitepaperDownloaded, EventWhitepaperQueued, EventWhitepaperDownloaded,
			dbTime(since)).Scan(&whitepaperRequests, &whitepaperDownloads)
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("store: source figures: %w", err)
	}
	return pages, whitepaperRequests, whitepaperDownloads, nil
}
