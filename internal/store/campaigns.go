package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CampaignState is where a newsletter campaign stands.
type CampaignState string

const (
	CampaignPending CampaignState = "pending"
	CampaignSending CampaignState = "sending"
	CampaignSent    CampaignState = "sent"
	CampaignFailed  CampaignState = "failed"
)

// BatchState is where one batch of a campaign stands. Unknown means a send
// was attempted and its outcome is not known (timeout, crash): the batch
// must be reconciled with the mail service's records (ResolveBatch) before
// anything is sent again.
type BatchState string

const (
	BatchPending BatchState = "pending"
	BatchSending BatchState = "sending"
	BatchSent    BatchState = "sent"
	BatchUnknown BatchState = "unknown"
	BatchFailed  BatchState = "failed"
)

// RecipientState is where one recipient of a campaign stands.
type RecipientState string

// A recipient's row records only the outcomes that set them apart from
// their batch (resolved, skipped, failed): a row still pending in a sent
// batch was sent with it, at the batch's sent_at. Rows written before
// migration 6 may also say sent. recipientStateSQL reads the effective
// state.
const (
	RecipientPending  RecipientState = "pending"
	RecipientSent     RecipientState = "sent"
	RecipientResolved RecipientState = "resolved" // found delivered while reconciling an unknown batch
	RecipientSkipped  RecipientState = "skipped"  // no longer confirmed when their batch came up
	RecipientFailed   RecipientState = "failed"
)

// MaxBatchSize is the most recipients Mailgun takes in one batch message.
const MaxBatchSize = 1000

// CampaignKind says what a campaign sends.
type CampaignKind string

const (
	KindGuide  CampaignKind = "guide"  // one guide to the readers who get each guide
	KindDigest CampaignKind = "digest" // each digest reader's new guides
)

// CampaignSpec describes a campaign to create.
type CampaignSpec struct {
	Slug    string // unique: one campaign per guide
	Title   string
	Subject string
	// Topics are the guide's topics: only subscribers who have not turned
	// all of them off get it. None: everyone.
	Topics    []string
	TestMode  bool
	DeliverAt time.Time // zero: as soon as possible
	BatchSize int       // 0: MaxBatchSize
}

// Campaign is one newsletter send with its counters.
type Campaign struct {
	ID         int64         `json:"id"`
	Slug       string        `json:"slug"`
	Kind       CampaignKind  `json:"kind"`
	Topics     []string      `json:"topics,omitempty"`
	Title      string        `json:"title"`
	Subject    string        `json:"subject"`
	State      CampaignState `json:"state"`
	TestMode   bool          `json:"test_mode"`
	DeliverAt  time.Time     `json:"deliver_at,omitzero"`
	BatchSize  int           `json:"batch_size"`
	CreatedAt  time.Time     `json:"created_at"`
	StartedAt  time.Time     `json:"started_at,omitzero"`
	FinishedAt time.Time     `json:"finished_at,omitzero"`
	Error      string        `json:"error,omitempty"`
	Recipients int           `json:"recipients"`
	Batches    int           `json:"batches"`
	Sent       int           `json:"sent"`
	Resolved   int           `json:"resolved"` // delivered, learnt while reconciling unknown batches
	Skipped    int           `json:"skipped"`
	Failed     int           `json:"failed"`
}

// Batch is one batch's metadata.
type Batch struct {
	ID         int64      `json:"id"`
	CampaignID int64      `json:"campaign_id"`
	Seq        int        `json:"seq"`
	State      BatchState `json:"state"`
	Size       int        `json:"size"`
	Attempts   int        `json:"attempts"`
	StartedAt  time.Time  `json:"started_at,omitzero"`
	SentAt     time.Time  `json:"sent_at,omitzero"`
	MessageID  string     `json:"message_id,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Variant: in a digest, the ids of the guide campaigns its recipients
	// get, ascending; "" in a guide's campaign.
	Variant string `json:"variant,omitempty"`
}

// recipientStateSQL and recipientSentAtSQL are a recipient row's effective
// state and sending time, for a query that joins campaign_recipients as r
// with its batch as b (b.campaign_id = r.campaign_id AND b.seq =
// r.batch_seq).
const (
	recipientStateSQL  = "CASE WHEN r.state = 'pending' AND b.state = 'sent' THEN 'sent' ELSE r.state END"
	recipientSentAtSQL = "CASE WHEN r.state = 'pending' AND b.state = 'sent' THEN b.sent_at ELSE r.sent_at END"
)

// Recipient is one address of a batch to send to.
type Recipient struct {
	SubscriberID int64
	Email        string
	Name         string
	LinkKey      string // the subscriber row's key, for the unsubscribe link
}

const campaignCols = `id, slug, title, subject, state, test_mode, deliver_at, batch_size, created_at,
	started_at, finished_at, error, recipients_count, batches_count, sent_count, resolved_count,
	skipped_count, failed_count, kind, topics`

func scanCampaign(r scanner) (Campaign, error) {
	var c Campaign
	var topics string
	err := r.Scan(&c.ID, &c.Slug, &c.Title, &c.Subject, &c.State, &c.TestMode, scanTime(&c.DeliverAt),
		&c.BatchSize, scanTime(&c.CreatedAt), scanTime(&c.StartedAt), scanTime(&c.FinishedAt), &c.Error,
		&c.Recipients, &c.Batches, &c.Sent, &c.Resolved, &c.Skipped, &c.Failed, &c.Kind, &topics)
	c.Topics = splitTopics(topics)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

const batchCols = "id, campaign_id, seq, state, size, attempts, started_at, sent_at, message_id, error, variant"

func scanBatch(r scanner) (Batch, error) {
	var b Batch
	err := r.Scan(&b.ID, &b.CampaignID, &b.Seq, &b.State, &b.Size, &b.Attempts,
		scanTime(&b.StartedAt), scanTime(&b.SentAt), &b.MessageID, &b.Error, &b.Variant)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	return b, err
}

func (spec *CampaignSpec) clean() error {
	spec.Slug = strings.TrimSpace(spec.Slug)
	spec.Title = strings.TrimSpace(spec.Title)
	spec.Subject = strings.TrimSpace(spec.Subject)
	switch {
	case spec.Slug == "":
		return fmt.Errorf("%w: campaign slug is empty", ErrInvalidInput)
	case spec.Subject == "":
		return fmt.Errorf("%w: campaign subject is empty", ErrInvalidInput)
	case spec.BatchSize < 0 || spec.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: batch size %d is not between 1 and %d", ErrInvalidInput, spec.BatchSize, MaxBatchSize)
	}
	if spec.BatchSize == 0 {
		spec.BatchSize = MaxBatchSize
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"campaign slug", spec.Slug, maxSlugLen}, {"campaign title", spec.Title, maxTitleLen}, {"campaign subject", spec.Subject, maxTitleLen}} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

// CreateCampaign creates a guide's campaign and fixes its recipients: the
// confirmed subscribers at this moment who get each guide and have not
// turned off all of its topics, numbered into batches of spec.BatchSize.
// The confirmed digest readers it matches get it queued for their next
// digest instead (digest_items). It is one transaction, and the lists are
// built inside the database, so memory does not grow with the number of
// subscribers. A slug that already has a campaign gives ErrCampaignExists.
func (s *Store) CreateCampaign(ctx context.Context, spec CampaignSpec, now time.Time) (Campaign, error) {
	if err := spec.clean(); err != nil {
		return Campaign{}, err
	}
	now = norm(now)
	var c Campaign
	err := s.tx(ctx, func(t *txn) error {
		id, err := insertCampaign(t, spec, KindGuide, now)
		if err != nil {
			return err
		}
		match, matchArgs := topicsMatch(spec.Topics)
		recipients, err := fixGuideRecipients(t, id, spec.BatchSize, match, matchArgs)
		if err != nil {
			return fmt.Errorf("fix recipients: %w", err)
		}
		if _, err := t.exec(`INSERT INTO digest_items (subscriber_id, campaign_id, queued_at)
			SELECT s.id, CAST(? AS BIGINT), CAST(? AS BIGINT) FROM subscribers s
			WHERE s.status = 'confirmed' AND s.frequency = 'digest' AND `+match,
			append([]any{id, dbTime(now)}, matchArgs...)...); err != nil {
			return fmt.Errorf("queue for digests: %w", err)
		}
		c, err = finishCreate(t, id, recipients)
		return err
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("store: create campaign %q: %w", spec.Slug, err)
	}
	return c, nil
}

// fixGuideRecipients writes a guide campaign's recipients: the confirmed
// readers of each guide that match, in subscriber order, numbered into
// batches of size.
func fixGuideRecipients(t *txn, id int64, size int, match string, matchArgs []any) (int64, error) {
	const audience = "FROM subscribers s WHERE s.status = 'confirmed' AND s.frequency = 'each' AND "
	if t.d.name != dialectSQLite {
		return affected(t.exec(`INSERT INTO campaign_recipients (campaign_id, subscriber_id, batch_seq, email, name, state)
			SELECT CAST(? AS BIGINT), s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / CAST(? AS BIGINT), s.email, s.name, 'pending'
			`+audience+match, append([]any{id, size}, matchArgs...)...))
	}
	// SQLite evaluates the window above through a temporary copy of every
	// row, which was a third of the statement's time. One statement per
	// batch, each the next size subscribers after the last one taken, reads
	// the same list: the writer holds the database's write lock for the
	// whole transaction, so no subscriber changes in between.
	var total, after int64
	for seq := 0; ; seq++ {
		n, err := affected(t.exec(`INSERT INTO campaign_recipients (campaign_id, subscriber_id, batch_seq, email, name, state)
			SELECT CAST(? AS BIGINT), s.id, CAST(? AS BIGINT), s.email, s.name, 'pending'
			`+audience+match+` AND s.id > ? ORDER BY s.id LIMIT ?`,
			append(append([]any{id, seq}, matchArgs...), after, size)...))
		if err != nil {
			return 0, err
		}
		total += n
		if n < int64(size) {
			return total, nil
		}
		if err := t.queryRow(`SELECT MAX(subscriber_id) FROM campaign_recipients WHERE campaign_id = ? AND batch_seq = ?`,
			id, seq).Scan(&after); err != nil {
			return 0, err
		}
	}
}

// CreateDigest creates a digest campaign: every confirmed subscriber with
// guides waiting for their digest becomes one recipient, whatever their
// frequency is now (someone who switched back to each guide still gets
// what was waiting), with the waiting guides that are still on their
// topics. Recipients with the same guides share batches (Batch.Variant),
// so a batch is one rendered body. The waiting rows are taken and deleted
// in the same transaction, which keeps new ones out meanwhile: a guide
// goes into one digest only, and a second digest right after has no
// recipients. Memory does not grow with the number of subscribers.
func (s *Store) CreateDigest(ctx context.Context, spec CampaignSpec, now time.Time) (Campaign, error) {
	spec.Topics = nil
	if err := spec.clean(); err != nil {
		return Campaign{}, err
	}
	now = norm(now)
	var c Campaign
	err := s.tx(ctx, func(t *txn) error {
		id, err := insertCampaign(t, spec, KindDigest, now)
		if err != nil {
			return err
		}
		if t.d.lockDigests != "" {
			if _, err := t.exec(t.d.lockDigests); err != nil {
				return err
			}
		}
		if err := dropStaleDigestItems(t); err != nil {
			return err
		}
		recipients, err := affected(t.exec(fmt.Sprintf(`WITH per_sub AS (
				SELECT subscriber_id AS sid, %s AS variant FROM digest_items GROUP BY subscriber_id
			), variants AS (
				SELECT variant, (COUNT(*) + CAST(? AS BIGINT) - 1) / CAST(? AS BIGINT) AS nb FROM per_sub GROUP BY variant
			), offsets AS (
				SELECT variant, CAST(SUM(nb) OVER (ORDER BY variant) - nb AS BIGINT) AS first FROM variants
			)
			INSERT INTO campaign_recipients (campaign_id, subscriber_id, batch_seq, email, name, state, variant)
			SELECT CAST(? AS BIGINT), p.sid,
				o.first + (ROW_NUMBER() OVER (PARTITION BY p.variant ORDER BY p.sid) - 1) / CAST(? AS BIGINT),
				s.email, s.name, 'pending', p.variant
			FROM per_sub p JOIN offsets o ON o.variant = p.variant JOIN subscribers s ON s.id = p.sid`,
			fmt.Sprintf(t.d.joinIDs, "campaign_id")),
			spec.BatchSize, spec.BatchSize, id, spec.BatchSize))
		if err != nil {
			return fmt.Errorf("fix recipients: %w", err)
		}
		// Every row left was taken: those of subscribers who left just now
		// would have been dropped anyway.
		if _, err := t.exec("DELETE FROM digest_items"); err != nil {
			return fmt.Errorf("delete the guides taken: %w", err)
		}
		c, err = finishCreate(t, id, recipients)
		return err
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("store: create digest %q: %w", spec.Slug, err)
	}
	return c, nil
}

// dropStaleDigestItems deletes waiting guides that will never be sent:
// their subscriber is no longer confirmed, or has since turned off every
// topic of the guide.
func dropStaleDigestItems(t *txn) error {
	if _, err := t.exec(`DELETE FROM digest_items WHERE subscriber_id IN
			(SELECT id FROM subscribers WHERE status <> 'confirmed')`); err != nil {
		return fmt.Errorf("drop guides of subscribers who left: %w", err)
	}
	// One statement per guide with readers waiting: a handful, each an
	// indexed range of digest_items.
	rows, err := t.query(`SELECT c.id, c.topics FROM campaigns c
		WHERE c.topics <> '' AND EXISTS (SELECT 1 FROM digest_items d WHERE d.campaign_id = c.id)`)
	if err != nil {
		return err
	}
	type guideTopics struct {
		id     int64
		topics []string
	}
	var list []guideTopics
	for rows.Next() {
		var g guideTopics
		var topics string
		if err := rows.Scan(&g.id, &topics); err != nil {
			rows.Close()
			return err
		}
		g.topics = splitTopics(topics)
		list = append(list, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range list {
		match, args := topicsMatch(g.topics)
		if _, err := t.exec(`DELETE FROM digest_items WHERE campaign_id = ? AND subscriber_id IN
				(SELECT s.id FROM subscribers s WHERE NOT (`+match+`))`, append([]any{g.id}, args...)...); err != nil {
			return fmt.Errorf("drop guides off their readers' topics: %w", err)
		}
	}
	return nil
}

// DigestWaiting counts the confirmed subscribers with guides waiting for
// their next digest (what CreateDigest would send to, before the topic
// check).
func (s *Store) DigestWaiting(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(DISTINCT d.subscriber_id) FROM digest_items d
		JOIN subscribers s ON s.id = d.subscriber_id WHERE s.status = 'confirmed'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: digest readers waiting: %w", err)
	}
	return n, nil
}

func insertCampaign(t *txn, spec CampaignSpec, kind CampaignKind, now time.Time) (int64, error) {
	var id int64
	err := t.queryRow(`INSERT INTO campaigns (slug, kind, topics, title, subject, state, test_mode, deliver_at, batch_size, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING RETURNING id`,
		spec.Slug, string(kind), joinTopics(spec.Topics), spec.Title, spec.Subject, spec.TestMode,
		dbTime(norm(spec.DeliverAt)), spec.BatchSize, dbTime(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", ErrCampaignExists, spec.Slug)
	}
	return id, err
}

// finishCreate numbers the new campaign's batches from its recipients and
// stores the counts.
func finishCreate(t *txn, id, recipients int64) (Campaign, error) {
	batches, err := affected(t.exec(`INSERT INTO campaign_batches (campaign_id, seq, state, size, attempts, variant)
		SELECT campaign_id, batch_seq, 'pending', COUNT(*), 0, MIN(variant)
		FROM campaign_recipients WHERE campaign_id = ? GROUP BY campaign_id, batch_seq`, id))
	if err != nil {
		return Campaign{}, fmt.Errorf("create batches: %w", err)
	}
	if _, err := t.exec("UPDATE campaigns SET recipients_count = ?, batches_count = ? WHERE id = ?",
		recipients, batches, id); err != nil {
		return Campaign{}, err
	}
	return scanCampaign(t.queryRow("SELECT "+campaignCols+" FROM campaigns WHERE id = ?", id))
}

// Campaign returns campaign id, or ErrNotFound.
func (s *Store) Campaign(ctx context.Context, id int64) (Campaign, error) {
	c, err := scanCampaign(s.queryRow(ctx, "SELECT "+campaignCols+" FROM campaigns WHERE id = ?", id))
	if err != nil {
		return Campaign{}, fmt.Errorf("store: campaign %d: %w", id, err)
	}
	return c, nil
}

// CampaignBySlug returns the campaign for slug, or ErrNotFound.
func (s *Store) CampaignBySlug(ctx context.Context, slug string) (Campaign, error) {
	c, err := scanCampaign(s.queryRow(ctx, "SELECT "+campaignCols+" FROM campaigns WHERE slug = ?", slug))
	if err != nil {
		return Campaign{}, fmt.Errorf("store: campaign %q: %w", slug, err)
	}
	return c, nil
}

// Campaigns lists every campaign, oldest first.
func (s *Store) Campaigns(ctx context.Context) ([]Campaign, error) {
	return s.campaigns(ctx, "SELECT "+campaignCols+" FROM campaigns ORDER BY id")
}

// UnfinishedCampaigns lists campaigns still pending or sending, oldest first.
func (s *Store) UnfinishedCampaigns(ctx context.Context) ([]Campaign, error) {
	return s.campaigns(ctx, "SELECT "+campaignCols+" FROM campaigns WHERE state IN ('pending', 'sending') ORDER BY id")
}

func (s *Store) campaigns(ctx context.Context, q string) ([]Campaign, error) {
	rows, err := s.query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	defer rows.Close()
	var list []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("store: campaigns: %w", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	return list, nil
}

// StartCampaign moves a pending campaign to sending.
func (s *Store) StartCampaign(ctx context.Context, id int64, now time.Time) error {
	err := s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec(`UPDATE campaigns SET state = 'sending', started_at = ?
			WHERE id = ? AND state = 'pending'`, dbTime(norm(now)), id))
		if err != nil {
			return err
		}
		return guard(t, n, "campaigns", "campaign", id, "pending")
	})
	if err != nil {
		return fmt.Errorf("store: start campaign %d: %w", id, err)
	}
	return nil
}

// FinishCampaign moves a sending campaign to sent once none of its batches
// is pending, sending or unknown.
func (s *Store) FinishCampaign(ctx context.Context, id int64, now time.Time) error {
	err := s.tx(ctx, func(t *txn) error {
		var open int
		if err := t.queryRow(`SELECT COUNT(*) FROM campaign_batches
			WHERE campaign_id = ? AND state IN ('pending', 'sending', 'unknown')`, id).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return fmt.Errorf("%w: campaign %d has %d unfinished batches", ErrConflict, id, open)
		}
		n, err := affected(t.exec(`UPDATE campaigns SET state = 'sent', finished_at = ?
			WHERE id = ? AND state = 'sending'`, dbTime(norm(now)), id))
		if err != nil {
			return err
		}
		return guard(t, n, "campaigns", "campaign", id, "sending")
	})
	if err != nil {
		return fmt.Errorf("store: finish campaign %d: %w", id, err)
	}
	return nil
}

// FailCampaign gives up on a pending or sending campaign.
func (s *Store) FailCampaign(ctx context.Context, id int64, errMsg string, now time.Time) error {
	err := s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec(`UPDATE campaigns SET state = 'failed', error = ?, finished_at = ?
			WHERE id = ? AND state IN ('pending', 'sending')`, errorText(errMsg), dbTime(norm(now)), id))
		if err != nil {
			return err
		}
		return guard(t, n, "campaigns", "campaign", id, "pending or sending")
	})
	if err != nil {
		return fmt.Errorf("store: fail campaign %d: %w", id, err)
	}
	return nil
}

// GuideAudience counts who a guide's campaign on topics would reach now:
// the confirmed readers of each guide, and the digest readers it would
// wait for.
func (s *Store) GuideAudience(ctx context.Context, topics []string) (each, digest int, err error) {
	match, args := topicsMatch(topics)
	err = s.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN s.frequency = 'each' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN s.frequency = 'digest' THEN 1 ELSE 0 END), 0)
		FROM subscribers s WHERE s.status = 'confirmed' AND `+match, args...).Scan(&each, &digest)
	if err != nil {
		return 0, 0, fmt.Errorf("store: guide audience: %w", err)
	}
	return each, digest, nil
}
