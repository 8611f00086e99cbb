package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Event is one entry of a subscriber's history.
type Event struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	Detail string    `json:"detail,omitempty"`
}

// Mail is a transactional email as the queue holds it.
type Mail struct {
	ID            int64      `json:"id"`
	Kind          MailKind   `json:"kind"`
	Status        MailStatus `json:"status"`
	To            string     `json:"to"`
	Name          string     `json:"name,omitempty"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        time.Time  `json:"sent_at,omitzero"`
	FailedAt      time.Time  `json:"failed_at,omitzero"`
	LastError     string     `json:"last_error,omitempty"`
	MessageID     string     `json:"message_id,omitempty"`
}

// Delivery is one campaign a subscriber was a recipient of.
type Delivery struct {
	CampaignID    int64          `json:"campaign_id"`
	CampaignSlug  string         `json:"campaign_slug"`
	CampaignTitle string         `json:"campaign_title"`
	Email         string         `json:"email"`
	State         RecipientState `json:"state"`
	SentAt        time.Time      `json:"sent_at,omitzero"`
}

// PersonData is everything the store holds on one person, for a data
// subject access request (RODO/GDPR art. 15).
type PersonData struct {
	Email      string      `json:"email"`
	Subscriber *Subscriber `json:"subscriber"` // nil: not a subscriber
	Events     []Event     `json:"events"`
	Mails      []Mail      `json:"mails"`
	Deliveries []Delivery  `json:"deliveries"`
	// Erased is true when the address's hash is on the erasure list.
	Erased bool `json:"erased"`
}

// Person collects what is held on the owner of email, read in one
// consistent snapshot.
func (s *Store) Person(ctx context.Context, email string) (PersonData, error) {
	email, key, err := parseEmail(email)
	if err != nil {
		return PersonData{}, err
	}
	var p PersonData
	err = s.readTx(ctx, func(t *txn) error {
		p = PersonData{Email: email, Events: []Event{}, Mails: []Mail{}, Deliveries: []Delivery{}}
		var one int
		q, args := s.erasedCheck(email)
		err := t.queryRow(q, args...).Scan(&one)
		switch {
		case err == nil:
			p.Erased = true
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		sub, err := scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?", key))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		p.Subscriber = &sub
		if err := collect(t, &p.Events, func(r scanner) (Event, error) {
			var e Event
			return e, r.Scan(&e.ID, scanTime(&e.At), &e.Type, &e.Detail)
		}, "SELECT id, at, type, detail FROM subscriber_events WHERE subscriber_id = ? ORDER BY id", sub.ID); err != nil {
			return err
		}
		if err := collect(t, &p.Mails, func(r scanner) (Mail, error) {
			var m Mail
			return m, r.Scan(&m.ID, &m.Kind, &m.Status, &m.To, &m.Name, &m.Attempts, scanTime(&m.NextAttemptAt),
				scanTime(&m.CreatedAt), scanTime(&m.SentAt), scanTime(&m.FailedAt), &m.LastError, &m.MessageID)
		}, `SELECT id, kind, status, to_email, to_name, attempts, next_attempt_at, created_at, sent_at, failed_at,
				last_error, message_id FROM mail_queue WHERE subscriber_id = ? ORDER BY id`, sub.ID); err != nil {
			return err
		}
		return collect(t, &p.Deliveries, func(r scanner) (Delivery, error) {
			var d Delivery
			return d, r.Scan(&d.CampaignID, &d.CampaignSlug, &d.CampaignTitle, &d.Email, &d.State, scanTime(&d.SentAt))
		}, `SELECT c.id, c.slug, c.title, r.email, `+recipientStateSQL+`, `+recipientSentAtSQL+`
			FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
			JOIN campaign_batches b ON b.campaign_id = r.campaign_id AND b.seq = r.batch_seq
			WHERE r.subscriber_id = ? ORDER BY c.id`, sub.ID)
	})
	if err != nil {
		return PersonData{}, fmt.Errorf("store: person data: %w", err)
	}
	return p, nil
}

func collect[T any](t *txn, dst *[]T, scan func(scanner) (T, error), q string, args ...any) error {
	rows, err := t.query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		*dst = append(*dst, v)
	}
	return rows.Err()
}

// Erase deletes everything held on the owner of email (RODO/GDPR art. 17):
// the subscriber, their history and queued emails. In the campaign ledger
// their address and name are blanked but the rows stay, so the campaigns'
// counts do not change. A keyed hash of the mailbox goes on the erasure
// list (erasure.go) so that a later import does not bring it back; signing
// up again by themselves remains possible. found is false when there was
// no subscriber (the address is put on the list all the same).
func (s *Store) Erase(ctx context.Context, email string, now time.Time) (found bool, err error) {
	email, key, err := parseEmail(email)
	if err != nil {
		return false, err
	}
	tomb, err := s.tombstone(email)
	if err != nil {
		return false, err
	}
	now = norm(now)
	err = s.tx(ctx, func(t *txn) error {
		var id int64
		err := t.queryRow("SELECT id FROM subscribers WHERE email_key = ?"+t.d.forUpdate, key).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			found = false
		case err != nil:
			return err
		default:
			found = true
			if err := deleteSubscribers(t, "id = ?", id); err != nil {
				return err
			}
		}
		// The week's confirmation count of the mailbox goes too.
		if _, err := t.exec("DELETE FROM confirmation_sends WHERE mailbox = ?", mailboxHash(email)); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO erased (email_hash, erased_at) VALUES (?, ?)
			ON CONFLICT (email_hash) DO UPDATE SET erased_at = excluded.erased_at`, tomb, dbTime(now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: erase: %w", err)
	}
	return found, nil
}

// deleteSubscribers deletes the subscribers matching where (a condition on
// the subscribers table with its arguments) with their events and emails,
// and blanks them in the campaign ledger. It does not rely on ON DELETE
// CASCADE, so erasure never depends on a connection setting.
func deleteSubscribers(t *txn, where string, args ...any) (err error) {
	ids := "SELECT id FROM subscribers WHERE " + where
	for _, q := range []string{
		"UPDATE campaign_recipients SET email = '', name = '' WHERE subscriber_id IN (" + ids + ")",
		"DELETE FROM subscriber_events WHERE subscriber_id IN (" + ids + ")",
		"DELETE FROM mail_queue WHERE subscriber_id IN (" + ids + ")",
		"DELETE FROM digest_items WHERE subscriber_id IN (" + ids + ")",
	} {
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
	}
	_, err = t.exec("DELETE FROM subscribers WHERE "+where, args...)
	return err
}

// PurgeUnconfirmed deletes subscribers still pending whose first signup of
// the pending period was before olderThan (the privacy policy promises 30
// days), with everything held on them. It returns how many were deleted.
// Signing up again does not restart the period: otherwise anyone could
// keep an address they do not own on the list forever. It also forgets
// the confirmation counts that no limit reads any more.
func (s *Store) PurgeUnconfirmed(ctx context.Context, olderThan time.Time) (int, error) {
	var n int64
	const stale = "status = 'pending' AND COALESCE(pending_since, created_at) < ?"
	err := s.tx(ctx, func(t *txn) error {
		if err := pruneConfirmationSends(t, s.limits, time.Now()); err != nil {
			return err
		}
		if err := t.queryRow("SELECT COUNT(*) FROM subscribers WHERE "+stale, dbTime(norm(olderThan))).Scan(&n); err != nil || n == 0 {
			return err
		}
		return deleteSubscribers(t, stale, dbTime(norm(olderThan)))
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge unconfirmed: %w", err)
	}
	return int(n), nil
}

// WithdrawnRetentionCutoff is the start of the oldest year whose
// withdrawals are still kept at now: consent evidence is kept for the
// 6-year limitation period (art. 118 k.c.), which ends on the last day of
// a calendar year, so a withdrawal in 2027 is deleted after 31 December
// 2033.
func WithdrawnRetentionCutoff(now time.Time) time.Time {
	return time.Date(now.UTC().Year()-6, time.January, 1, 0, 0, 0, 0, time.UTC)
}

// PurgeWithdrawn deletes, with everything held on them, the subscribers
// who unsubscribed, bounced or complained before cutoff.
func (s *Store) PurgeWithdrawn(ctx context.Context, cutoff time.Time) (int, error) {
	const gone = `(status = 'unsubscribed' AND unsubscribed_at < ?) OR (status = 'bounced' AND bounced_at < ?)
		OR (status = 'complained' AND complained_at < ?)`
	c := dbTime(norm(cutoff))
	var n int64
	err := s.tx(ctx, func(t *txn) error {
		if err := t.queryRow("SELECT COUNT(*) FROM subscribers WHERE "+gone, c, c, c).Scan(&n); err != nil || n == 0 {
			return err
		}
		return deleteSubscribers(t, gone, c, c, c)
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge withdrawn: %w", err)
	}
	return int(n), nil
}
