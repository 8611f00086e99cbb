package store

import (
	"context"
	"fmt"
	"time"
)

// WebhookTokenTTL is how long a webhook token is remembered. The web layer
// refuses webhooks whose signed timestamp is older than this, so a token
// forgotten after it can no longer be replayed.
const WebhookTokenTTL = 24 * time.Hour

// pruneEvery spaces out the deletion of old webhook tokens.
const pruneEvery = time.Hour

// SeenWebhookToken records a webhook's token and reports whether it had been
// seen before (a replay). Tokens older than WebhookTokenTTL are pruned now
// and then.
func (s *Store) SeenWebhookToken(ctx context.Context, token string, now time.Time) (seen bool, err error) {
	seen, _, err = s.ApplyWebhook(ctx, token, "", "", "", now)
	return seen, err
}

// ApplyWebhook records a webhook's token and, unless the token was seen
// before (a replay), sets the status of the subscriber with address email
// (bounced, complained or unsubscribed; an empty status changes nothing).
// Both happen in one transaction: a failure leaves the token unrecorded,
// so Mailgun's retry of the same webhook is not refused as a replay.
func (s *Store) ApplyWebhook(ctx context.Context, token, email string, status Status, reason string, now time.Time) (seen, found bool, err error) {
	if token == "" || len(token) > maxTokenLen {
		return false, false, fmt.Errorf("%w: webhook token must be 1 to %d bytes", ErrInvalidInput, maxTokenLen)
	}
	var key string
	if status != "" {
		if !webhookStatus(status) {
			return false, false, fmt.Errorf("%w: status %q cannot be set by a webhook", ErrInvalidInput, status)
		}
		if _, key, err = parseEmail(email); err != nil {
			return false, false, err
		}
	}
	now = norm(now)
	reason = sanitize(reason, maxReasonLen)
	last := s.lastPrune.Load()
	prune := now.UnixMicro()-last >= pruneEvery.Microseconds() && s.lastPrune.CompareAndSwap(last, now.UnixMicro())
	err = s.tx(ctx, func(t *txn) error {
		seen, found = false, false
		if prune {
			if _, err := t.exec("DELETE FROM webhook_tokens WHERE seen_at < ?", dbTime(now.Add(-WebhookTokenTTL))); err != nil {
				return err
			}
		}
		n, err := affected(t.exec("INSERT INTO webhook_tokens (token, seen_at) VALUES (?, ?) ON CONFLICT (token) DO NOTHING",
			token, dbTime(now)))
		if err != nil {
			return err
		}
		if seen = n == 0; seen || status == "" {
			return nil
		}
		found, err = setStatusByKey(t, key, status, reason, now)
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("store: webhook: %w", err)
	}
	return seen, found, nil
}
