package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is where a subscriber stands.
type Status string

const (
	StatusPending      Status = "pending"      // signed up, not yet confirmed
	StatusConfirmed    Status = "confirmed"    // receives the newsletter
	StatusUnsubscribed Status = "unsubscribed" // asked to stop; may sign up again
	StatusBounced      Status = "bounced"      // the address does not accept mail
	StatusComplained   Status = "complained"   // marked us as spam: never mailed again
)

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusConfirmed, StatusUnsubscribed, StatusBounced, StatusComplained:
		return true
	}
	return false
}

// Statuses lists every status, in a stable order.
func Statuses() []Status {
	return []Status{StatusPending, StatusConfirmed, StatusUnsubscribed, StatusBounced, StatusComplained}
}

// Consent is the evidence of a signup: when, under which wording of the
// consent text, on which page and from which address.
type Consent struct {
	At      time.Time `json:"at,omitzero"`
	Version string    `json:"version"`
	Source  string    `json:"source"`
	IP      string    `json:"ip"`
}

// Subscriber is one address. Times that never happened are zero.
type Subscriber struct {
	ID                  int64     `json:"id"`
	Email               string    `json:"email"`
	Name                string    `json:"name"`
	Status              Status    `json:"status"`
	WhitepaperRequested bool      `json:"whitepaper_requested"`
	Consent             Consent   `json:"consent"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	ConfirmedAt         time.Time `json:"confirmed_at,omitzero"`
	UnsubscribedAt      time.Time `json:"unsubscribed_at,omitzero"`
	BouncedAt           time.Time `json:"bounced_at,omitzero"`
	ComplainedAt        time.Time `json:"complained_at,omitzero"`
	LastConfirmationAt  time.Time `json:"last_confirmation_at,omitzero"`
	LastWhitepaperAt    time.Time `json:"last_whitepaper_at,omitzero"`
	// PendingSince is the first signup of the current pending period: the
	// purge of unconfirmed signups counts from it.
	PendingSince time.Time `json:"pending_since,omitzero"`
	// ConfirmUserAgent is the consent evidence of the confirming request
	// (its time is ConfirmedAt).
	ConfirmUserAgent string `json:"confirm_user_agent,omitempty"`
	// Frequency is whether the subscriber gets each guide or the digest.
	Frequency Frequency `json:"frequency"`
	// TopicsOff are the topics the subscriber turned off; a topic added
	// to the site later reaches them (see Topics).
	TopicsOff []string `json:"topics_off,omitempty"`
	// LinkKey is the random key that the row's emailed links carry; not
	// personal data, and not shown.
	LinkKey string `json:"-"`
}

// Link names the subscriber an emailed link acts on: the row's id and its
// random key, so that no link can act on a row that is not the one it was
// sent for (after a restore, or an id handed out again). Legacy links
// (unsubscribe links signed before rows had keys) carry the id alone.
type Link struct {
	ID     int64
	Key    string
	Legacy bool
}

// Link is the reference its emailed links carry.
func (s Subscriber) Link() Link { return Link{ID: s.ID, Key: s.LinkKey} }

func (l Link) matches(sub Subscriber) bool {
	if l.Legacy {
		return true
	}
	return l.Key != "" && subtle.ConstantTimeCompare([]byte(l.Key), []byte(sub.LinkKey)) == 1
}

const subscriberCols = `id, email, name, status, whitepaper_requested,
	consent_at, consent_version, consent_source, consent_ip,
	created_at, updated_at, confirmed_at, unsubscribed_at, bounced_at, complained_at,
	last_confirmation_at, last_whitepaper_at, pending_since, confirm_user_agent, link_key, frequency, topics_off`

type scanner interface{ Scan(dest ...any) error }

func scanSubscriber(r scanner) (Subscriber, error) {
	var s Subscriber
	var topicsOff string
	err := r.Scan(&s.ID, &s.Email, &s.Name, &s.Status, &s.WhitepaperRequested,
		scanTime(&s.Consent.At), &s.Consent.Version, &s.Consent.Source, &s.Consent.IP,
		scanTime(&s.CreatedAt), scanTime(&s.UpdatedAt), scanTime(&s.ConfirmedAt),
		scanTime(&s.UnsubscribedAt), scanTime(&s.BouncedAt), scanTime(&s.ComplainedAt),
		scanTime(&s.LastConfirmationAt), scanTime(&s.LastWhitepaperAt), scanTime(&s.PendingSince),
		&s.ConfirmUserAgent, &s.LinkKey, &s.Frequency, &topicsOff)
	s.TopicsOff = splitTopics(topicsOff)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	return s, err
}

// Event types recorded in subscriber_events.
const (
	EventSignup             = "signup"
	EventConfirmationQueued = "confirmation_queued"
	EventConfirmed          = "confirmed"
	EventWhitepaperQueued   = "whitepaper_queued"
	EventWelcomeQueued      = "welcome_queued"
	EventPreferences        = "preferences"
	EventUnsubscribed       = "unsubscribed"
	EventBounced            = "bounced"
	EventComplained         = "complained"
	EventImported           = "imported"
	EventResubscribed       = "resubscribed"
)

type event struct{ typ, detail string }

// Prebuilt multi-row inserts for 1…3 events.
var eventInserts = func() [4]string {
	var q [4]string
	for n := 1; n <= 3; n++ {
		q[n] = "INSERT INTO subscriber_events (subscriber_id, at, type, detail) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")
	}
	return q
}()

func addEvents(t *txn, id int64, now time.Time, evs ...event) error {
	if len(evs) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(evs))
	for _, e := range evs {
		args = append(args, id, dbTime(now), e.typ, e.detail)
	}
	if _, err := t.exec(eventInserts[len(evs)], args...); err != nil {
		return fmt.Errorf("record %s: %w", evs[0].typ, err)
	}
	return nil
}

func consentDetail(c Consent) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Unsubscribe stops all mail to subscriber id and cancels its queued emails.
// changed is false when it was already unsubscribed or complained.
func (s *Store) Unsubscribe(ctx context.Context, id int64, reason string, now time.Time) (Subscriber, bool, error) {
	// The operator's (and the tests') way: by id, no key to check.
	return s.UnsubscribeLink(ctx, Link{ID: id, Legacy: true}, reason, now)
}

// UnsubscribeLink is Unsubscribe for an emailed link: a link whose key is
// not the row's acts on nobody (ErrNotFound). It counts for no campaign
// (UnsubscribeLinkFrom does).
func (s *Store) UnsubscribeLink(ctx context.Context, link Link, reason string, now time.Time) (Subscriber, bool, error) {
	return s.UnsubscribeLinkFrom(ctx, link, 0, reason, now)
}

// lockByLink reads the subscriber an emailed link names, locked until the
// transaction ends; ErrNotFound when there is none or the key is not the
// row's.
func lockByLink(t *txn, link Link) (Subscriber, error) {
	sub, err := scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE id = ?"+t.d.forUpdate, link.ID))
	if err == nil && !link.matches(sub) {
		err = fmt.Errorf("link key does not match: %w", ErrNotFound)
	}
	return sub, err
}

// SetStatusByEmail applies what Mailgun reports about an address: bounced,
// complained or unsubscribed. A complaint is final: nothing moves a
// complained subscriber to another status. found is false for an address
// the store does not know.
func (s *Store) SetStatusByEmail(ctx context.Context, email string, status Status, reason string, now time.Time) (found bool, err error) {
	if !webhookStatus(status) {
		return false, fmt.Errorf("%w: status %q cannot be set by a webhook", ErrInvalidInput, status)
	}
	_, key, err := parseEmail(email)
	if err != nil {
		return false, err
	}
	now = norm(now)
	reason = sanitize(reason, maxReasonLen)
	err = s.tx(ctx, func(t *txn) error {
		found, err = setStatusByKey(t, key, status, reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: set status of %s: %w", email, err)
	}
	return found, nil
}

// webhookStatus reports whether a mail provider's event may set status.
func webhookStatus(status Status) bool {
	switch status {
	case StatusBounced, StatusComplained, StatusUnsubscribed:
		return true
	}
	return false
}

// setStatusByKey sets the status of the subscriber whose email_key is key,
// if there is one.
func setStatusByKey(t *txn, key string, status Status, reason string, now time.Time) (bool, error) {
	sub, err := scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?"+t.d.forUpdate, key))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = setStatus(t, &sub, status, reason, now)
	return true, err
}

// setStatus moves sub to one of the suppressing statuses, stamps the time,
// cancels its queued emails and records the event.
func setStatus(t *txn, sub *Subscriber, status Status, reason string, now time.Time) (bool, error) {
	if sub.Status == status || sub.Status == StatusComplained {
		return false, nil
	}
	var col, typ string
	switch status {
	case StatusUnsubscribed:
		col, typ, sub.UnsubscribedAt = "unsubscribed_at", EventUnsubscribed, now
	case StatusBounced:
		col, typ, sub.BouncedAt = "bounced_at", EventBounced, now
	case StatusComplained:
		col, typ, sub.ComplainedAt = "complained_at", EventComplained, now
	default:
		return false, fmt.Errorf("%w: cannot set status %q", ErrInvalidInput, status)
	}
	sub.Status, sub.UpdatedAt = status, now
	if _, err := t.exec("UPDATE subscribers SET status = ?, "+col+" = ?, updated_at = ? WHERE id = ?",
		string(status), dbTime(now), dbTime(now), sub.ID); err != nil {
		return false, err
	}
	// Emails being sent right now are left to finish: a worker's report of
	// what it did must not be lost.
	if _, err := t.exec("UPDATE mail_queue SET status = 'cancelled' WHERE subscriber_id = ? AND status = 'queued'", sub.ID); err != nil {
		return false, err
	}
	return true, addEvents(t, sub.ID, now, event{typ, reason})
}

// GetByLink returns the subscriber an emailed link names, or ErrNotFound
// when there is none or the link's key is not the row's.
func (s *Store) GetByLink(ctx context.Context, link Link) (Subscriber, error) {
	sub, err := s.Get(ctx, link.ID)
	if err != nil {
		return Subscriber{}, err
	}
	if !link.matches(sub) {
		return Subscriber{}, fmt.Errorf("store: subscriber %d: link key does not match: %w", link.ID, ErrNotFound)
	}
	return sub, nil
}

// Get returns subscriber id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Subscriber, error) {
	sub, err := scanSubscriber(s.queryRow(ctx, "SELECT "+subscriberCols+" FROM subscribers WHERE id = ?", id))
	if err != nil {
		return Subscriber{}, fmt.Errorf("store: subscriber %d: %w", id, err)
	}
	return sub, nil
}

// GetByEmail returns the subscriber with this address in any letter case,
// or ErrNotFound.
func (s *Store) GetByEmail(ctx context.Context, email string) (Subscriber, error) {
	_, key, err := parseEmail(email)
	if err != nil {
		return Subscriber{}, err
	}
	sub, err := scanSubscriber(s.queryRow(ctx, "SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?", key))
	if err != nil {
		return Subscriber{}, fmt.Errorf("store: subscriber %s: %w", email, err)
	}
	return sub, nil
}

// ListFilter selects subscribers; the zero value selects all.
type ListFilter struct {
	Status Status
}

// ListSubscribers calls fn for each matching subscriber in id order, reading
// rows as it goes. An error from fn stops the listing and is returned.
func (s *Store) ListSubscribers(ctx context.Context, f ListFilter, fn func(Subscriber) error) error {
	q, args := "SELECT "+subscriberCols+" FROM subscribers ORDER BY id", []any(nil)
	if f.Status != "" {
		if !f.Status.Valid() {
			return fmt.Errorf("%w: status %q", ErrInvalidInput, f.Status)
		}
		q, args = "SELECT "+subscriberCols+" FROM subscribers WHERE status = ? ORDER BY id", []any{string(f.Status)}
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: list subscribers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return fmt.Errorf("store: list subscribers: %w", err)
		}
		if err := fn(sub); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list subscribers: %w", err)
	}
	return nil
}

// Stats is a summary for the operator.
type Stats struct {
	Subscribers     map[Status]int `json:"subscribers"`
	MailQueued      int            `json:"mail_queued"`
	MailSending     int            `json:"mail_sending"`
	MailFailed      int            `json:"mail_failed"`
	Campaigns       int            `json:"campaigns"`
	CampaignsActive int            `json:"campaigns_active"` // pending or sending
	Erased          int            `json:"erased"`
	// Held counts emails a limit held back, by reason (Held*), in the
	// last 30 days (PurgeUnconfirmed forgets older ones).
	Held map[string]int `json:"held"`
	// Digest: confirmed subscribers who chose the digest; DigestWaiting:
	// confirmed subscribers with guides waiting for their next digest.
	Digest        int `json:"digest"`
	DigestWaiting int `json:"digest_waiting"`
}

// Stats counts subscribers per status, emails waiting or failed, campaigns.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Subscribers: make(map[Status]int, 5), Held: map[string]int{}}
	for _, status := range Statuses() {
		st.Subscribers[status] = 0
	}
	err := s.readTx(ctx, func(t *txn) error {
		rows, err := t.query("SELECT status, COUNT(*) FROM subscribers GROUP BY status")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var status Status
			var n int
			if err := rows.Scan(&status, &n); err != nil {
				return err
			}
			st.Subscribers[status] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		held, err := t.query("SELECT reason, COUNT(*) FROM mail_held GROUP BY reason")
		if err != nil {
			return err
		}
		defer held.Close()
		for held.Next() {
			var reason string
			var n int
			if err := held.Scan(&reason, &n); err != nil {
				return err
			}
			st.Held[reason] = n
		}
		if err := held.Err(); err != nil {
			return err
		}
		return t.queryRow(`SELECT
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'queued'),
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'sending'),
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'failed'),
				(SELECT COUNT(*) FROM campaigns),
				(SELECT COUNT(*) FROM campaigns WHERE state IN ('pending', 'sending')),
				(SELECT COUNT(*) FROM erased),
				(SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed' AND frequency = 'digest'),
				(SELECT COUNT(DISTINCT d.subscriber_id) FROM digest_items d JOIN subscribers s ON s.id = d.subscriber_id
					WHERE s.status = 'confirmed')`).
			Scan(&st.MailQueued, &st.MailSending, &st.MailFailed, &st.Campaigns, &st.CampaignsActive, &st.Erased,
				&st.Digest, &st.DigestWaiting)
	})
	if err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}
