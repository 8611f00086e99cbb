package store

// The batch ledger: a campaign's batches and their recipients, and each
// batch's way from pending through sending to sent, unknown (reconciled
// with the mail service's events) or failed. Every step is one transaction
// guarded by the state it expects, so two senders or a crash never move a
// batch twice.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kbpress/kb/internal/mailaddr"
)

// Batches lists the batches of a campaign in order.
func (s *Store) Batches(ctx context.Context, campaignID int64) ([]Batch, error) {
	rows, err := s.query(ctx, "SELECT "+batchCols+" FROM campaign_batches WHERE campaign_id = ? ORDER BY seq", campaignID)
	if err != nil {
		return nil, fmt.Errorf("store: batches of campaign %d: %w", campaignID, err)
	}
	defer rows.Close()
	var list []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("store: batches of campaign %d: %w", campaignID, err)
		}
		list = append(list, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: batches of campaign %d: %w", campaignID, err)
	}
	return list, nil
}

// Batch returns batch id, or ErrNotFound.
func (s *Store) Batch(ctx context.Context, id int64) (Batch, error) {
	b, err := scanBatch(s.queryRow(ctx, "SELECT "+batchCols+" FROM campaign_batches WHERE id = ?", id))
	if err != nil {
		return Batch{}, fmt.Errorf("store: batch %d: %w", id, err)
	}
	return b, nil
}

// lockBatch reads a batch's place and state, locked until the transaction
// ends.
func lockBatch(t *txn, batchID int64) (campaignID int64, seq int, state BatchState, err error) {
	err = t.queryRow("SELECT campaign_id, seq, state FROM campaign_batches WHERE id = ?"+t.d.forUpdate, batchID).
		Scan(&campaignID, &seq, &state)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return campaignID, seq, state, err
}

// BatchRecipients returns the recipients of batch id still to be sent to,
// after marking those no longer confirmed as skipped. The list is read
// outside the write path (on SQLite, off the single writer), and only the
// rare ineligible recipients need a write.
func (s *Store) BatchRecipients(ctx context.Context, batchID int64) ([]Recipient, error) {
	var (
		list       []Recipient
		ineligible []int64
		campaignID int64
		seq        int
	)
	err := s.readTx(ctx, func(t *txn) error {
		var state BatchState
		err := t.queryRow("SELECT campaign_id, seq, state FROM campaign_batches WHERE id = ?", batchID).
			Scan(&campaignID, &seq, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || state == BatchSent || state == BatchFailed {
			return err // a closed batch's pending rows were sent with it (or never will be)
		}
		list, ineligible, err = readPending(t, campaignID, seq)
		return err
	})
	if err == nil && len(ineligible) > 0 {
		err = s.tx(ctx, func(t *txn) error {
			if _, _, state, err := lockBatch(t, batchID); err != nil || state == BatchSent || state == BatchFailed {
				return err
			}
			return skipRecipients(t, campaignID, seq, ineligible)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("store: recipients of batch %d: %w", batchID, err)
	}
	return list, nil
}

// pendingRecipients returns a batch's pending recipients who are still
// confirmed, and marks the others (unsubscribed, bounced, complained or
// erased since the campaign was created) as skipped.
func pendingRecipients(t *txn, campaignID int64, seq int) ([]Recipient, error) {
	list, ineligible, err := readPending(t, campaignID, seq)
	if err != nil {
		return nil, err
	}
	return list, skipRecipients(t, campaignID, seq, ineligible)
}

// readPending reads a batch's pending recipients in one pass with their
// current status: those still confirmed, and the subscriber ids of the
// others.
func readPending(t *txn, campaignID int64, seq int) (list []Recipient, ineligible []int64, err error) {
	rows, err := t.query(`SELECT r.subscriber_id, r.email, r.name, COALESCE(s.link_key, ''),
			CASE WHEN s.status = 'confirmed' THEN 1 ELSE 0 END
		FROM campaign_recipients r LEFT JOIN subscribers s ON s.id = r.subscriber_id
		WHERE r.campaign_id = ? AND r.batch_seq = ? AND r.state = 'pending' ORDER BY r.subscriber_id`, campaignID, seq)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r Recipient
		var confirmed int
		if err := rows.Scan(&r.SubscriberID, &r.Email, &r.Name, &r.LinkKey, &confirmed); err != nil {
			return nil, nil, err
		}
		if confirmed == 1 {
			list = append(list, r)
		} else {
			ineligible = append(ineligible, r.SubscriberID)
		}
	}
	return list, ineligible, rows.Err()
}

// skipRecipients marks the given pending recipients of a batch as skipped
// and counts them on the campaign.
func skipRecipients(t *txn, campaignID int64, seq int, subscriberIDs []int64) error {
	var skipped int64
	for _, id := range subscriberIDs {
		n, err := affected(t.exec(`UPDATE campaign_recipients SET state = 'skipped'
			WHERE campaign_id = ? AND batch_seq = ? AND subscriber_id = ? AND state = 'pending'`, campaignID, seq, id))
		if err != nil {
			return err
		}
		skipped += n
	}
	if skipped == 0 {
		return nil
	}
	_, err := t.exec("UPDATE campaigns SET skipped_count = skipped_count + ? WHERE id = ?", skipped, campaignID)
	return err
}

// guard turns a guarded UPDATE that changed nothing into ErrNotFound or
// ErrConflict naming the state found.
func guard(t *txn, n int64, table, noun string, id int64, want string) error {
	if n == 1 {
		return nil
	}
	var state string
	err := t.queryRow("SELECT state FROM "+table+" WHERE id = ?", id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s %d is %s, want %s", ErrConflict, noun, id, state, want)
}

// StartBatch moves a pending or unknown batch to sending and counts the
// attempt.
func (s *Store) StartBatch(ctx context.Context, batchID int64, now time.Time) error {
	const q = `UPDATE campaign_batches SET state = 'sending', attempts = attempts + 1, started_at = ?
			WHERE id = ? AND state IN ('pending', 'unknown')`
	var err error
	if s.w == nil {
		// PostgreSQL: it runs right before each call, so one statement in
		// one round trip rather than a transaction of three.
		var n int64
		if n, err = affected(s.db.ExecContext(ctx, s.d.rebind(q), dbTime(norm(now)), batchID)); err == nil && n != 1 {
			err = s.readTx(ctx, func(t *txn) error { return guard(t, n, "campaign_batches", "batch", batchID, "pending or unknown") })
		}
	} else {
		err = s.tx(ctx, func(t *txn) error {
			n, err := affected(t.exec(q, dbTime(norm(now)), batchID))
			if err != nil {
				return err
			}
			return guard(t, n, "campaign_batches", "batch", batchID, "pending or unknown")
		})
	}
	if err != nil {
		return fmt.Errorf("store: start batch %d: %w", batchID, err)
	}
	return nil
}

// FinishBatch records that the mail service accepted the batch: it becomes
// sent, and with it its pending recipients (implied, not written).
func (s *Store) FinishBatch(ctx context.Context, batchID int64, messageID string, now time.Time) error {
	now = norm(now)
	err := s.tx(ctx, func(t *txn) error {
		var (
			campaignID int64
			seq        int
		)
		// The guarded UPDATE locks the row itself: one round trip fewer
		// than reading it FOR UPDATE first.
		err := t.queryRow(`UPDATE campaign_batches SET state = 'sent', sent_at = ?, message_id = ?, error = ''
			WHERE id = ? AND state = 'sending' RETURNING campaign_id, seq`,
			dbTime(now), sanitize(messageID, maxMessageID), batchID).Scan(&campaignID, &seq)
		if errors.Is(err, sql.ErrNoRows) {
			return guard(t, 0, "campaign_batches", "batch", batchID, "sending")
		}
		if err != nil {
			return err
		}
		// The pending recipients are not rewritten: in a sent batch they are
		// sent (see RecipientPending), which spares a large campaign a
		// thousand-row UPDATE per call on the sending path.
		_, err = t.exec(`UPDATE campaigns SET sent_count = sent_count + (SELECT COUNT(*) FROM campaign_recipients
			WHERE campaign_id = ? AND batch_seq = ? AND state = 'pending') WHERE id = ?`, campaignID, seq, campaignID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish batch %d: %w", batchID, err)
	}
	return nil
}

// MarkBatchUnknown records that a send of the batch may or may not have
// reached the mail service.
func (s *Store) MarkBatchUnknown(ctx context.Context, batchID int64, errMsg string) error {
	err := s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec(`UPDATE campaign_batches SET state = 'unknown', error = ?
			WHERE id = ? AND state = 'sending'`, errorText(errMsg), batchID))
		if err != nil {
			return err
		}
		return guard(t, n, "campaign_batches", "batch", batchID, "sending")
	})
	if err != nil {
		return fmt.Errorf("store: mark batch %d unknown: %w", batchID, err)
	}
	return nil
}

// ResolveBatch reconciles an unknown batch with the addresses the mail
// service reports as accepted: those recipients become resolved. If no one
// is left to send to, the batch is sent; otherwise it is pending again, so
// that only the rest is sent. It returns how many were resolved now and how
// many remain.
func (s *Store) ResolveBatch(ctx context.Context, batchID int64, accepted []string, now time.Time) (resolved, remaining int, err error) {
	now = norm(now)
	keys := make(map[string]bool, len(accepted))
	for _, a := range accepted {
		if email, err := mailaddr.Parse(a); err == nil {
			keys[mailaddr.Key(email)] = true
		}
	}
	err = s.tx(ctx, func(t *txn) error {
		resolved, remaining = 0, 0
		campaignID, seq, state, err := lockBatch(t, batchID)
		if err != nil {
			return err
		}
		if state != BatchUnknown {
			return fmt.Errorf("%w: batch %d is %s, want unknown", ErrConflict, batchID, state)
		}
		pending, err := pendingRecipients(t, campaignID, seq)
		if err != nil {
			return err
		}
		var found []int64
		for _, r := range pending {
			if keys[mailaddr.Key(r.Email)] {
				found = append(found, r.SubscriberID)
			} else {
				remaining++
			}
		}
		for _, id := range found {
			if _, err := t.exec(`UPDATE campaign_recipients SET state = 'resolved', sent_at = ?
				WHERE campaign_id = ? AND batch_seq = ? AND subscriber_id = ?`, dbTime(now), campaignID, seq, id); err != nil {
				return err
			}
		}
		resolved = len(found)
		if _, err := t.exec("UPDATE campaigns SET resolved_count = resolved_count + ? WHERE id = ?", resolved, campaignID); err != nil {
			return err
		}
		var n int64
		if remaining == 0 {
			n, err = affected(t.exec("UPDATE campaign_batches SET state = 'sent', sent_at = ? WHERE id = ? AND state = 'unknown'",
				dbTime(now), batchID))
		} else {
			n, err = affected(t.exec("UPDATE campaign_batches SET state = 'pending' WHERE id = ? AND state = 'unknown'", batchID))
		}
		if err != nil {
			return err
		}
		return guard(t, n, "campaign_batches", "batch", batchID, "unknown")
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: resolve batch %d: %w", batchID, err)
	}
	return resolved, remaining, nil
}

// FailBatch gives up on a batch that is not sent yet; its pending
// recipients become failed.
func (s *Store) FailBatch(ctx context.Context, batchID int64, errMsg string) error {
	err := s.tx(ctx, func(t *txn) error {
		campaignID, seq, _, err := lockBatch(t, batchID)
		if err != nil {
			return err
		}
		n, err := affected(t.exec(`UPDATE campaign_batches SET state = 'failed', error = ?
			WHERE id = ? AND state IN ('pending', 'sending', 'unknown')`, errorText(errMsg), batchID))
		if err != nil {
			return err
		}
		if err := guard(t, n, "campaign_batches", "batch", batchID, "pending, sending or unknown"); err != nil {
			return err
		}
		n, err = affected(t.exec(`UPDATE campaign_recipients SET state = 'failed'
			WHERE campaign_id = ? AND batch_seq = ? AND state = 'pending'`, campaignID, seq))
		if err != nil {
			return err
		}
		_, err = t.exec("UPDATE campaigns SET failed_count = failed_count + ? WHERE id = ?", n, campaignID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: fail batch %d: %w", batchID, err)
	}
	return nil
}
