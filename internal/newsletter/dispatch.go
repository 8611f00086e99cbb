package newsletter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

// errCampaignFailed stops the workers once Mailgun refused the campaign.
var errCampaignFailed = errors.New("campaign failed")

// dispatch sends the ready batches with at most Concurrency calls in
// flight. It returns the first error that stops the campaign: a permanent
// refusal, a ledger failure, or cancellation.
//
// Pending batches are prepared ahead (recipients read, message built) by
// their own goroutines, up to Concurrency of them waiting, so that a worker
// goes from one call's answer to the next call without waiting for the
// ledger or the CPU: the calls, not the preparation, set the pace.
func (cr *campaignRun) dispatch(ctx context.Context, ready []store.Batch) error {
	workers := min(cr.s.opts.Concurrency, len(ready))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		stopErr error
	)
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return stopErr != nil || cr.recordFailed() != nil
	}
	stop := func(err error) {
		mu.Lock()
		if stopErr == nil {
			stopErr = err
		}
		mu.Unlock()
	}

	// Each batch goes to a preparer and, in order, to the workers, who
	// wait for its preparation: batches are called in order, as without
	// preparing ahead.
	todo := make(chan job)
	work := make(chan job, workers)
	var prep sync.WaitGroup
	for range min(preparers, len(ready)) {
		prep.Go(func() {
			for j := range todo {
				var p *prepared
				if j.b.State == store.BatchPending && !stopped() {
					pp := cr.prepare(ctx, j.b)
					p = &pp
				}
				j.pre <- p
			}
		})
	}
	for range workers {
		wg.Go(func() {
			for j := range work {
				if stopped() {
					continue
				}
				if err := cr.batch(ctx, j.b, <-j.pre); err != nil {
					stop(err)
				}
			}
		})
	}
	for _, b := range ready {
		if stopped() || ctx.Err() != nil {
			break
		}
		j := job{b: b, pre: make(chan *prepared, 1)}
		todo <- j
		work <- j
	}
	close(todo)
	close(work)
	wg.Wait()
	prep.Wait()
	cr.recording.Wait()
	if err := cr.recordFailed(); err != nil && (stopErr == nil || errors.Is(stopErr, context.Canceled)) {
		stopErr = err
	}
	if errors.Is(stopErr, errCampaignFailed) {
		return fmt.Errorf("Mailgun refused the campaign: %s", cr.failed)
	}
	if stopErr == nil {
		stopErr = ctx.Err()
	}
	return stopErr
}

// preparers is how many goroutines read and build batches ahead of the
// calls: two keep four calls of 1,000 recipients busy on a small machine.
const preparers = 2

// job is a batch handed to a worker, prepared if it was pending.
type job struct {
	b   store.Batch
	pre chan *prepared // one value: nil if not prepared ahead
}

// prepared is a batch's pending recipients and the message to them, or why
// there is none.
type prepared struct {
	recipients []store.Recipient
	msg        *mail.Batch
	// giveUp: the body cannot be rendered; nothing went out and the batch
	// stays pending for a run that can render it.
	giveUp string
	err    error // the ledger failed
}

// prepare reads the batch's recipients (skipping those who left) and builds
// its message.
func (cr *campaignRun) prepare(ctx context.Context, b store.Batch) prepared {
	recipients, err := cr.s.store.BatchRecipients(ctx, b.ID)
	if err != nil {
		return prepared{err: fmt.Errorf("newsletter: %w", err)}
	}
	if len(recipients) == 0 {
		return prepared{}
	}
	email, err := cr.body(ctx, b)
	if err != nil {
		return prepared{recipients: recipients, giveUp: err.Error()}
	}
	return prepared{recipients: recipients, msg: cr.message(b, email, recipients)}
}

// recordLater records an accepted call in the background; dispatch waits
// for it, and a failure stops the campaign as a synchronous one would.
func (cr *campaignRun) recordLater(ctx context.Context, b store.Batch, id string) {
	cr.recording.Go(func() {
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if _, err := cr.record(rctx, b, 0, id, nil); err != nil {
			cr.mu.Lock()
			if cr.recordErr == nil {
				cr.recordErr = err
			}
			cr.mu.Unlock()
		}
	})
}

func (cr *campaignRun) recordFailed() error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.recordErr
}
