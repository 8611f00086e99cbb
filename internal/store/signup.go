package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kbpress/kb/internal/mailaddr"
)

// SignupRequest is what the signup form sends.
type SignupRequest struct {
	Email           string
	Name            string
	WantsWhitepaper bool
	Consent         Consent
}

// SignupOutcome says what Subscribe did. The web layer answers readers the
// same way in every case (so the form does not reveal who is subscribed,
// nor that a limit was reached); the outcome is for logs and tests.
type SignupOutcome string

const (
	SignupCreated          SignupOutcome = "created"           // new address; confirmation queued
	SignupResent           SignupOutcome = "resent"            // still pending; a new confirmation queued
	SignupThrottled        SignupOutcome = "throttled"         // still pending; the mailbox's last confirmation too recent
	SignupResubscribed     SignupOutcome = "resubscribed"      // was unsubscribed or bounced long ago; pending again, confirmation queued
	SignupAlreadyConfirmed SignupOutcome = "already_confirmed" // nothing queued
	SignupWhitepaperQueued SignupOutcome = "whitepaper_queued" // already confirmed; the whitepaper queued
	SignupSuppressed       SignupOutcome = "suppressed"        // complained, or bounced recently: no email
	SignupHeld             SignupOutcome = "held"              // a limit held the confirmation back (see Held*)
)

// ConfirmationQueued reports whether a confirmation email was queued.
func (o SignupOutcome) ConfirmationQueued() bool {
	return o == SignupCreated || o == SignupResent || o == SignupResubscribed
}

// Reasons an email was held back, as counted in Stats.Held.
const (
	HeldMailbox    = "mailbox"    // the mailbox had its confirmations for the week
	HeldDomain     = "domain"     // the recipient domain's hourly cap
	HeldTotal      = "total"      // the hourly cap over all domains
	HeldBounced    = "bounced"    // the address bounced (recently, or again after its one retry)
	HeldComplained = "complained" // the address marked us as spam
	HeldWhitepaper = "whitepaper" // a confirmed subscriber's whitepaper requests
)

// SignupLimits bound how much mail the signup form can cause. Counts live
// in the database, so every instance counts together.
type SignupLimits struct {
	// MailboxMax confirmations per MailboxWindow to one mailbox
	// (mailaddr.Mailbox: case, +tags, Gmail dots and IDN folded), each
	// further one at least MailboxGaps[n-1] after the n-th.
	MailboxMax    int
	MailboxWindow time.Duration
	MailboxGaps   []time.Duration
	// DomainPerHour and TotalPerHour cap confirmations per recipient
	// domain and overall in any hour; 0 means no cap.
	DomainPerHour int
	TotalPerHour  int
	// BounceQuarantine: an address that bounced gets no confirmation for
	// this long, and then at most one until it confirms.
	BounceQuarantine time.Duration
	// Whitepaper emails to a confirmed subscriber who asks again: at most
	// one per WhitepaperGap and WhitepaperMonthly per 30 days.
	WhitepaperGap     time.Duration
	WhitepaperMonthly int
}

// DefaultSignupLimits are the limits unless the operator sets others.
func DefaultSignupLimits() SignupLimits {
	return SignupLimits{
		MailboxMax:        3,
		MailboxWindow:     7 * 24 * time.Hour,
		MailboxGaps:       []time.Duration{ResendInterval, time.Hour, 24 * time.Hour},
		DomainPerHour:     0, // the caps are the operator's (config: KB_CONFIRM_CAPS)
		TotalPerHour:      0,
		BounceQuarantine:  30 * 24 * time.Hour,
		WhitepaperGap:     24 * time.Hour,
		WhitepaperMonthly: 3,
	}
}

// ResendInterval is the least time between the first two confirmation
// emails to one mailbox.
const ResendInterval = 10 * time.Minute

// WithSignupLimits replaces DefaultSignupLimits.
func WithSignupLimits(l SignupLimits) Option { return func(o *options) { o.limits = &l } }

// newLinkKey is the random key of a subscriber row that its links carry.
func newLinkKey() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mailboxHash is how confirmation_sends names a mailbox: the rows exist to
// be counted for a week, not to be read.
func mailboxHash(email string) string {
	sum := sha256.Sum256([]byte("kb-mailbox\x00" + mailaddr.Mailbox(email)))
	return hex.EncodeToString(sum[:16])
}

// Subscribe records a signup and, in the same transaction, queues the
// confirmation email when one is due and no limit holds it back. The rules:
//   - new address: pending, confirmation queued;
//   - pending: a new confirmation if the mailbox's limits allow (see
//     SignupLimits), else Throttled or Held; name, consent and the
//     whitepaper wish are refreshed either way;
//   - confirmed: stays so, no confirmation; the whitepaper is queued if
//     asked for, within the whitepaper limits;
//   - unsubscribed, or bounced more than BounceQuarantine ago: pending
//     again with the new consent, confirmation queued (for a bounced
//     address the only one until it confirms);
//   - bounced recently, or complained: nothing changes (Suppressed).
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
	var (
		sub  Subscriber
		out  SignupOutcome
		held string
	)
	err = s.tx(ctx, func(t *txn) error {
		var err error
		sub, out, held, err = s.subscribeTx(t, email, key, name, req.WantsWhitepaper, consent, now)
		return err
	})
	if err != nil {
		return Subscriber{}, "", fmt.Errorf("store: subscribe: %w", err)
	}
	if held != "" {
		s.logHeld(held, now)
	}
	return sub, out, nil
}

func (s *Store) subscribeTx(t *txn, email, key, name string, wantsWP bool, c Consent, now time.Time) (Subscriber, SignupOutcome, string, error) {
	if t.d.name == dialectPostgres {
		// One mailbox's signups take turns across instances, so that its
		// count is read and written by one at a time.
		if _, err := t.exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", mailboxHash(email)); err != nil {
			return Subscriber{}, "", "", fmt.Errorf("lock mailbox: %w", err)
		}
	}
	// The mailbox's limits do not depend on the row: decided before the
	// insert, a new address takes the fewest statements.
	held, err := s.confirmationHeld(t, email, now)
	if err != nil {
		return Subscriber{}, "", "", err
	}
	for range 3 {
		// A concurrent signup of the same address makes the insert do
		// nothing (on PostgreSQL after waiting for the other transaction),
		// and the existing row is then locked and updated below.
		sub, out, inserted, err := s.insertSubscriber(t, email, key, name, wantsWP, c, held, now)
		if err != nil || inserted {
			return sub, out, reported(held), err
		}
		sub, err = scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?"+t.d.forUpdate, key))
		if errors.Is(err, ErrNotFound) {
			continue // erased between the two statements: try the insert again
		}
		if err != nil {
			return Subscriber{}, "", "", fmt.Errorf("load subscriber: %w", err)
		}
		return s.signupExisting(t, sub, email, name, wantsWP, c, held, now)
	}
	return Subscriber{}, "", "", fmt.Errorf("%w: subscriber row kept appearing and disappearing", ErrConflict)
}

// insertSubscriber adds email as a new pending subscriber, its confirmation
// queued unless held says otherwise; inserted is false when the address is
// already there.
func (s *Store) insertSubscriber(t *txn, email, key, name string, wantsWP bool, c Consent, held string, now time.Time) (sub Subscriber, out SignupOutcome, inserted bool, err error) {
	sub = Subscriber{Email: email, Name: name, Status: StatusPending, WhitepaperRequested: wantsWP, Frequency: FrequencyEach,
		Consent: c, CreatedAt: now, UpdatedAt: now, PendingSince: now, LinkKey: newLinkKey()}
	if held == "" {
		sub.LastConfirmationAt = now
	}
	if held == "" && t.d.name == dialectPostgres {
		// The common case in one statement (data-modifying CTEs, which
		// SQLite lacks): what applyConfirmation does for a new row.
		err = t.queryRow(newSignupPostgres, email, key, name, wantsWP, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), sub.LinkKey, consentDetail(c), mailboxHash(email), mailaddr.Domain(email)).Scan(&sub.ID)
		out = SignupCreated
	} else {
		err = t.queryRow(`INSERT INTO subscribers (email, email_key, name, status, whitepaper_requested,
				consent_at, consent_version, consent_source, consent_ip, created_at, updated_at, pending_since, link_key,
				last_confirmation_at)
			VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (email_key) DO NOTHING RETURNING id`,
			email, key, name, wantsWP, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), dbTime(now), dbTime(now), sub.LinkKey, dbTime(sub.LastConfirmationAt)).Scan(&sub.ID)
		if err == nil {
			out, err = s.applyConfirmation(t, &sub, held, SignupCreated, now, event{EventSignup, consentDetail(c)})
			return sub, out, true, err
		}
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Subscriber{}, "", false, nil
	case err != nil:
		return Subscriber{}, "", false, fmt.Errorf("insert subscriber: %w", err)
	}
	return sub, out, true, nil
}

// signupExisting applies a signup to a stored subscriber; held is what
// confirmationHeld said of the mailbox in this transaction.
func (s *Store) signupExisting(t *txn, sub Subscriber, email, name string, wantsWP bool, c Consent, held string, now time.Time) (Subscriber, SignupOutcome, string, error) {
	if name == "" {
		name = sub.Name // an empty field does not erase the name given before
	}
	lim := s.limits
	switch sub.Status {
	case StatusPending:
		sub.Email, sub.Name, sub.Consent, sub.UpdatedAt = email, name, c, now
		sub.WhitepaperRequested = sub.WhitepaperRequested || wantsWP
		if _, err := t.exec(`UPDATE subscribers SET email = ?, name = ?, whitepaper_requested = ?,
				consent_at = ?, consent_version = ?, consent_source = ?, consent_ip = ?, updated_at = ?
				WHERE id = ?`,
			sub.Email, sub.Name, sub.WhitepaperRequested, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), sub.ID); err != nil {
			return Subscriber{}, "", "", fmt.Errorf("update pending subscriber: %w", err)
		}
		if err := addEvents(t, sub.ID, now, event{EventSignup, consentDetail(c)}); err != nil {
			return Subscriber{}, "", "", err
		}
		if !sub.BouncedAt.IsZero() && sub.LastConfirmationAt.After(sub.BouncedAt) {
			// A bounced address had its one more try.
			return sub, SignupSuppressed, HeldBounced, recordHeld(t, HeldBounced, now)
		}
		out, err := s.applyConfirmation(t, &sub, held, SignupResent, now)
		return sub, out, reported(held), err

	case StatusConfirmed:
		if !wantsWP {
			return sub, SignupAlreadyConfirmed, "", nil
		}
		ok, err := whitepaperAllowed(t, sub, lim, now)
		if err != nil || !ok {
			if ok := err == nil; ok {
				err = recordHeld(t, HeldWhitepaper, now)
			}
			return sub, SignupAlreadyConfirmed, "", err
		}
		sub.WhitepaperRequested, sub.LastWhitepaperAt, sub.UpdatedAt = true, now, now
		if _, err := t.exec(`UPDATE subscribers SET whitepaper_requested = ?, last_whitepaper_at = ?, updated_at = ?
				WHERE id = ?`, true, dbTime(now), dbTime(now), sub.ID); err != nil {
			return Subscriber{}, "", "", fmt.Errorf("update confirmed subscriber: %w", err)
		}
		if err := queueMail(t, MailWhitepaper, sub, now); err != nil {
			return Subscriber{}, "", "", err
		}
		return sub, SignupWhitepaperQueued, "", addEvents(t, sub.ID, now, event{EventWhitepaperQueued, "signup"})

	case StatusBounced, StatusUnsubscribed:
		if sub.Status == StatusBounced && now.Before(sub.BouncedAt.Add(lim.BounceQuarantine)) {
			return sub, SignupSuppressed, HeldBounced, recordHeld(t, HeldBounced, now)
		}
		// New consent, a fresh start: they must confirm again.
		sub.Email, sub.Name, sub.Consent, sub.UpdatedAt, sub.PendingSince = email, name, c, now, now
		sub.Status, sub.WhitepaperRequested, sub.ConfirmedAt, sub.ConfirmUserAgent = StatusPending, wantsWP, time.Time{}, ""
		if _, err := t.exec(`UPDATE subscribers SET status = 'pending', email = ?, name = ?, whitepaper_requested = ?,
				consent_at = ?, consent_version = ?, consent_source = ?, consent_ip = ?,
				confirmed_at = NULL, confirm_user_agent = '', updated_at = ?, pending_since = ? WHERE id = ?`,
			sub.Email, sub.Name, wantsWP, dbTime(c.At), c.Version, c.Source, c.IP,
			dbTime(now), dbTime(now), sub.ID); err != nil {
			return Subscriber{}, "", "", fmt.Errorf("resubscribe: %w", err)
		}
		if err := addEvents(t, sub.ID, now, event{EventResubscribed, consentDetail(c)}); err != nil {
			return Subscriber{}, "", "", err
		}
		out, err := s.applyConfirmation(t, &sub, held, SignupResubscribed, now)
		return sub, out, reported(held), err

	default: // complained
		return sub, SignupSuppressed, HeldComplained, recordHeld(t, HeldComplained, now)
	}
}

// newSignupPostgres inserts a new subscriber with its confirmation counted,
// queued and both events recorded, in one statement; it returns no row when
// the address exists.
const newSignupPostgres = `WITH s AS (
		INSERT INTO subscribers (email, email_key, name, status, whitepaper_requested, consent_at, consent_version,
			consent_source, consent_ip, created_at, updated_at, pending_since, link_key, last_confirmation_at)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $9, $9, $10, $9)
		ON CONFLICT (email_key) DO NOTHING RETURNING id
	), c AS (
		INSERT INTO confirmation_sends (mailbox, domain, at) SELECT $12, $13, $9 FROM s
	), q AS (
		INSERT INTO mail_queue (kind, subscriber_id, to_email, to_name, status, attempts, next_attempt_at, created_at)
		SELECT 'confirm', id, $1, '', 'queued', 0, $9, $9 FROM s
	), e AS (
		INSERT INTO subscriber_events (subscriber_id, at, type, detail)
		SELECT id, $9, '` + EventSignup + `', $11 FROM s
		UNION ALL SELECT id, $9, '` + EventConfirmationQueued + `', '' FROM s
	)
	SELECT id FROM s`

// applyConfirmation carries out what confirmationHeld decided for sub:
// the confirmation queued and counted (outcome sent), or not; evs are
// recorded with it. sub.LastConfirmationAt already equal to now means the
// row was written with it.
func (s *Store) applyConfirmation(t *txn, sub *Subscriber, held string, sent SignupOutcome, now time.Time, evs ...event) (SignupOutcome, error) {
	switch held {
	case heldSpacing:
		return SignupThrottled, addEvents(t, sub.ID, now, evs...)
	case "":
	default:
		if err := recordHeld(t, held, now); err != nil {
			return "", err
		}
		return SignupHeld, addEvents(t, sub.ID, now, evs...)
	}
	if _, err := t.exec("INSERT INTO confirmation_sends (mailbox, domain, at) VALUES (?, ?, ?)",
		mailboxHash(sub.Email), mailaddr.Domain(sub.Email), dbTime(now)); err != nil {
		return "", fmt.Errorf("count confirmation: %w", err)
	}
	if !sub.LastConfirmationAt.Equal(now) {
		sub.LastConfirmationAt = now
		if _, err := t.exec("UPDATE subscribers SET last_confirmation_at = ? WHERE id = ?", dbTime(now), sub.ID); err != nil {
			return "", fmt.Errorf("stamp confirmation: %w", err)
		}
	}
	if err := queueMail(t, MailConfirm, *sub, now); err != nil {
		return "", err
	}
	return sent, addEvents(t, sub.ID, now, append(evs, event{EventConfirmationQueued, ""})...)
}

// reported is the limit a held confirmation is logged under: spacing is
// the ordinary wait between two emails, not worth a line.
func reported(held string) string {
	if held == heldSpacing {
		return ""
	}
	return held
}

// heldSpacing: the mailbox may get another confirmation, only not yet.
const heldSpacing = "spacing"

// confirmationHeld says which limit, if any, holds back a confirmation to
// email at now.
func (s *Store) confirmationHeld(t *txn, email string, now time.Time) (string, error) {
	lim := s.limits
	// One round trip reads every count a decision needs; the hourly caps'
	// counts are left out when the cap is off.
	var (
		n, domainN, totalN int
		last               sql.NullInt64
	)
	hourAgo := dbTime(now.Add(-time.Hour))
	q := "SELECT (SELECT COUNT(*) FROM confirmation_sends WHERE mailbox = ? AND at > ?), " +
		"(SELECT MAX(at) FROM confirmation_sends WHERE mailbox = ? AND at > ?)"
	args := []any{mailboxHash(email), dbTime(now.Add(-lim.MailboxWindow))}
	args = append(args, args...)
	dst := []any{&n, &last}
	if lim.DomainPerHour > 0 {
		q += ", (SELECT COUNT(*) FROM confirmation_sends WHERE domain = ? AND at > ?)"
		args = append(args, mailaddr.Domain(email), hourAgo)
		dst = append(dst, &domainN)
	}
	if lim.TotalPerHour > 0 {
		q += ", (SELECT COUNT(*) FROM confirmation_sends WHERE at > ?)"
		args = append(args, hourAgo)
		dst = append(dst, &totalN)
	}
	if err := t.queryRow(q, args...).Scan(dst...); err != nil {
		return "", fmt.Errorf("count confirmations: %w", err)
	}
	switch {
	case n >= lim.MailboxMax:
		return HeldMailbox, nil
	case n > 0 && len(lim.MailboxGaps) > 0 && now.Before(fromMicros(last.Int64).Add(lim.MailboxGaps[min(n, len(lim.MailboxGaps))-1])):
		return heldSpacing, nil
	case lim.DomainPerHour > 0 && domainN >= lim.DomainPerHour:
		return HeldDomain, nil
	case lim.TotalPerHour > 0 && totalN >= lim.TotalPerHour:
		return HeldTotal, nil
	}
	return "", nil
}

// whitepaperAllowed applies the whitepaper limits to a confirmed
// subscriber asking again.
func whitepaperAllowed(t *txn, sub Subscriber, lim SignupLimits, now time.Time) (bool, error) {
	if !sub.LastWhitepaperAt.IsZero() && now.Before(sub.LastWhitepaperAt.Add(lim.WhitepaperGap)) {
		return false, nil
	}
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM subscriber_events WHERE subscriber_id = ? AND type = ? AND at > ?",
		sub.ID, EventWhitepaperQueued, dbTime(now.AddDate(0, 0, -30))).Scan(&n); err != nil {
		return false, fmt.Errorf("count whitepaper emails: %w", err)
	}
	return n < lim.WhitepaperMonthly, nil
}

// recordHeld counts an email held back, without saying to whom.
func recordHeld(t *txn, reason string, now time.Time) error {
	if _, err := t.exec("INSERT INTO mail_held (at, reason) VALUES (?, ?)", dbTime(now), reason); err != nil {
		return fmt.Errorf("count held email: %w", err)
	}
	return nil
}

// logHeld reports held-back emails at most once an hour per reason: under
// attack the log must not become the flood.
func (s *Store) logHeld(reason string, now time.Time) {
	s.heldMu.Lock()
	last, seen := s.heldLogged[reason]
	due := !seen || now.Sub(last) >= time.Hour
	if due {
		s.heldLogged[reason] = now
	}
	s.heldMu.Unlock()
	if due {
		s.log.Warn("signup: emails held back by a limit (reported once an hour; kb subscribers stats counts them)",
			"reason", reason)
	}
}

// pruneConfirmationSends forgets confirmations older than the mailbox
// window: nothing counts them any more.
// It also forgets held-back counts older than 30 days.
func pruneConfirmationSends(t *txn, lim SignupLimits, now time.Time) error {
	if _, err := t.exec("DELETE FROM confirmation_sends WHERE at <= ?", dbTime(now.Add(-max(lim.MailboxWindow, time.Hour)))); err != nil {
		return err
	}
	_, err := t.exec("DELETE FROM mail_held WHERE at <= ?", dbTime(now.AddDate(0, 0, -30)))
	return err
}

// ConfirmOutcome says what Confirm did.
type ConfirmOutcome string

const (
	ConfirmDone             ConfirmOutcome = "confirmed"
	ConfirmAlreadyConfirmed ConfirmOutcome = "already_confirmed"
	ConfirmInvalid          ConfirmOutcome = "invalid" // unknown subscriber or key, wrong status, or a link older than their last unsubscribe/bounce
)

// Confirm confirms the subscriber of link, a confirmation link issued at
// issuedAt, on a request from userAgent: pending → confirmed, the
// whitepaper queued if it was asked for, other queued confirmations
// cancelled. Confirming twice is harmless. A link issued before the
// subscriber's latest unsubscribe or bounce is refused: that consent was
// withdrawn. Confirming queues the welcome email (with the whitepaper
// link when it was asked for).
func (s *Store) Confirm(ctx context.Context, link Link, userAgent string, issuedAt, now time.Time) (Subscriber, ConfirmOutcome, error) {
	now = norm(now)
	userAgent = sanitize(userAgent, maxUserAgentLen)
	var (
		sub Subscriber
		out ConfirmOutcome
	)
	err := s.tx(ctx, func(t *txn) error {
		var err error
		sub, err = lockByLink(t, link)
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
		sub.Status, sub.ConfirmedAt, sub.UpdatedAt, sub.ConfirmUserAgent = StatusConfirmed, now, now, userAgent
		// A new subscription starts with every topic and each guide, even
		// for someone who once turned everything off and left.
		sub.Frequency, sub.TopicsOff = FrequencyEach, nil
		// One welcome email; it carries the whitepaper link if asked for.
		evs := []event{{EventConfirmed, userAgent}, {EventWelcomeQueued, ""}}
		if err := queueMail(t, MailWelcome, sub, now); err != nil {
			return err
		}
		if sub.WhitepaperRequested {
			sub.LastWhitepaperAt = now
			evs = append(evs, event{EventWhitepaperQueued, "welcome"})
		}
		if _, err := t.exec(`UPDATE subscribers SET status = 'confirmed', confirmed_at = ?, confirm_user_agent = ?,
				updated_at = ?, last_whitepaper_at = ?, frequency = 'each', topics_off = '' WHERE id = ?`,
			dbTime(now), userAgent, dbTime(now), dbTime(sub.LastWhitepaperAt), sub.ID); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mail_queue SET status = 'cancelled'
				WHERE subscriber_id = ? AND kind = 'confirm' AND status = 'queued'`, sub.ID); err != nil {
			return err
		}
		return addEvents(t, sub.ID, now, evs...)
	})
	if err != nil {
		return Subscriber{}, "", fmt.Errorf("store: confirm %d: %w", link.ID, err)
	}
	return sub, out, nil
}

// issuedBefore compares at the second, the precision of link tokens, and in
// the link's favour within that second.
func issuedBefore(issued, withdrawn time.Time) bool {
	return !withdrawn.IsZero() && issued.Before(withdrawn.Truncate(time.Second))
}
