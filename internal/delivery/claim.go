package delivery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kbpress/kb/internal/store"
)

// claim is one ClaimMail's emails while the worker sends them. It keeps
// their lease alive and knows which of them the worker still holds, so
// that an email is never sent on a lease that has run out or been lost:
// Mailgun may answer slower than a whole claim takes to lease.
type claim struct {
	w     *Worker
	token string

	// renewMu makes renewals and flushes take turns: a row a flush has
	// just marked sent would otherwise look lost to a renewal racing it.
	renewMu sync.Mutex

	mu     sync.Mutex
	until  time.Time        // the lease's end, as last granted
	held   map[int64]bool   // held and not finished (sent ones until recorded)
	unsent []store.SentMail // delivered, not yet recorded
}

func newClaim(w *Worker, mails []store.QueuedMail) *claim {
	c := &claim{w: w, token: mails[0].Claim, until: w.opts.Now().Add(w.opts.Lease), held: make(map[int64]bool, len(mails))}
	for _, m := range mails {
		c.held[m.ID] = true
	}
	return c
}

// margin is the lease an email must have left for a send to start: the
// send's timeout, and a renewal period to record the outcome in.
func (c *claim) margin() time.Duration { return c.w.opts.SendTimeout + c.w.opts.Lease/3 }

// fresh reports whether id is held with lease enough for a send.
func (c *claim) fresh(id int64) (held, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[id], c.until.Sub(c.w.opts.Now()) >= c.margin()
}

// sendable reports whether id may be sent now, renewing the lease first
// when too little of it is left.
func (c *claim) sendable(ctx context.Context, id int64) (bool, error) {
	held, fresh := c.fresh(id)
	if !held || fresh {
		return held, nil
	}
	c.renewMu.Lock()
	defer c.renewMu.Unlock()
	if held, fresh = c.fresh(id); held && !fresh { // unless another send just renewed it
		if err := c.renewLocked(context.WithoutCancel(ctx)); err != nil {
			return false, err
		}
		held, fresh = c.fresh(id)
	}
	return held && fresh, nil
}

// sent notes a delivered email for the next flush; it stays leased until
// then.
func (c *claim) sent(m store.SentMail) {
	c.mu.Lock()
	c.unsent = append(c.unsent, m)
	c.mu.Unlock()
}

// finish stops renewing id: its outcome is about to be recorded (or left
// to the lease's end).
func (c *claim) finish(id int64) {
	c.mu.Lock()
	delete(c.held, id)
	c.mu.Unlock()
}

// keepAlive flushes and renews the claim every third of the lease until
// the returned function is called.
func (c *claim) keepAlive(ctx context.Context) (stop func()) {
	ctx = context.WithoutCancel(ctx) // delivered emails are recorded even when shutting down
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(c.w.opts.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			c.renewMu.Lock()
			err := c.flushLocked(ctx)
			if err == nil {
				err = c.renewLocked(ctx)
			}
			c.renewMu.Unlock()
			if err != nil {
				// The next tick tries again; sendable refuses a send meanwhile
				// once too little lease is left.
				c.w.opts.Logger.Warn("cannot keep the claim's lease alive", "worker", c.w.opts.Name, "err", err)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// renewLocked extends the lease of every email the claim still holds and
// forgets those it lost. The caller holds renewMu.
func (c *claim) renewLocked(ctx context.Context) error {
	now := c.w.opts.Now()
	ids, err := c.w.queue.RenewMailLease(ctx, c.token, c.w.opts.Lease, now)
	if err != nil {
		return fmt.Errorf("renew the lease of claimed emails: %w", err)
	}
	still := make(map[int64]bool, len(ids))
	for _, id := range ids {
		still[id] = true
	}
	c.mu.Lock()
	c.until = now.Add(c.w.opts.Lease)
	var lost, lostSent []int64
	for id := range c.held {
		if !still[id] {
			delete(c.held, id)
			lost = append(lost, id)
		}
	}
	kept := c.unsent[:0]
	for _, m := range c.unsent {
		if still[m.ID] {
			kept = append(kept, m)
		} else {
			lostSent = append(lostSent, m.ID)
		}
	}
	c.unsent = kept
	c.mu.Unlock()
	if len(lost) > 0 {
		c.w.opts.Logger.Warn("emails taken over by another worker after this one's lease ran out; not sending them",
			"worker", c.w.opts.Name, "mail_ids", lost)
	}
	if len(lostSent) > 0 {
		c.w.opts.Logger.Error("emails sent, then taken over before they were recorded: they may go out twice",
			"worker", c.w.opts.Name, "mail_ids", lostSent)
	}
	return nil
}

// flush records the delivered emails not recorded yet.
func (c *claim) flush(ctx context.Context) error {
	c.renewMu.Lock()
	defer c.renewMu.Unlock()
	return c.flushLocked(ctx)
}

func (c *claim) flushLocked(ctx context.Context) error {
	c.mu.Lock()
	sent := c.unsent
	c.unsent = nil
	c.mu.Unlock()
	if len(sent) == 0 {
		return nil
	}
	n, err := c.w.queue.MarkMailsSent(ctx, c.token, sent, c.w.opts.Now())
	if err != nil {
		c.mu.Lock()
		c.unsent = append(sent, c.unsent...) // still leased: the next flush tries again
		c.mu.Unlock()
		return fmt.Errorf("record %d sent emails: %w", len(sent), err)
	}
	c.mu.Lock()
	for _, m := range sent {
		delete(c.held, m.ID)
	}
	c.mu.Unlock()
	if n < len(sent) {
		c.w.opts.Logger.Error("sent emails no longer held by this worker when recorded: they may go out twice",
			"worker", c.w.opts.Name, "sent", len(sent), "recorded", n)
	}
	c.w.opts.Logger.Info("emails sent", "worker", c.w.opts.Name, "count", n)
	return nil
}
