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
	if token == "" || len(token) > maxTokenLen {
		return false, fmt.Errorf("%w: webhook token must be 1 to %d bytes", ErrInvalidInput, maxTokenLen)
	}
	now = norm(now)
	last := s.lastPrune.Load()
	prune := now.UnixMicro()-last >= pruneEvery.Microseconds() && s.lastPrune.CompareAndSwap(last, now.UnixMicro())
	err = s.tx(ctx, func(t *txn) error {
		if prune {
			if _, err := t.exec("DELETE FROM webhook_tokens WHERE seen_at < ?", dbTime(now.Add(-WebhookTokenTTL))); err != nil {
				return err
			}
		}
		n, err := affected(t.exec("INSERT INTO webhook_tokens (token, seen_at) VALUES (?, ?) ON CONFLICT (token) DO NOTHING",
			token, dbTime(now)))
		seen = n == 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: webhook token: %w", err)
	}
	return seen, nil
}
