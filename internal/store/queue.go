package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MailKind is a transactional email.
type MailKind string

const (
	MailConfirm    MailKind = "confirm"    // double opt-in link
	MailWhitepaper MailKind = "whitepaper" // the download link
)

// MailStatus is where a queued email stands.
type MailStatus string

const (
	MailQueued    MailStatus = "queued"
	MailSending   MailStatus = "sending" // claimed by a worker until locked_until
	MailSent      MailStatus = "sent"
	MailFailed    MailStatus = "failed" // given up
	MailCancelled MailStatus = "cancelled"
)

// QueuedMail is what a worker needs to send one email. The confirmation
// link expires at CreatedAt plus its validity.
type QueuedMail struct {
	ID           int64
	Kind         MailKind
	SubscriberID int64
	To           string
	Name         string
	Attempts     int // including the current one
	CreatedAt    time.Time
	// WantsWhitepaper is whether the subscriber asked for the whitepaper,
	// as it stands when the email is claimed (a confirmation mentions it).
	WantsWhitepaper bool
}

// queueMail queues kind for sub, due at once, addressed as sub is now.
func queueMail(t *txn, kind MailKind, sub Subscriber, now time.Time) error {
	_, err := t.exec(`INSERT INTO mail_queue (kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)`,
		string(kind), sub.ID, sub.Email, sub.Name, dbTime(now), dbTime(now))
	if err != nil {
		return fmt.Errorf("queue %s email: %w", kind, err)
	}
	return nil
}

// ClaimMail takes up to limit emails that are due, or whose previous
// worker's lease ran out, and leases them to worker until now+lease. On
// PostgreSQL several processes may claim at once and never get the same row.
func (s *Store) ClaimMail(ctx context.Context, worker string, limit int, lease time.Duration, now time.Time) ([]QueuedMail, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claim limit %d and lease %s must be positive", ErrInvalidInput, limit, lease)
	}
	worker = sanitize(worker, maxHolderLen)
	now = norm(now)
	var mails []QueuedMail
	err := s.tx(ctx, func(t *txn) error {
		mails = mails[:0]
		// Emails whose worker's lease ran out come first: they are the
		// oldest. Each branch walks its own partial index in order, so a
		// long backlog is never sorted.
		for _, q := range []string{claimExpired, claimDue} {
			if len(mails) == limit {
				break
			}
			rows, err := t.query(fmt.Sprintf(q, t.d.skipLocked), worker, dbTime(now.Add(lease)), dbTime(now), limit-len(mails))
			if err != nil {
				return err
			}
			for rows.Next() {
				var m QueuedMail
				if err := rows.Scan(&m.ID, &m.Kind, &m.SubscriberID, &m.To, &m.Name, &m.Attempts, scanTime(&m.CreatedAt),
					&m.WantsWhitepaper); err != nil {
					rows.Close()
					return err
				}
				mails = append(mails, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim mail: %w", err)
	}
	slices.SortFunc(mails, func(a, b QueuedMail) int { return cmp.Compare(a.ID, b.ID) })
	return mails, nil
}

// The two halves of ClaimMail; %s is the dialect's SKIP LOCKED clause.
const (
	claimReturning = `id, kind, subscriber_id, to_email, to_name, attempts, created_at,
		(SELECT s.whitepaper_requested FROM subscribers s WHERE s.id = mail_queue.subscriber_id)`
	claimExpired = `UPDATE mail_queue SET attempts = attempts + 1, locked_by = ?, locked_until = ?
		WHERE id IN (SELECT id FROM mail_queue WHERE status = 'sending' AND locked_until <= ?
			ORDER BY locked_until, id LIMIT ?%s)
		RETURNING ` + claimReturning
	claimDue = `UPDATE mail_queue SET status = 'sending', attempts = attempts + 1, locked_by = ?, locked_until = ?
		WHERE id IN (SELECT id FROM mail_queue WHERE status = 'queued' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT ?%s)
		RETURNING ` + claimReturning
)

// MarkMailSent records that email id was accepted by the mail service.
// Like RetryMail and FailMail it applies only while the email is still
// leased (status sending) and returns ErrConflict otherwise, so a worker
// that lost its lease cannot overwrite what happened since.
func (s *Store) MarkMailSent(ctx context.Context, id int64, messageID string, now time.Time) error {
	return s.finishMail(ctx, id, "mark sent",
		`UPDATE mail_queue SET status = 'sent', message_id = ?, sent_at = ?, locked_until = NULL, last_error = ''
		WHERE id = ? AND status = 'sending'`,
		sanitize(messageID, maxMessageID), dbTime(norm(now)), id)
}

// SentMail is one delivered email and the provider's id for it.
type SentMail struct {
	ID        int64
	MessageID string
}

// markSentChunk bounds the rows of one statement (SQLite caps parameters).
const markSentChunk = 500

// MarkMailsSent records many delivered emails in one statement per
// markSentChunk, so a busy worker costs the database one write per batch
// instead of one per email. Like MarkMailSent it leaves alone an email no
// longer leased (status sending); it returns how many it marked.
func (s *Store) MarkMailsSent(ctx context.Context, sent []SentMail, now time.Time) (int, error) {
	now = norm(now)
	marked := 0
	for chunk := range slices.Chunk(sent, markSentChunk) {
		var q strings.Builder
		args := make([]any, 0, 2*len(chunk)+1)
		q.WriteString("WITH v (id, message_id) AS (VALUES ")
		for i, m := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT))")
			args = append(args, m.ID, sanitize(m.MessageID, maxMessageID))
		}
		q.WriteString(`) UPDATE mail_queue SET status = 'sent', message_id = v.message_id, sent_at = ?,
			locked_until = NULL, last_error = '' FROM v WHERE mail_queue.id = v.id AND mail_queue.status = 'sending'`)
		args = append(args, dbTime(now))
		var n int64
		err := s.tx(ctx, func(t *txn) error {
			var err error
			n, err = affected(t.exec(q.String(), args...))
			return err
		})
		if err != nil {
			return marked, fmt.Errorf("store: mark %d emails sent: %w", len(chunk), err)
		}
		marked += int(n)
	}
	return marked, nil
}

// RetryMail puts email id back in the queue, due at nextAttempt.
func (s *Store) RetryMail(ctx context.Context, id int64, nextAttempt time.Time, errMsg string) error {
	return s.finishMail(ctx, id, "retry",
		`UPDATE mail_queue SET status = 'queued', next_attempt_at = ?, last_error = ?, locked_until = NULL
		WHERE id = ? AND status = 'sending'`,
		dbTime(norm(nextAttempt)), sanitize(errMsg, maxErrorLen), id)
}

// FailMail gives up on email id.
func (s *Store) FailMail(ctx context.Context, id int64, errMsg string, now time.Time) error {
	return s.finishMail(ctx, id, "fail",
		`UPDATE mail_queue SET status = 'failed', last_error = ?, failed_at = ?, locked_until = NULL
		WHERE id = ? AND status = 'sending'`,
		sanitize(errMsg, maxErrorLen), dbTime(norm(now)), id)
}

func (s *Store) finishMail(ctx context.Context, id int64, what, q string, args ...any) error {
	err := s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec(q, args...))
		if err != nil || n == 1 {
			return err
		}
		var status MailStatus
		err = t.queryRow("SELECT status FROM mail_queue WHERE id = ?", id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: email %d is %s, not sending", ErrConflict, id, status)
	})
	if err != nil {
		return fmt.Errorf("store: %s email %d: %w", what, id, err)
	}
	return nil
}

// NextMailDue returns when the earliest queued email is due or the earliest
// lease runs out, so a worker can sleep until then; ok is false when there
// is nothing to wait for.
func (s *Store) NextMailDue(ctx context.Context) (time.Time, bool, error) {
	var due, lease sql.NullInt64
	err := s.queryRow(ctx, `SELECT
			(SELECT MIN(next_attempt_at) FROM mail_queue WHERE status = 'queued'),
			(SELECT MIN(locked_until) FROM mail_queue WHERE status = 'sending')`).Scan(&due, &lease)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: next mail due: %w", err)
	}
	switch {
	case due.Valid && lease.Valid:
		return fromMicros(min(due.Int64, lease.Int64)), true, nil
	case due.Valid:
		return fromMicros(due.Int64), true, nil
	case lease.Valid:
		return fromMicros(lease.Int64), true, nil
	}
	return time.Time{}, false, nil
}
