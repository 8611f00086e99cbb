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
	MailWelcome    MailKind = "welcome"    // after confirming; carries the download link if asked for
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
	// LinkKey is the subscriber row's key, for the email's signed links.
	LinkKey   string
	Attempts  int // including the current one
	CreatedAt time.Time
	// WantsWhitepaper: a confirmation mentions the whitepaper (the
	// subscriber asked for it, as it stands when claimed); a welcome
	// carries its download link (asked for when it was queued).
	WantsWhitepaper bool
	// Claim is the token of the claim that leased this email, stored as
	// its locked_by: only that claim may renew the lease or record an
	// outcome, so a worker whose lease ran out cannot undo its successor's.
	Claim string
}

// queueMail queues kind for sub, due at once, addressed as sub is now. A
// welcome email carries the whitepaper link if sub asked for it by now.
func queueMail(t *txn, kind MailKind, sub Subscriber, now time.Time) error {
	_, err := t.exec(`INSERT INTO mail_queue (kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at, created_at, whitepaper)
		VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)`,
		string(kind), sub.ID, sub.Email, "", dbTime(now), dbTime(now), // no name: see emails.Greeting
		kind == MailWelcome && sub.WhitepaperRequested)
	if err != nil {
		return fmt.Errorf("queue %s email: %w", kind, err)
	}
	return nil
}

// ClaimMail takes up to limit emails that are due, or whose previous
// claim's lease ran out, and leases them until now+lease under a claim token
// of their own (worker's name and a random id, in QueuedMail.Claim). On
// PostgreSQL several processes may claim at once and never get the same row.
func (s *Store) ClaimMail(ctx context.Context, worker string, limit int, lease time.Duration, now time.Time) ([]QueuedMail, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claim limit %d and lease %s must be positive", ErrInvalidInput, limit, lease)
	}
	// A fresh token per claim: the worker's name alone would let a later
	// claim of the same worker (or of a restarted process reusing the
	// name) pass for this one.
	claim := sanitize(worker, maxHolderLen-33) + ":" + randomToken()
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
			rows, err := t.query(fmt.Sprintf(q, t.d.skipLocked), claim, dbTime(now.Add(lease)), dbTime(now), limit-len(mails))
			if err != nil {
				return err
			}
			for rows.Next() {
				m := QueuedMail{Claim: claim}
				if err := rows.Scan(&m.ID, &m.Kind, &m.SubscriberID, &m.To, &m.Name, &m.Attempts, scanTime(&m.CreatedAt),
					&m.WantsWhitepaper, &m.LinkKey); err != nil {
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
		CASE WHEN kind = 'welcome' THEN whitepaper
			ELSE (SELECT s.whitepaper_requested FROM subscribers s WHERE s.id = mail_queue.subscriber_id) END,
		(SELECT s.link_key FROM subscribers s WHERE s.id = mail_queue.subscriber_id)`
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
// Like every outcome below it applies only while claim still holds the
// email (status sending, locked_by the claim's token) and returns
// ErrConflict otherwise, so a worker that lost its lease cannot overwrite
// what happened since.
func (s *Store) MarkMailSent(ctx context.Context, claim string, id int64, messageID string, now time.Time) error {
	return s.finishMail(ctx, claim, id, "mark sent",
		`UPDATE mail_queue SET status = 'sent', message_id = ?, sent_at = ?, locked_until = NULL, last_error = ''
		WHERE id = ? AND status = 'sending' AND locked_by = ?`,
		sanitize(messageID, maxMessageID), dbTime(norm(now)), id, claim)
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
// instead of one per email. Like MarkMailSent it leaves alone an email
// claim no longer holds; it returns how many it marked.
func (s *Store) MarkMailsSent(ctx context.Context, claim string, sent []SentMail, now time.Time) (int, error) {
	now = norm(now)
	marked := 0
	for chunk := range slices.Chunk(sent, markSentChunk) {
		var q strings.Builder
		args := make([]any, 0, 2*len(chunk)+2)
		q.WriteString("WITH v (id, message_id) AS (VALUES ")
		for i, m := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT))")
			args = append(args, m.ID, sanitize(m.MessageID, maxMessageID))
		}
		q.WriteString(`) UPDATE mail_queue SET status = 'sent', message_id = v.message_id, sent_at = ?,
			locked_until = NULL, last_error = '' FROM v
			WHERE mail_queue.id = v.id AND mail_queue.status = 'sending' AND mail_queue.locked_by = ?`)
		args = append(args, dbTime(now), claim)
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

// RenewMailLease extends to now+lease the lease of every email claim
// still holds and returns their ids. Finished emails are no longer held
// (status is not sending), nor are those another claim took over after the
// lease ran out: the caller must not send those.
func (s *Store) RenewMailLease(ctx context.Context, claim string, lease time.Duration, now time.Time) ([]int64, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("%w: lease %s must be positive", ErrInvalidInput, lease)
	}
	var held []int64
	err := s.tx(ctx, func(t *txn) error {
		held = held[:0]
		// status = 'sending' lets both databases walk the small partial
		// index of leased rows instead of the whole queue's history.
		rows, err := t.query(`UPDATE mail_queue SET locked_until = ? WHERE status = 'sending' AND locked_by = ? RETURNING id`,
			dbTime(norm(now).Add(lease)), claim)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			held = append(held, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: renew mail lease: %w", err)
	}
	slices.Sort(held)
	return held, nil
}

// ReleaseMail hands back those of ids that claim holds and has not tried
// to send (a worker shutting down): they are due again at once, for any
// worker, and the claim does not count as an attempt. It returns how many
// it released.
func (s *Store) ReleaseMail(ctx context.Context, claim string, ids []int64, now time.Time) (int, error) {
	var released int
	err := s.tx(ctx, func(t *txn) error {
		released = 0
		// One fixed statement per email: rare (shutdown), and it keeps the
		// writer's statement cache free of one-off IN lists.
		for _, id := range ids {
			n, err := affected(t.exec(`UPDATE mail_queue SET status = 'queued', next_attempt_at = ?, locked_until = NULL,
				attempts = attempts - 1 WHERE id = ? AND status = 'sending' AND locked_by = ?`, dbTime(norm(now)), id, claim))
			if err != nil {
				return err
			}
			released += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: release %d emails: %w", len(ids), err)
	}
	return released, nil
}

// RetryMail puts email id back in the queue, due at nextAttempt.
func (s *Store) RetryMail(ctx context.Context, claim string, id int64, nextAttempt time.Time, errMsg string) error {
	return s.finishMail(ctx, claim, id, "retry",
		`UPDATE mail_queue SET status = 'queued', next_attempt_at = ?, last_error = ?, locked_until = NULL
		WHERE id = ? AND status = 'sending' AND locked_by = ?`,
		dbTime(norm(nextAttempt)), errorText(errMsg), id, claim)
}

// FailMail gives up on email id.
func (s *Store) FailMail(ctx context.Context, claim string, id int64, errMsg string, now time.Time) error {
	return s.finishMail(ctx, claim, id, "fail",
		`UPDATE mail_queue SET status = 'failed', last_error = ?, failed_at = ?, locked_until = NULL
		WHERE id = ? AND status = 'sending' AND locked_by = ?`,
		errorText(errMsg), dbTime(norm(now)), id, claim)
}

func (s *Store) finishMail(ctx context.Context, claim string, id int64, what, q string, args ...any) error {
	err := s.tx(ctx, func(t *txn) error {
		n, err := affected(t.exec(q, args...))
		if err != nil || n == 1 {
			return err
		}
		var status MailStatus
		var by string
		err = t.queryRow("SELECT status, locked_by FROM mail_queue WHERE id = ?", id).Scan(&status, &by)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status == MailSending && by != claim {
			return fmt.Errorf("%w: email %d was taken over by another claim", ErrConflict, id)
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
