package store

import (
	"context"
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
}

// ResendInterval is the least time between two confirmation (or whitepaper)
// emails to one address, so the form cannot be used to flood a mailbox.
const ResendInterval = 10 * time.Minute

const subscriberCols = `id, email, name, status, whitepaper_requested,
	consent_at, consent_version, consent_source, consent_ip,
	created_at, updated_at, confirmed_at, unsubscribed_at, bounced_at, complained_at,
	last_confirmation_at, last_whitepaper_at`

type scanner interface{ Scan(dest ...any) error }

func scanSubscriber(r scanner) (Subscriber, error) {
	var s Subscriber
	err := r.Scan(&s.ID, &s.Email, &s.Name, &s.Status, &s.WhitepaperRequested,
		scanTime(&s.Consent.At), &s.Consent.Version, &s.Consent.Source, &s.Consent.IP,
		scanTime(&s.CreatedAt), scanTime(&s.UpdatedAt), scanTime(&s.ConfirmedAt),
		scanTime(&s.UnsubscribedAt), scanTime(&s.BouncedAt), scanTime(&s.ComplainedAt),
		scanTime(&s.LastConfirmationAt), scanTime(&s.LastWhitepaperAt))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	return s, err
}

// SignupRequest is what the signup form sends.
type SignupRequest struct {
	Email           string
	Name            string
	WantsWhitepaper bool
	Consent         Consent
}

// SignupOutcome says what Subscribe did. The web layer answers readers the
// same way in every case (so the form does not reveal who is subscribed);
// the outcome is for logs and tests.
type SignupOutcome string

const (
	SignupCreated          SignupOutcome = "created"           // new address; confirmation queued
	SignupResent           SignupOutcome = "resent"            // still pending; a new confirmation queued
	SignupThrottled        SignupOutcome = "throttled"         // still pending; last confirmation too recent
	SignupResubscribed     SignupOutcome = "resubscribed"      // was unsubscribed or bounced; pending again, confirmation queued
	SignupAlreadyConfirmed SignupOutcome = "already_confirmed" // nothing queued
	SignupWhitepaperQueued SignupOutcome = "whitepaper_queued" // already confirmed; the whitepaper queued
	SignupSuppressed       SignupOutcome = "suppressed"        // complained; nothing changes
)

// ConfirmationQueued reports whether a confirmation email was queued.
func (o SignupOutcome) ConfirmationQueued() bool {
	return o == SignupCreated || o == SignupResent || o == SignupResubscribed
}

// Event types recorded in subscriber_events.
const (
	EventSignup             = "signup"
	EventConfirmationQueued = "confirmation_queued"
	EventConfirmed          = "confirmed"
	EventWhitepaperQueued   = "whitepaper_queued"
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

// Subscribe records a signup and, in the same transaction, queues the
// confirmation email when one is due. The rules:
//   - new address: pending, confirmation queued;
//   - pending: a new confirmation only if the last was queued at least
//     ResendInterval ago, else Throttled; name, consent and the whitepaper
//     wish are refreshed either way;
//   - confirmed: stays so, no confirmation; the whitepaper is queued if
//     asked for (at most once per ResendInterval);
//   - unsubscribed or bounced: pending again with the new consent,
//     confirmation queued;
//   - complained: nothing changes (Suppressed).
//
// An erased address may sign up again: that is new consent.
func (s *Store) Subscribe(ctx context.Context, req SignupRequest, now time.Time) (Subscriber, SignupOutcome, error) {
	now = norm(now)
	email, key, err := parseEmail(req.Email)
	if err != nil {
		return Subscriber{}, "", err
	}
	name, err := cleanName(req.Name)
	if err != nil {
		return Subscriber{}, "", err
	}
	consent, err := cleanConsent(req.Consent, now)
	if err != nil {
		return Subscriber{}, "", err
	}
	if s.d.name == dialectPostgres {
		// The common case, a new address, in one statement and one round
		// trip; an address already there takes the transaction below.
		sub, ok, err := s.subscribeNewPostgres(ctx, email, key, name, req.WantsWhitepaper, consent, now)
		if err != nil {
			return Subscriber{}, "", fmt.Errorf("store: subscribe: %w", err)
		}
		if ok {
			return sub, SignupCreated, nil
		}
	}
	var (
		sub Subscriber
		out SignupOutcome
	)
	err = s.tx(ctx, func(t *txn) error {
		var err error
		sub, out, err = subscribeTx(t, email, key, name, req.WantsWhitepaper, consent, now)
		return err
	})
	if err != nil {
		return Subscriber{}, "", fmt.Errorf("store: subscribe: %w", err)
	}
	return sub, out, nil
}

// subscribeNewPostgresQuery inserts a new subscriber, queues the
// confirmation and records both events in one atomic statement (data-
// modifying CTEs, which SQLite lacks); it returns no row when the address
// exists. It does what subscribeTx does for a new address.
const subscribeNewPostgresQuery = `WITH s AS (
		INSERT INTO subscribers (email, email_key, name, status, whitepaper_requested,
			consent_at, consent_version, consent_source, consent_ip, created_at, updated_at, last_confirmation_at)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $9, $9)
		ON CONFLICT (email_key) DO NOTHING RETURNING id
	), q AS (
		INSERT INTO mail_queue (kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at, created_at)
		SELECT 'confirm', id, $1, $3, 'queued', 0, $9, $9 FROM s
	), e AS (
		INSERT INTO subscriber_events (subscriber_id, at, type, detail)
		SELECT id, $9, '` + EventSignup + `', $10 FROM s
		UNION ALL SELECT id, $9, '` + EventConfirmationQueued + `', '' FROM s
	)
	SELECT id FROM s`

func (s *Store) subscribeNewPostgres(ctx context.Context, email, key, name string, wantsWP bool, c Consent, now time.Time) (Subscriber, bool, error) {
	if s.closed.Load() {
		return Subscriber{}, false, ErrClosed
	}
	var id int64
	err := s.db.QueryRowContext(ctx, subscribeNewPostgresQuery, email, key, name, wantsWP,
		dbTime(c.At), c.Version, c.Source, c.IP, dbTime(now), consentDetail(c)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, false, nil
	}
	if err != nil {
		return Subscriber{}, false, err
	}
	return Subscriber{ID: id, Email: email, Name: name, Status: StatusPending, WhitepaperRequested: wantsWP,
		Consent: c, CreatedAt: now, UpdatedAt: now, LastConfirmationAt: now}, true, nil
}

func subscribeTx(t *txn, email, key, name string, wantsWP bool, c Consent, now time.Time) (Subscriber, SignupOutcome, error) {
	for range 3 {
		// The common case, a new address, is one statement; a concurrent
		// signup of the same address makes this insert do nothing (on
		// PostgreSQL after waiting for the other transaction), and the
		// existing row is then locked and updated below.
		var id int64
		err := t.queryRow(`INSERT INTO subscribers (email, email_key, name, status, whitepaper_requested,
				consent_at, consent_version, consent_source, consent_ip, created_at, updated_at, last_confirmation_at)
			VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (email_key) DO NOTHING RETURNING id`,
			email, key, name, wantsWP, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), dbTime(now), dbTime(now)).Scan(&id)
		if err == nil {
			sub := Subscriber{ID: id, Email: email, Name: name, Status: StatusPending, WhitepaperRequested: wantsWP,
				Consent: c, CreatedAt: now, UpdatedAt: now, LastConfirmationAt: now}
			if err := queueMail(t, MailConfirm, sub, now); err != nil {
				return Subscriber{}, "", err
			}
			if err := addEvents(t, id, now, event{EventSignup, consentDetail(c)}, event{EventConfirmationQueued, ""}); err != nil {
				return Subscriber{}, "", err
			}
			return sub, SignupCreated, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Subscriber{}, "", fmt.Errorf("insert subscriber: %w", err)
		}
		sub, err := scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?"+t.d.forUpdate, key))
		if errors.Is(err, ErrNotFound) {
			continue // erased between the two statements: try the insert again
		}
		if err != nil {
			return Subscriber{}, "", fmt.Errorf("load subscriber: %w", err)
		}
		return signupExisting(t, sub, email, name, wantsWP, c, now)
	}
	return Subscriber{}, "", fmt.Errorf("%w: subscriber row kept appearing and disappearing", ErrConflict)
}

func signupExisting(t *txn, sub Subscriber, email, name string, wantsWP bool, c Consent, now time.Time) (Subscriber, SignupOutcome, error) {
	if name == "" {
		name = sub.Name // an empty field does not erase the name given before
	}
	switch sub.Status {
	case StatusPending:
		resend := !now.Before(sub.LastConfirmationAt.Add(ResendInterval))
		sub.Email, sub.Name, sub.Consent, sub.UpdatedAt = email, name, c, now
		sub.WhitepaperRequested = sub.WhitepaperRequested || wantsWP
		if resend {
			sub.LastConfirmationAt = now
		}
		if _, err := t.exec(`UPDATE subscribers SET email = ?, name = ?, whitepaper_requested = ?,
				consent_at = ?, consent_version = ?, consent_source = ?, consent_ip = ?,
				updated_at = ?, last_confirmation_at = ? WHERE id = ?`,
			sub.Email, sub.Name, sub.WhitepaperRequested, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), dbTime(sub.LastConfirmationAt), sub.ID); err != nil {
			return Subscriber{}, "", fmt.Errorf("update pending subscriber: %w", err)
		}
		evs := []event{{EventSignup, consentDetail(c)}}
		if !resend {
			return sub, SignupThrottled, addEvents(t, sub.ID, now, evs...)
		}
		if err := queueMail(t, MailConfirm, sub, now); err != nil {
			return Subscriber{}, "", err
		}
		evs = append(evs, event{EventConfirmationQueued, ""})
		return sub, SignupResent, addEvents(t, sub.ID, now, evs...)

	case StatusConfirmed:
		if !wantsWP || now.Before(sub.LastWhitepaperAt.Add(ResendInterval)) {
			return sub, SignupAlreadyConfirmed, nil
		}
		sub.WhitepaperRequested, sub.LastWhitepaperAt, sub.UpdatedAt = true, now, now
		if _, err := t.exec(`UPDATE subscribers SET whitepaper_requested = ?, last_whitepaper_at = ?, updated_at = ?
				WHERE id = ?`, true, dbTime(now), dbTime(now), sub.ID); err != nil {
			return Subscriber{}, "", fmt.Errorf("update confirmed subscriber: %w", err)
		}
		if err := queueMail(t, MailWhitepaper, sub, now); err != nil {
			return Subscriber{}, "", err
		}
		return sub, SignupWhitepaperQueued, addEvents(t, sub.ID, now, event{EventWhitepaperQueued, "signup"})

	case StatusUnsubscribed, StatusBounced:
		// New consent, a fresh start: they must confirm again.
		sub.Email, sub.Name, sub.Consent, sub.UpdatedAt = email, name, c, now
		sub.Status, sub.WhitepaperRequested, sub.ConfirmedAt, sub.LastConfirmationAt = StatusPending, wantsWP, time.Time{}, now
		if _, err := t.exec(`UPDATE subscribers SET status = 'pending', email = ?, name = ?, whitepaper_requested = ?,
				consent_at = ?, consent_version = ?, consent_source = ?, consent_ip = ?,
				confirmed_at = NULL, updated_at = ?, last_confirmation_at = ? WHERE id = ?`,
			sub.Email, sub.Name, wantsWP, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), dbTime(now), sub.ID); err != nil {
			return Subscriber{}, "", fmt.Errorf("resubscribe: %w", err)
		}
		if err := queueMail(t, MailConfirm, sub, now); err != nil {
			return Subscriber{}, "", err
		}
		return sub, SignupResubscribed, addEvents(t, sub.ID, now,
			event{EventResubscribed, consentDetail(c)}, event{EventConfirmationQueued, ""})

	default: // complained
		return sub, SignupSuppressed, nil
	}
}

// ConfirmOutcome says what Confirm did.
type ConfirmOutcome string

const (
	ConfirmDone             ConfirmOutcome = "confirmed"
	ConfirmAlreadyConfirmed ConfirmOutcome = "already_confirmed"
	ConfirmInvalid          ConfirmOutcome = "invalid" // unknown subscriber, wrong status, or a link older than their last unsubscribe/bounce
)

// Confirm confirms subscriber id from a link issued at issuedAt: pending →
// confirmed, the whitepaper queued if it was asked for, other queued
// confirmations cancelled. Confirming twice is harmless. A link issued
// before the subscriber's latest unsubscribe or bounce is refused: that
// consent was withdrawn.
func (s *Store) Confirm(ctx context.Context, id int64, issuedAt, now time.Time) (Subscriber, ConfirmOutcome, error) {
	now = norm(now)
	var (
		sub Subscriber
		out ConfirmOutcome
	)
	err := s.tx(ctx, func(t *txn) error {
		var err error
		sub, err = scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE id = ?"+t.d.forUpdate, id))
		if errors.Is(err, ErrNotFound) {
			sub, out = Subscriber{}, ConfirmInvalid
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case sub.Status == StatusConfirmed:
			out = ConfirmAlreadyConfirmed
			return nil
		case sub.Status != StatusPending, issuedBefore(issuedAt, sub.UnsubscribedAt), issuedBefore(issuedAt, sub.BouncedAt):
			out = ConfirmInvalid
			return nil
		}
		out = ConfirmDone
		sub.Status, sub.ConfirmedAt, sub.UpdatedAt = StatusConfirmed, now, now
		evs := []event{{EventConfirmed, ""}}
		if sub.WhitepaperRequested {
			sub.LastWhitepaperAt = now
			if err := queueMail(t, MailWhitepaper, sub, now); err != nil {
				return err
			}
			evs = append(evs, event{EventWhitepaperQueued, "confirmation"})
		}
		if _, err := t.exec(`UPDATE subscribers SET status = 'confirmed', confirmed_at = ?, updated_at = ?,
				last_whitepaper_at = ? WHERE id = ?`,
			dbTime(now), dbTime(now), dbTime(sub.LastWhitepaperAt), id); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mail_queue SET status = 'cancelled'
				WHERE subscriber_id = ? AND kind = 'confirm' AND status = 'queued'`, id); err != nil {
			return err
		}
		return addEvents(t, id, now, evs...)
	})
	if err != nil {
		return Subscriber{}, "", fmt.Errorf("store: confirm %d: %w", id, err)
	}
	return sub, out, nil
}

// issuedBefore compares at the second, the precision of link tokens, and in
// the link's favour within that second.
func issuedBefore(issued, withdrawn time.Time) bool {
	return !withdrawn.IsZero() && issued.Before(withdrawn.Truncate(time.Second))
}

// Unsubscribe stops all mail to subscriber id and cancels its queued emails.
// changed is false when it was already unsubscribed or complained.
func (s *Store) Unsubscribe(ctx context.Context, id int64, reason string, now time.Time) (Subscriber, bool, error) {
	now = norm(now)
	reason = sanitize(reason, maxReasonLen)
	var (
		sub     Subscriber
		changed bool
	)
	err := s.tx(ctx, func(t *txn) error {
		var err error
		sub, err = scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE id = ?"+t.d.forUpdate, id))
		if err != nil {
			return err
		}
		changed, err = setStatus(t, &sub, StatusUnsubscribed, reason, now)
		return err
	})
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("store: unsubscribe %d: %w", id, err)
	}
	return sub, changed, nil
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
}

// Stats counts subscribers per status, emails waiting or failed, campaigns.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Subscribers: make(map[Status]int, 5)}
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
		return t.queryRow(`SELECT
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'queued'),
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'sending'),
				(SELECT COUNT(*) FROM mail_queue WHERE status = 'failed'),
				(SELECT COUNT(*) FROM campaigns),
				(SELECT COUNT(*) FROM campaigns WHERE state IN ('pending', 'sending')),
				(SELECT COUNT(*) FROM erased)`).
			Scan(&st.MailQueued, &st.MailSending, &st.MailFailed, &st.Campaigns, &st.CampaignsActive, &st.Erased)
	})
	if err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}
