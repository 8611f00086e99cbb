package store

import (
	"context"
	"fmt"
	"time"
)

// Suppress applies an entry of the mail service's suppression lists to
// the subscriber with address email: bounced, complained or unsubscribed,
// as a webhook would, so that an address the service will not deliver to
// is never counted as reachable. found is false for an address the store
// does not know; changed is false when the status already said so (or the
// subscriber complained, which nothing overrides). sub is the subscriber
// after the change.
func (s *Store) Suppress(ctx context.Context, email string, status Status, reason string, now time.Time) (sub Subscriber, found, changed bool, err error) {
	if !webhookStatus(status) {
		return Subscriber{}, false, false, fmt.Errorf("%w: status %q is not a suppression", ErrInvalidInput, status)
	}
	_, key, err := parseEmail(email)
	if err != nil {
		return Subscriber{}, false, false, err
	}
	now = norm(now)
	reason = sanitize(reason, maxReasonLen)
	err = s.tx(ctx, func(t *txn) error {
		var err error
		found, changed = false, false
		sub, err = scanSubscriber(t.queryRow("SELECT "+subscriberCols+" FROM subscribers WHERE email_key = ?"+t.d.forUpdate, key))
		if err == ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		changed, err = setStatus(t, &sub, status, reason, now)
		return err
	})
	if err != nil {
		return Subscriber{}, false, false, fmt.Errorf("store: suppress %s: %w", email, err)
	}
	return sub, found, changed, nil
}
