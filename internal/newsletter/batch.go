package newsletter

// One batch's way through a run: reconciling an unknown outcome with
// Mailgun's events, the call itself with its pacing and retries, and
// recording what happened in the ledger.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

// batch brings one batch as far as it can go in this run.
func (cr *campaignRun) batch(ctx context.Context, b store.Batch, pre *prepared) error {
	if b.State == store.BatchUnknown {
		done, err := cr.reconcile(ctx, b)
		if err != nil || done {
			return err
		}
	}
	return cr.send(ctx, b, pre)
}

// reconcile asks the transport which recipients of an unknown batch it
// accepted and records them; the rest become pending again. done reports
// that nothing is left to send in this run.
func (cr *campaignRun) reconcile(ctx context.Context, b store.Batch) (done bool, err error) {
	s := cr.s
	q := mail.AcceptedQuery{
		Tag:      cr.tag,
		End:      s.opts.Now(),
		Variable: VarBatch,
		Value:    batchValue(cr.c.ID, b.Seq),
	}
	if !b.StartedAt.IsZero() {
		q.Begin = b.StartedAt.Add(-clockMargin)
	}
	var accepted []string
	for lookup := 1; ; lookup++ {
		accepted, err = s.transport.Accepted(ctx, q)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		if !mail.IsTemporary(err) || lookup >= s.opts.MaxAttempts {
			cr.giveUp(b, fmt.Sprintf("cannot look up which recipients of batch %d were accepted: %v", b.Seq, err))
			return true, nil
		}
		delay := cr.backoff(lookup, mail.RetryAfter(err))
		cr.log.Warn("accepted-events lookup failed, will retry", "batch", b.Seq, "err", err, "retry_in", delay)
		if err := s.sleep(ctx, delay); err != nil {
			return true, err
		}
	}
	resolved, remaining, err := s.store.ResolveBatch(ctx, b.ID, accepted, s.opts.Now())
	if err != nil {
		return true, fmt.Errorf("newsletter: %w", err)
	}
	cr.log.Info("batch reconciled with Mailgun's accepted events", "batch", b.Seq, "accepted", resolved, "to_send", remaining)
	cr.progress(ctx)
	if remaining == 0 {
		return true, nil
	}
	if cr.attemptsOf(b.ID) >= s.opts.MaxAttempts {
		cr.giveUp(b, fmt.Sprintf("batch %d: %d attempts in this run", b.Seq, cr.attemptsOf(b.ID)))
		return true, nil
	}
	return false, nil
}

// send sends the batch's pending recipients, retrying temporary failures.
// On return the batch is sent, unknown (reconciled in the next round),
// pending and given up for this run, or failed with its campaign. pre, if
// not nil, is the batch prepared ahead; a retry prepares it again.
func (cr *campaignRun) send(ctx context.Context, b store.Batch, pre *prepared) error {
	s := cr.s
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var p prepared
		if pre != nil {
			p, pre = *pre, nil
		} else {
			p = cr.prepare(ctx, b)
		}
		if p.err != nil {
			return p.err
		}
		recipients := p.recipients
		if len(recipients) == 0 {
			// Everyone left unsubscribed meanwhile: close the batch
			// without a call.
			if err := s.store.StartBatch(ctx, b.ID, s.opts.Now()); err != nil {
				return fmt.Errorf("newsletter: %w", err)
			}
			if err := s.store.FinishBatch(ctx, b.ID, "", s.opts.Now()); err != nil {
				return fmt.Errorf("newsletter: %w", err)
			}
			cr.progress(ctx)
			return nil
		}
		if p.giveUp != "" {
			// Nothing went out; the batch stays pending for a run that
			// can render it.
			cr.giveUp(b, p.giveUp)
			return nil
		}
		if err := cr.pace(ctx, len(recipients)); err != nil {
			return err
		}
		attempt := cr.countAttempt(b.ID)
		if err := s.store.StartBatch(ctx, b.ID, s.opts.Now()); err != nil {
			return fmt.Errorf("newsletter: %w", err)
		}
		cr.calls.Add(1)
		id, err := s.transport.SendBatch(ctx, p.msg)
		if err == nil {
			// Accepted: written down while this worker makes its next
			// call. Until then the batch is "sending", which a run that
			// stops meanwhile leaves to reconciliation, never to a resend.
			cr.recordLater(ctx, b, id)
			return nil
		}
		rctx, cancel := recordContext(ctx)
		next, rerr := cr.record(rctx, b, attempt, id, err)
		cancel()
		if rerr != nil || !next {
			return rerr
		}
		delay := cr.backoff(attempt, mail.RetryAfter(err))
		if delay > maxRetryWait {
			cr.giveUp(b, fmt.Sprintf("batch %d: Mailgun asked to wait %s", b.Seq, delay.Round(time.Second)))
			return nil
		}
		cr.log.Warn("batch not accepted, will retry", "batch", b.Seq, "attempt", attempt, "err", err, "retry_in", delay.Round(time.Millisecond))
		if err := s.sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// record writes the outcome of one call to the ledger and reports whether
// to try the batch again.
func (cr *campaignRun) record(ctx context.Context, b store.Batch, attempt int, id string, sendErr error) (retry bool, err error) {
	s := cr.s
	switch {
	case sendErr == nil:
		if err := s.store.FinishBatch(ctx, b.ID, id, s.opts.Now()); err != nil {
			// Sent but not recorded: the batch stays "sending", and the
			// next run reconciles it rather than sending it again.
			return false, fmt.Errorf("newsletter: batch %d was accepted but recording it failed (the next run reconciles it): %w", b.Seq, err)
		}
		cr.log.Debug("batch sent", "batch", b.Seq, "message_id", id)
		cr.progress(ctx)
		return false, nil

	case mail.IsUnknown(sendErr):
		cr.log.Warn("batch outcome unknown: it will be reconciled with Mailgun's events, not sent again blindly",
			"batch", b.Seq, "err", sendErr)
		if err := s.store.MarkBatchUnknown(ctx, b.ID, sendErr.Error()); err != nil {
			return false, fmt.Errorf("newsletter: %w", err)
		}
		return false, nil

	case mail.IsTemporary(sendErr):
		// Nothing was accepted: reconcile with an empty list, which puts
		// every recipient back to pending (the ledger has no direct
		// sending → pending step).
		if err := s.store.MarkBatchUnknown(ctx, b.ID, sendErr.Error()); err != nil {
			return false, fmt.Errorf("newsletter: %w", err)
		}
		if _, _, err := s.store.ResolveBatch(ctx, b.ID, nil, s.opts.Now()); err != nil {
			return false, fmt.Errorf("newsletter: %w", err)
		}
		if ra := mail.RetryAfter(sendErr); ra > 0 {
			cr.pauseFor(ra)
		}
		if attempt >= s.opts.MaxAttempts {
			cr.giveUp(b, fmt.Sprintf("batch %d: %d attempts, last: %v", b.Seq, attempt, sendErr))
			return false, nil
		}
		return true, nil

	default:
		msg := sendErr.Error()
		cr.log.Error("Mailgun refused the batch: stopping the campaign", "batch", b.Seq, "err", sendErr)
		if err := s.store.FailBatch(ctx, b.ID, msg); err != nil {
			return false, fmt.Errorf("newsletter: %w", err)
		}
		cr.mu.Lock()
		first := cr.failed == ""
		if first {
			cr.failed = msg
		}
		cr.mu.Unlock()
		if first {
			if err := s.store.FailCampaign(ctx, cr.c.ID, msg, s.opts.Now()); err != nil {
				return false, fmt.Errorf("newsletter: %w", err)
			}
		}
		cr.progress(ctx)
		return false, errCampaignFailed
	}
}

// message builds the batch: one body for all, each recipient's greeting,
// unsubscribe and preference links as recipient variables.
func (cr *campaignRun) message(b store.Batch, email emails.Email, recipients []store.Recipient) *mail.Batch {
	s := cr.s
	rs := make([]mail.Recipient, len(recipients))
	// The unsubscribe link (and so List-Unsubscribe) names the campaign,
	// which the unsubscribe is counted for.
	from := "&" + ParamCampaign + "=" + strconv.FormatInt(cr.c.ID, 10)
	for i, r := range recipients {
		rs[i] = mail.Recipient{Address: r.Email, Name: r.Name,
			Vars: emails.RecipientVars(s.links.Unsubscribe(r.SubscriberID, r.LinkKey)+from, s.links.Preferences(r.SubscriberID, r.LinkKey))}
	}
	return &mail.Batch{
		From:    s.opts.From,
		ReplyTo: s.opts.ReplyTo,
		Subject: email.Subject,
		HTML:    email.HTML,
		Text:    email.Text,
		Headers: email.Headers,
		Tags:    []string{cr.tag},
		Variables: map[string]string{
			VarCampaign: strconv.FormatInt(cr.c.ID, 10),
			VarBatch:    batchValue(cr.c.ID, b.Seq),
		},
		Recipients:   rs,
		DeliveryTime: cr.c.DeliverAt,
		TestMode:     cr.c.TestMode,
	}
}

// ParamCampaign is the unsubscribe link's parameter naming the campaign
// whose email carried it (outside the signed token: the store checks the
// reader was a recipient).
const ParamCampaign = "c"

// batchValue identifies a batch in Mailgun's events.
func batchValue(campaignID int64, seq int) string {
	return fmt.Sprintf("%d-%d", campaignID, seq)
}

// tagFor is the Mailgun tag of a campaign: its slug, escaped to printable
// ASCII if Hugo kept non-ASCII letters in it.
func tagFor(slug string) string {
	tag := url.PathEscape(slug)
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return tag
}

// pace waits for the rate limiter and for any Retry-After in force.
func (cr *campaignRun) pace(ctx context.Context, n int) error {
	cr.mu.Lock()
	until := cr.pauseUntil
	cr.mu.Unlock()
	if d := until.Sub(cr.s.opts.Now()); d > 0 {
		if err := cr.s.sleep(ctx, d); err != nil {
			return err
		}
	}
	if cr.s.limiter != nil {
		if err := cr.s.limiter.WaitN(ctx, n); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("newsletter: rate limit: %w", err)
		}
	}
	return nil
}

func (cr *campaignRun) pauseFor(d time.Duration) {
	until := cr.s.opts.Now().Add(d)
	cr.mu.Lock()
	if until.After(cr.pauseUntil) {
		cr.pauseUntil = until
	}
	cr.mu.Unlock()
}

// backoff is the delay before attempt+1: exponential with jitter (half
// fixed, half random), never shorter than what the provider asked for.
func (cr *campaignRun) backoff(attempt int, retryAfter time.Duration) time.Duration {
	o := cr.s.opts
	d := o.BaseBackoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	return max(d, retryAfter)
}

func (cr *campaignRun) countAttempt(id int64) int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.attempts[id]++
	return cr.attempts[id]
}

func (cr *campaignRun) attemptsOf(id int64) int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.attempts[id]
}

func (cr *campaignRun) giveUp(b store.Batch, why string) {
	cr.log.Error("batch left for the next run", "batch", b.Seq, "reason", why)
	cr.mu.Lock()
	cr.givenUp[b.ID] = why
	cr.mu.Unlock()
}

func (cr *campaignRun) isGivenUp(id int64) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	_, ok := cr.givenUp[id]
	return ok
}

func (cr *campaignRun) someReason() string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, why := range cr.givenUp {
		return why
	}
	return ""
}
