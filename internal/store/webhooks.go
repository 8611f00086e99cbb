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
	return s.RecordWebhook(ctx, WebhookEvent{Token: token, Email: email, Status: status, Reason: reason}, now)
}

// WebhookEvent is what a mail provider's webhook reports.
type WebhookEvent struct {
	Token string // the replay guard's key
	Email string // the recipient; needed only with Status
	// Status is set on the subscriber (bounced, complained, unsubscribed);
	// "" changes nothing.
	Status Status
	Reason string
	// CampaignID and Stat count the event for a campaign (see
	// campaign_stats); 0 or "" counts nothing, and so does a campaign
	// that does not exist.
	CampaignID int64
	Stat       string
}

// RecordWebhook is ApplyWebhook that also counts the event for its
// campaign, in the same transaction as the token: a replay counts nothing.
func (s *Store) RecordWebhook(ctx context.Context, ev WebhookEvent, now time.Time) (seen, found bool, err error) {
	token, email, status, reason := ev.Token, ev.Email, ev.Status, ev.Reason
	if token == "" || len(token) > maxTokenLen {
		return false, false, fmt.Errorf("%w: webhook token must be 1 to %d bytes", ErrInvalidInput, maxTokenLen)
	}
	if ev.Stat != "" && !campaignStat(ev.Stat) {
		return false, false, fmt.Errorf("%w: campaign figure %q", ErrInvalidInput, ev.Stat)
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
		if seen = n == 0; seen {
			return nil
		}
		if ev.CampaignID > 0 && ev.Stat != "" {
			if err := countCampaignStat(t, ev.CampaignID, ev.Stat, now); err != nil {
				return err
			}
		}
		if status == "" {
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
