// Package delivery sends the transactional emails queued in the store
// (confirmation, whitepaper link): a worker inside `kb serve` claims due
// emails, sends them and records the outcome, retrying with backoff.
//
// A signup never waits for the mail provider: the request commits the
// subscriber and the queued email together, and this worker does the rest.
// An outage delays emails; it does not lose them, and a restart resumes the
// queue from the database.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

// Queue is the part of the store the worker uses. Every update names the
// claim (store.QueuedMail.Claim) and applies only while that claim holds
// the email, so a worker that lost an email to another cannot record over
// it.
type Queue interface {
	ClaimMail(ctx context.Context, worker string, limit int, lease time.Duration, now time.Time) ([]store.QueuedMail, error)
	RenewMailLease(ctx context.Context, claim string, lease time.Duration, now time.Time) ([]int64, error)
	MarkMailsSent(ctx context.Context, claim string, sent []store.SentMail, now time.Time) (int, error)
	RetryMail(ctx context.Context, claim string, id int64, nextAttempt time.Time, errMsg string) error
	FailMail(ctx context.Context, claim string, id int64, errMsg string, now time.Time) error
	ReleaseMail(ctx context.Context, claim string, ids []int64, now time.Time) (int, error)
	NextMailDue(ctx context.Context) (time.Time, bool, error)
}

// Mailer sends one message.
type Mailer interface {
	Send(ctx context.Context, m *mail.Message) (id string, err error)
}

// Composer turns a queued email into the message to send. It returns
// ErrDrop for an email that must not go out any more (e.g. its link
// expired before delivery).
type Composer interface {
	Compose(q store.QueuedMail, now time.Time) (*mail.Message, error)
}

// ErrDrop marks a queued email as one to give up on without sending.
var ErrDrop = errors.New("delivery: email no longer deliverable")

// Options tune the worker; the zero value of a field means its default.
type Options struct {
	// Name identifies this worker in leases (several kb serve may run).
	Name string
	// Concurrency is how many emails are sent at once (default 32: sends
	// mostly wait, on the provider or on the disk).
	Concurrency int
	// ClaimSize is how many emails are claimed at a time (default 256).
	ClaimSize int
	// Lease is how long a claim lasts before another worker may take the
	// email over (default 2 minutes). The worker renews it every third of
	// that while it sends the claim, so it must cover one send, not a whole
	// claim: it is raised to twice SendTimeout if shorter.
	Lease time.Duration
	// SendTimeout bounds one send (default 30 seconds, as the Mailgun
	// client's own timeout). No send starts with less than that, plus a
	// third of the lease to record the outcome, left on its email's lease.
	SendTimeout time.Duration
	// Poll is the longest the worker sleeps without being notified, so it
	// notices emails queued by other instances (default 5 seconds).
	Poll time.Duration
	// MaxAttempts before an email is given up (default 12: about a day).
	MaxAttempts int
	// BaseBackoff is the delay after the first failure, doubled each time up
	// to MaxBackoff (defaults 30 seconds and 1 hour), with ±20% jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	Logger      *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = "worker"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.ClaimSize <= 0 {
		o.ClaimSize = 256
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = mail.DefaultMailgunTimeout
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	o.Lease = max(o.Lease, 2*o.SendTimeout)
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Worker delivers queued emails.
type Worker struct {
	queue    Queue
	mailer   Mailer
	composer Composer
	opts     Options
	wake     chan struct{}
}

// New returns a worker; call Run to start it.
func New(q Queue, m Mailer, c Composer, opts Options) *Worker {
	opts.defaults()
	return &Worker{queue: q, mailer: m, composer: c, opts: opts, wake: make(chan struct{}, 1)}
}

// Notify tells the worker that an email was queued; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers emails until ctx is done. Errors from the store are logged
// and retried; Run returns only when ctx ends.
func (w *Worker) Run(ctx context.Context) {
	log := w.opts.Logger.With("worker", w.opts.Name)
	storeBackoff := time.Second
	for {
		n, err := w.Drain(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := w.opts.Poll
		if err != nil {
			log.Error("mail queue", "err", err, "retry_in", storeBackoff)
			wait = storeBackoff
			storeBackoff = min(2*storeBackoff, time.Minute)
		} else {
			storeBackoff = time.Second
			if n > 0 {
				log.Debug("mail queue drained", "sent_or_scheduled", n)
			}
			if due, ok, err := w.queue.NextMailDue(ctx); err == nil && ok {
				if d := due.Sub(w.opts.Now()); d < wait {
					wait = max(d, 0)
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain processes due emails until none are left and reports how many it
// handled (sent, rescheduled or given up).
func (w *Worker) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		claimed, err := w.queue.ClaimMail(ctx, w.opts.Name, w.opts.ClaimSize, w.opts.Lease, w.opts.Now())
		if err != nil {
			return total, fmt.Errorf("claim queued emails: %w", err)
		}
		if len(claimed) == 0 {
			return total, nil
		}
		n, err := w.deliverAll(ctx, claimed)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// deliverAll sends the claimed emails, Concurrency at a time, while the
// claim's lease is kept alive, and records the delivered ones together at
// each renewal and at the end: one database write for many emails. Should
// the process die before such a write, the lease runs out and those emails
// go again — a rare duplicate rather than a lost email. It returns how
// many emails it handled.
func (w *Worker) deliverAll(ctx context.Context, claimed []store.QueuedMail) (int, error) {
	c := newClaim(w, claimed)
	stopKeeper := c.keepAlive(ctx)
	sem := make(chan struct{}, w.opts.Concurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		handled  int
		unsent   []int64 // never tried: handed back for any worker
		firstErr error
	)
	for _, q := range claimed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			tried, err := w.deliver(ctx, c, q)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tried:
				handled++
			case ctx.Err() != nil:
				unsent = append(unsent, q.ID)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	stopKeeper()
	// Recorded even when ctx is ending: the emails did go out.
	rctx := context.WithoutCancel(ctx)
	if err := c.flush(rctx); err != nil && firstErr == nil {
		firstErr = err
	}
	if len(unsent) > 0 {
		if _, err := w.queue.ReleaseMail(rctx, c.token, unsent, w.opts.Now()); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("hand back %d unsent emails: %w", len(unsent), err)
		}
	}
	return handled, firstErr
}

// deliver sends one email if the claim still holds it with lease enough
// for the send, and records the outcome: a delivery with the claim's next
// flush, any other outcome here. tried is false when the email was left
// alone. Only store errors are returned: a send failure is an outcome,
// recorded on the email.
func (w *Worker) deliver(ctx context.Context, c *claim, q store.QueuedMail) (tried bool, err error) {
	if ctx.Err() != nil {
		return false, nil
	}
	log := w.opts.Logger.With("mail_id", q.ID, "kind", q.Kind, "attempt", q.Attempts)
	if ok, err := c.sendable(ctx, q.ID); !ok || err != nil {
		// Lost to another worker, or the lease could not be renewed: either
		// way another worker may be sending it, so this one must not.
		return false, err
	}
	msg, err := w.composer.Compose(q, w.opts.Now())
	if err != nil {
		log.Warn("email dropped", "reason", err)
		c.finish(q.ID)
		return true, w.record(q.ID, w.queue.FailMail(ctx, c.token, q.ID, err.Error(), w.opts.Now()))
	}
	sctx, cancel := context.WithTimeout(ctx, w.opts.SendTimeout)
	id, err := w.mailer.Send(sctx, msg)
	cancel()
	if err == nil {
		log.Debug("email sent", "message_id", id)
		c.sent(store.SentMail{ID: q.ID, MessageID: id})
		return true, nil
	}
	if ctx.Err() != nil {
		// Shutting down mid-send, outcome unknown: leave the email to its
		// lease, after which a worker sends it again.
		c.finish(q.ID)
		return true, nil
	}
	c.finish(q.ID)
	if mail.IsPermanent(err) || q.Attempts >= w.opts.MaxAttempts {
		log.Error("email failed for good", "err", err)
		return true, w.record(q.ID, w.queue.FailMail(ctx, c.token, q.ID, err.Error(), w.opts.Now()))
	}
	// Temporary or unknown outcome: for a confirmation or a download link a
	// rare duplicate is better than a lost email, so both are retried.
	next := w.opts.Now().Add(w.backoff(q.Attempts, mail.RetryAfter(err)))
	log.Warn("email send failed, will retry", "err", err, "next_attempt", next)
	return true, w.record(q.ID, w.queue.RetryMail(ctx, c.token, q.ID, next, err.Error()))
}

func (w *Worker) record(id int64, err error) error {
	if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("record outcome of email %d: %w", id, err)
	}
	// ErrConflict: another worker took the email over after our lease ran
	// out; its outcome stands. ErrNotFound: the subscriber was erased
	// meanwhile. Nothing to do either way.
	return nil
}

// backoff is the delay before attempt+1: exponential with jitter, never
// shorter than what the provider asked for.
func (w *Worker) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := w.opts.BaseBackoff
	for i := 1; i < attempt && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, retryAfter)
}
