package newsletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/store"
)

const (
	// clockMargin widens the accepted-events lookup before a batch's start,
	// for clock skew between this host and Mailgun. The lookup also matches
	// the batch's own kb-batch value, so a wide window costs only paging.
	clockMargin = 5 * time.Minute
	// maxRetryWait is the longest one pause before a retry may be; a
	// Retry-After beyond it leaves the batch for the next run instead of
	// keeping a cron job asleep for hours.
	maxRetryWait = 15 * time.Minute
	// recordTimeout bounds the ledger write that records a call's outcome
	// after the run's context was cancelled: what happened must still be
	// written down.
	recordTimeout = 30 * time.Second
)

// Summary is what a Run did.
type Summary struct {
	Campaigns []CampaignSummary `json:"campaigns"`
}

// Calls is the number of transport calls made for all campaigns.
func (s Summary) Calls() int {
	n := 0
	for _, c := range s.Campaigns {
		n += c.Calls
	}
	return n
}

// CampaignSummary is one campaign after a Run. The recipient counters are
// the ledger's totals (including earlier runs); Calls and Duration are this
// run's.
type CampaignSummary struct {
	ID      int64               `json:"id"`
	Slug    string              `json:"slug"`
	Title   string              `json:"title"`
	Resumed bool                `json:"resumed"` // unfinished from an earlier run
	State   store.CampaignState `json:"state"`

	Recipients int `json:"recipients"`
	Sent       int `json:"sent"`
	Resolved   int `json:"resolved"` // found accepted while reconciling an unknown batch
	Skipped    int `json:"skipped"`  // no longer confirmed when their batch came up
	Failed     int `json:"failed"`

	Calls    int           `json:"calls"`
	Duration time.Duration `json:"duration"`
	// Error is why the campaign is not sent, if it is not.
	Error string `json:"error,omitempty"`
}

// Run takes the send lock, finishes the campaigns earlier runs left
// unfinished, then creates and sends a campaign for each due guide. It
// returns an error if any campaign failed or was left unfinished; the next
// Run continues where this one stopped.
//
// If another process holds the lock, Run waits up to Options.LockWait
// (default: not at all) and then returns an error that wraps
// store.ErrLocked and names the holder; it never sends alongside it.
//
// A campaign Mailgun refuses (a 4xx other than 429) is failed with
// Mailgun's message and the other campaigns go on. A failed campaign is
// final: its guide is not due again.
func (s *Sender) Run(ctx context.Context, guides []guide.Guide, publishDir string) (sum Summary, err error) {
	if err := s.opts.check(); err != nil {
		return sum, err
	}
	published, err := s.published(guides, publishDir)
	if err != nil {
		return sum, err
	}
	release, err := s.lock(ctx)
	if err != nil {
		return sum, err
	}
	defer func() {
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if rerr := release(rctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("newsletter: %w", rerr))
		}
	}()

	var errs []error
	note := func(cs CampaignSummary, err error) {
		sum.Campaigns = append(sum.Campaigns, cs)
		if err != nil {
			errs = append(errs, fmt.Errorf("campaign %q: %w", cs.Slug, err))
		}
	}

	unfinished, err := s.store.UnfinishedCampaigns(ctx)
	if err != nil {
		return sum, fmt.Errorf("newsletter: %w", err)
	}
	for _, c := range unfinished {
		if ctx.Err() != nil {
			break
		}
		body, err := s.bodies(c, published)
		if err != nil {
			s.opts.Logger.Error("unfinished campaign cannot continue", "campaign", c.Slug, "err", err)
			note(s.summarize(ctx, c, true, 0, 0, err), err)
			continue
		}
		s.opts.Logger.Info("resuming unfinished campaign", "campaign", c.Slug, "campaign_id", c.ID,
			"recipients", c.Recipients, "sent", c.Sent, "resolved", c.Resolved)
		note(s.sendCampaign(ctx, c, body, true))
	}

	if ctx.Err() == nil {
		due, err := s.due(ctx, published)
		if err != nil {
			return sum, errors.Join(append(errs, err)...)
		}
		for _, g := range due {
			if ctx.Err() != nil {
				break
			}
			// Render first, so that a guide that cannot be rendered does
			// not leave a campaign behind.
			email, err := s.render(g)
			if err != nil {
				note(CampaignSummary{Slug: g.Slug, Title: g.Title, Error: err.Error()}, err)
				continue
			}
			c, err := s.createCampaign(ctx, g)
			if errors.Is(err, store.ErrCampaignExists) {
				continue // created meanwhile by something that does not take the lock
			}
			if err != nil {
				note(CampaignSummary{Slug: g.Slug, Title: g.Title, Error: err.Error()}, err)
				continue
			}
			note(s.sendCampaign(ctx, c, oneBody(email), false))
		}
	}
	// The digest comes last, so that the guides just sent are in it for
	// its readers.
	if ctx.Err() == nil {
		if cs, sent, err := s.sendDigest(ctx, published); sent || err != nil {
			note(cs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("newsletter: stopped (%w); the next run continues where this one stopped", err))
	}
	return sum, errors.Join(errs...)
}

// lock takes the send lock, waiting up to LockWait for another holder to
// release it (or for its lease to run out, if it died).
func (s *Sender) lock(ctx context.Context) (func(context.Context) error, error) {
	// Real time, not Options.Now: leases run out in real time.
	deadline := time.Now().Add(s.opts.LockWait)
	poll := 250 * time.Millisecond
	for logged := false; ; {
		release, err := s.store.AcquireSendLock(ctx, s.opts.Holder)
		switch {
		case err == nil:
			return release, nil
		case !errors.Is(err, store.ErrLocked):
			return nil, fmt.Errorf("newsletter: %w", err)
		case !time.Now().Before(deadline):
			return nil, fmt.Errorf("newsletter: another kb send is running: %w", err)
		}
		if !logged {
			s.opts.Logger.Info("waiting for the send lock", "held", err, "wait_up_to", s.opts.LockWait)
			logged = true
		}
		if err := sleepCtx(ctx, min(poll, time.Until(deadline))); err != nil {
			return nil, err
		}
		poll = min(2*poll, 5*time.Second)
	}
}

// createCampaign creates the guide's campaign, which fixes its recipients.
func (s *Sender) createCampaign(ctx context.Context, g guide.Guide) (store.Campaign, error) {
	c, err := s.store.CreateCampaign(ctx, store.CampaignSpec{
		Slug:      g.Slug,
		Title:     g.Title,
		Subject:   g.Subject(),
		Topics:    g.Topics,
		TestMode:  s.opts.TestMode,
		DeliverAt: s.opts.DeliverAt,
		BatchSize: s.opts.BatchSize,
	}, s.opts.Now())
	if err != nil {
		return c, fmt.Errorf("newsletter: %w", err)
	}
	s.opts.Logger.Info("campaign created", "campaign", c.Slug, "campaign_id", c.ID,
		"recipients", c.Recipients, "batches", c.Batches)
	return c, nil
}

func (s *Sender) render(g guide.Guide) (emails.Email, error) {
	e, err := s.renderer.Newsletter(g, emails.NewsletterOptions{FullTextMaxWords: s.opts.FullTextMaxWords})
	if err != nil {
		return e, fmt.Errorf("newsletter: render %s: %w", g.Slug, err)
	}
	return e, nil
}

// summarize reads the campaign's counters back from the ledger.
func (s *Sender) summarize(ctx context.Context, c store.Campaign, resumed bool, calls int, d time.Duration, err error) CampaignSummary {
	rctx, cancel := recordContext(ctx)
	defer cancel()
	if fresh, ferr := s.store.Campaign(rctx, c.ID); ferr == nil {
		c = fresh
	}
	cs := CampaignSummary{ID: c.ID, Slug: c.Slug, Title: c.Title, Resumed: resumed, State: c.State,
		Recipients: c.Recipients, Sent: c.Sent, Resolved: c.Resolved, Skipped: c.Skipped, Failed: c.Failed,
		Calls: calls, Duration: d}
	switch {
	case err != nil:
		cs.Error = err.Error()
	case c.Error != "":
		cs.Error = c.Error
	}
	return cs
}

// recordContext outlives the run's cancellation for a short while: once a
// call has returned, its outcome is written down even if the run is being
// stopped.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// bodyFunc gives the email a batch sends: one for every batch of a
// guide's campaign, one per variant (set of guides) in a digest.
type bodyFunc func(ctx context.Context, b store.Batch) (emails.Email, error)

func oneBody(e emails.Email) bodyFunc {
	return func(context.Context, store.Batch) (emails.Email, error) { return e, nil }
}

// campaignRun is one campaign being sent in this run.
type campaignRun struct {
	s     *Sender
	c     store.Campaign
	body  bodyFunc
	tag   string
	log   *slog.Logger
	calls atomic.Int64

	mu         sync.Mutex
	attempts   map[int64]int    // calls per batch in this run
	givenUp    map[int64]string // batches left for the next run, and why
	failed     string           // Mailgun's refusal that stopped the campaign
	pauseUntil time.Time        // Retry-After applies to every worker
	done       int              // recipients reported to Progress

	recording sync.WaitGroup // accepted calls being recorded (recordLater)
	recordErr error          // the first of them that failed
}

func (s *Sender) sendCampaign(ctx context.Context, c store.Campaign, body bodyFunc, resumed bool) (CampaignSummary, error) {
	start := time.Now()
	cr := &campaignRun{
		s:        s,
		c:        c,
		body:     body,
		tag:      tagFor(c.Slug),
		log:      s.opts.Logger.With("campaign", c.Slug, "campaign_id", c.ID),
		attempts: map[int64]int{},
		givenUp:  map[int64]string{},
	}
	err := cr.run(ctx)
	if s.opts.Progress != nil {
		s.opts.Progress.Done()
	}
	cs := s.summarize(ctx, c, resumed, int(cr.calls.Load()), time.Since(start), err)
	if err == nil {
		cr.log.Info("campaign sent", "recipients", cs.Recipients, "sent", cs.Sent, "resolved", cs.Resolved,
			"skipped", cs.Skipped, "failed", cs.Failed, "calls", cs.Calls, "duration", cs.Duration.Round(time.Millisecond))
	}
	return cs, err
}

func (cr *campaignRun) run(ctx context.Context) error {
	s := cr.s
	if p := s.opts.Progress; p != nil {
		p.Start(cr.c.Slug, cr.c.Recipients)
		cr.progress(ctx)
	}
	if cr.c.State == store.CampaignPending {
		if err := s.store.StartCampaign(ctx, cr.c.ID, s.opts.Now()); err != nil {
			return fmt.Errorf("newsletter: %w", err)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batches, err := s.store.Batches(ctx, cr.c.ID)
		if err != nil {
			return fmt.Errorf("newsletter: %w", err)
		}
		var (
			ready  []store.Batch
			wakeAt time.Time
		)
		now := s.opts.Now()
		for _, b := range batches {
			switch b.State {
			case store.BatchSent, store.BatchFailed:
				continue
			case store.BatchSending:
				// This run holds the send lock and has no call in flight,
				// so the run that started this batch stopped before it
				// could record the answer (killed, crashed, or its ledger
				// write failed): the call may or may not have gone out.
				cr.log.Warn("batch found in state sending: outcome unknown, reconciling", "batch", b.Seq, "started_at", b.StartedAt)
				if err := s.store.MarkBatchUnknown(ctx, b.ID, "found in state sending: the run that sent it stopped before recording the outcome"); err != nil {
					return fmt.Errorf("newsletter: %w", err)
				}
				b.State = store.BatchUnknown
			}
			if cr.isGivenUp(b.ID) {
				continue
			}
			if b.State == store.BatchUnknown {
				if n := cr.attemptsOf(b.ID); n >= s.opts.MaxAttempts {
					// Waiting Settle again only to find the batch out of
					// attempts would keep the run alive for nothing; the
					// next run reconciles it.
					cr.giveUp(b, fmt.Sprintf("batch %d: %d attempts in this run, the last one's outcome unknown", b.Seq, n))
					continue
				}
				if settled := b.StartedAt.Add(s.opts.Settle); now.Before(settled) {
					if wakeAt.IsZero() || settled.Before(wakeAt) {
						wakeAt = settled
					}
					continue
				}
			}
			ready = append(ready, b)
		}
		if len(ready) == 0 {
			if wakeAt.IsZero() {
				break
			}
			wait := wakeAt.Sub(now)
			cr.log.Info("waiting before reconciling a batch whose outcome is unknown: Mailgun's events lag behind acceptance, "+
				"and reconciling too early could miss recipients it accepted and send them a second copy",
				"wait", wait.Round(time.Second), "until", wakeAt)
			if err := s.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if err := cr.dispatch(ctx, ready); err != nil {
			return err
		}
	}
	if n := len(cr.givenUp); n > 0 {
		return fmt.Errorf("%d batches not sent in this run (%s); the next run continues", n, cr.someReason())
	}
	if err := s.store.FinishCampaign(ctx, cr.c.ID, s.opts.Now()); err != nil {
		return fmt.Errorf("newsletter: %w", err)
	}
	return nil
}

// progress reports the recipients the ledger counts as done. Calls into
// Progress are serialised here, so implementations need no locking.
func (cr *campaignRun) progress(ctx context.Context) {
	p := cr.s.opts.Progress
	if p == nil {
		return
	}
	c, err := cr.s.store.Campaign(ctx, cr.c.ID)
	if err != nil {
		return // progress is a courtesy; the ledger write before it succeeded
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if done := c.Sent + c.Resolved + c.Skipped + c.Failed; done > cr.done {
		p.Add(done - cr.done)
		cr.done = done
	}
}

// Cancel gives up on an unfinished campaign (`kb campaigns cancel`): it
// becomes failed with reason, its recipients not yet sent to are never
// sent to, and its guide is not due again. It takes the send lock, so it
// cannot race a Run.
func (s *Sender) Cancel(ctx context.Context, slug, reason string) (err error) {
	c, err := s.store.CampaignBySlug(ctx, slug)
	if err != nil {
		return fmt.Errorf("newsletter: %w", err)
	}
	release, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if rerr := release(rctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("newsletter: %w", rerr))
		}
	}()
	if reason = strings.TrimSpace(reason); reason == "" {
		reason = "no reason given"
	}
	if err := s.store.FailCampaign(ctx, c.ID, "cancelled: "+reason, s.opts.Now()); err != nil {
		return fmt.Errorf("newsletter: cancel %q: %w", slug, err)
	}
	s.opts.Logger.Info("campaign cancelled", "campaign", slug, "campaign_id", c.ID, "reason", reason)
	return nil
}
