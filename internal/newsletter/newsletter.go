// Package newsletter sends every new guide to every confirmed subscriber
// through the mail transport, exactly once, and can prove it from the
// database.
//
// A guide becomes a campaign; creating the campaign fixes its recipients
// and numbers them into batches in the store before anything is sent. Each
// batch then moves pending → sending → sent in the ledger around one
// transport call. A batch whose call may or may not have reached the mail
// service (a timeout after the request went out, or a process that died
// mid-call) is never sent again blindly: the service's accepted events are
// asked which of its recipients it took, those are recorded as resolved and
// only the rest is sent. One send lock in the database keeps two `kb send`
// from working at once.
//
// Mailgun fills in each recipient's greeting and unsubscribe link
// (recipient variables), so a batch carries one rendered body however many
// recipients it has, and memory does not grow with the list.
package newsletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	mailpkg "github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
)

// Store is the part of the store the sender uses: the campaign ledger, the
// send lock and a count of confirmed subscribers. *store.Store implements it.
type Store interface {
	AcquireSendLock(ctx context.Context, holder string) (release func(context.Context) error, err error)
	CreateCampaign(ctx context.Context, spec store.CampaignSpec, now time.Time) (store.Campaign, error)
	CreateDigest(ctx context.Context, spec store.CampaignSpec, now time.Time) (store.Campaign, error)
	DigestWaiting(ctx context.Context) (int, error)
	Campaign(ctx context.Context, id int64) (store.Campaign, error)
	CampaignBySlug(ctx context.Context, slug string) (store.Campaign, error)
	UnfinishedCampaigns(ctx context.Context) ([]store.Campaign, error)
	StartCampaign(ctx context.Context, id int64, now time.Time) error
	FinishCampaign(ctx context.Context, id int64, now time.Time) error
	FailCampaign(ctx context.Context, id int64, errMsg string, now time.Time) error
	Batches(ctx context.Context, campaignID int64) ([]store.Batch, error)
	BatchRecipients(ctx context.Context, batchID int64) ([]store.Recipient, error)
	StartBatch(ctx context.Context, batchID int64, now time.Time) error
	FinishBatch(ctx context.Context, batchID int64, messageID string, now time.Time) error
	MarkBatchUnknown(ctx context.Context, batchID int64, errMsg string) error
	ResolveBatch(ctx context.Context, batchID int64, accepted []string, now time.Time) (resolved, remaining int, err error)
	FailBatch(ctx context.Context, batchID int64, errMsg string) error
	GuideAudience(ctx context.Context, topics []string) (each, digest int, err error)
}

// Transport sends batches and single test messages and reports which
// recipients it accepted. *mail.Mailgun and *mail.Outbox implement it.
type Transport interface {
	SendBatch(ctx context.Context, b *mailpkg.Batch) (messageID string, err error)
	Send(ctx context.Context, m *mailpkg.Message) (messageID string, err error)
	Accepted(ctx context.Context, q mailpkg.AcceptedQuery) ([]string, error)
}

// Renderer renders a guide, or a digest of guides, as a newsletter email
// with Mailgun recipient variables in it. *emails.Templates implements it.
type Renderer interface {
	Newsletter(g guide.Guide, opts emails.NewsletterOptions) (emails.Email, error)
	Digest(d emails.DigestContent) (emails.Email, error)
}

// Links signs the unsubscribe and preference links. *token.Links
// implements it.
type Links interface {
	Unsubscribe(subscriberID int64, key string) string
	Preferences(subscriberID int64, key string) string
}

// Limiter paces sending; *rate.Limiter implements it.
type Limiter interface {
	WaitN(ctx context.Context, n int) error
}

// Defaults for the zero values of Options.
const (
	DefaultConcurrency = 4
	DefaultSettle      = 10 * time.Minute
	DefaultMaxAttempts = 6
	DefaultBaseBackoff = 2 * time.Second
	DefaultMaxBackoff  = 2 * time.Minute
)

// Mailgun v: variables every batch carries. The accepted-events lookup
// finds a batch's recipients by VarBatch.
const (
	VarCampaign = "kb-campaign"
	VarBatch    = "kb-batch"
)

// TestTag tags the copies SendTest sends.
const TestTag = "kb-test"

// Options configure a Sender. The zero value of a field means its default.
type Options struct {
	// From and ReplyTo are RFC 5322 mailboxes (config.MailParams.From()).
	From    string
	ReplyTo string
	// Since: guides dated before this calendar day are never sent
	// (params.newsletter.since); zero means no bound.
	Since time.Time
	// FullTextMaxWords: longer guides are sent as their opening
	// (params.newsletter.full_text_max_words).
	FullTextMaxWords int
	// BatchSize is the most recipients per call, at most store.MaxBatchSize
	// (the default). It applies to campaigns created from now on.
	BatchSize int
	// Concurrency is how many calls are in flight at once (default 4).
	Concurrency int
	// RatePerHour caps messages per hour (new Mailgun accounts); 0 means
	// no cap. Limiter, if set, is used instead.
	RatePerHour int
	Limiter     Limiter
	// DeliverAt schedules new campaigns (Mailgun o:deliverytime); zero
	// sends at once. TestMode makes Mailgun accept without delivering
	// (o:testmode). Both are recorded with the campaign, so a resumed
	// campaign keeps what it was created with.
	DeliverAt time.Time
	TestMode  bool
	// Settle is how long after a call whose outcome is unknown Mailgun's
	// events are trusted to be complete: such a batch is reconciled only
	// once its last attempt started at least Settle ago. 0 means
	// DefaultSettle; a negative value means at once (tests).
	Settle time.Duration
	// MaxAttempts bounds the calls made for one batch in one run (default
	// 6); a batch still not sent is left for the next run, and the run
	// fails.
	MaxAttempts int
	// BaseBackoff is the delay after a batch's first temporary failure,
	// doubled each time up to MaxBackoff, with jitter; a longer Retry-After
	// from Mailgun wins.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	Logger      *slog.Logger
	// Progress is told how far each campaign has got; nil reports nothing.
	Progress Progress
	// Now is the clock (tests).
	Now func() time.Time
	// Holder names this process in the send lock, for the error another
	// `kb send` gets; default hostname:pid.
	Holder string
	// LockWait is how long Run waits for another `kb send` to release the
	// send lock before giving up with an error naming it; 0 gives up at
	// once.
	LockWait time.Duration
	// Digest is when the digest is due (params.newsletter.digest); a zero
	// Schedule sends no scheduled digest. Location is the firm's time zone
	// for it (default Europe/Warsaw).
	Digest   config.Digest
	Location *time.Location
	// DigestNow sends the digest in this run whatever the schedule says
	// (`kb send --digest`), if any reader has a guide waiting.
	DigestNow bool
}

func (o *Options) defaults() {
	if o.BatchSize == 0 {
		o.BatchSize = store.MaxBatchSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Settle < 0 {
		o.Settle = 0
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.BaseBackoff)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		if loc, err := time.LoadLocation("Europe/Warsaw"); err == nil {
			o.Location = loc
		} else {
			o.Location = time.UTC
		}
	}
	if o.Holder == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "unknown-host"
		}
		o.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
}

// check reports options no campaign could be sent with.
func (o *Options) check() error {
	if o.From == "" {
		return errors.New("newsletter: the sender address (From) is required")
	}
	if _, err := mail.ParseAddress(o.From); err != nil {
		return fmt.Errorf("newsletter: From %q is not a valid mailbox: %w", o.From, err)
	}
	if o.ReplyTo != "" {
		if _, err := mail.ParseAddress(o.ReplyTo); err != nil {
			return fmt.Errorf("newsletter: ReplyTo %q is not a valid mailbox: %w", o.ReplyTo, err)
		}
	}
	if o.BatchSize < 1 || o.BatchSize > store.MaxBatchSize {
		return fmt.Errorf("newsletter: batch size %d is not between 1 and %d (Mailgun's limit)", o.BatchSize, store.MaxBatchSize)
	}
	if o.RatePerHour < 0 {
		return fmt.Errorf("newsletter: rate %d per hour is negative", o.RatePerHour)
	}
	return nil
}

// Sender sends due guides as campaigns.
type Sender struct {
	store     Store
	transport Transport
	renderer  Renderer
	links     Links
	opts      Options
	limiter   Limiter
	// sleep waits for d or until ctx is done; tests replace it to observe
	// backoff without waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Sender. Options are checked when it is used, so that a
// configuration error surfaces as the error of `kb send`.
func New(st Store, transport Transport, renderer Renderer, links Links, opts Options) *Sender {
	opts.defaults()
	s := &Sender{store: st, transport: transport, renderer: renderer, links: links, opts: opts, limiter: opts.Limiter, sleep: sleepCtx}
	if s.limiter == nil && opts.RatePerHour > 0 {
		// The burst must admit a whole batch: WaitN refuses n > burst. The
		// bucket starts full, so the first batch goes at once and the rest
		// follow at the configured rate.
		s.limiter = rate.NewLimiter(rate.Limit(float64(opts.RatePerHour)/3600), max(opts.BatchSize, store.MaxBatchSize))
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Due returns the guides to send as new campaigns, oldest first: those
// marked for the newsletter, dated on or after Since, whose page exists in
// publishDir (the email links to it), and that have no campaign yet.
// Drafts and future guides are already excluded by the site build.
func (s *Sender) Due(ctx context.Context, guides []guide.Guide, publishDir string) ([]guide.Guide, error) {
	published, err := s.published(guides, publishDir)
	if err != nil {
		return nil, err
	}
	return s.due(ctx, published)
}

// due filters published guides down to those due as new campaigns.
func (s *Sender) due(ctx context.Context, published []guide.Guide) ([]guide.Guide, error) {
	var due []guide.Guide
	for _, g := range published {
		if !onOrAfter(g.Date, s.opts.Since) {
			continue
		}
		switch _, err := s.store.CampaignBySlug(ctx, g.Slug); {
		case errors.Is(err, store.ErrNotFound):
			due = append(due, g)
		case err != nil:
			return nil, fmt.Errorf("newsletter: %w", err)
		}
	}
	return due, nil
}

// published are the guides marked for the newsletter whose page is in
// publishDir, oldest first, whether or not they have a campaign or are
// older than Since: an unfinished campaign goes on whatever Since says now.
func (s *Sender) published(guides []guide.Guide, publishDir string) ([]guide.Guide, error) {
	seen := make(map[string]string, len(guides))
	var out []guide.Guide
	for _, g := range guides {
		if !g.Newsletter {
			continue
		}
		if err := checkGuide(g); err != nil {
			return nil, err
		}
		if other, dup := seen[g.Slug]; dup {
			// One campaign per slug: two guides sharing one would leave one
			// of them unsent without anyone noticing.
			return nil, fmt.Errorf("newsletter: guides %s and %s share the slug %q; give one of them another slug", other, g.SourcePath, g.Slug)
		}
		seen[g.Slug] = g.SourcePath
		if err := pageExists(publishDir, g); err != nil {
			s.opts.Logger.Warn("guide not sent: its page is not in the publish directory (run kb build first?)",
				"guide", g.Slug, "page", g.OutputPath, "err", err)
			continue
		}
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b guide.Guide) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Slug, b.Slug)
	})
	return out, nil
}

func checkGuide(g guide.Guide) error {
	switch {
	case strings.TrimSpace(g.Slug) == "":
		return fmt.Errorf("newsletter: guide %s has an empty slug", g.SourcePath)
	case g.OutputPath == "" || !filepath.IsLocal(filepath.FromSlash(g.OutputPath)):
		return fmt.Errorf("newsletter: guide %s: output path %q is not inside the publish directory", g.Slug, g.OutputPath)
	}
	return nil
}

// onOrAfter compares calendar days: a guide dated on the Since day, in its
// own time zone, is sent ("guides published before this date are never
// sent").
func onOrAfter(date, since time.Time) bool {
	if since.IsZero() {
		return true
	}
	y, m, d := date.Date()
	sy, sm, sd := since.Date()
	return !time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(time.Date(sy, sm, sd, 0, 0, 0, 0, time.UTC))
}

func pageExists(publishDir string, g guide.Guide) error {
	fi, err := os.Stat(filepath.Join(publishDir, filepath.FromSlash(g.OutputPath)))
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", g.OutputPath)
	}
	return nil
}

// PlanItem is one campaign a Run would send.
type PlanItem struct {
	Slug    string `json:"slug"`
	Title   string `json:"title"`
	Subject string `json:"subject"`
	// CampaignID is 0 for a campaign Run would create.
	CampaignID int64 `json:"campaign_id,omitempty"`
	// State is "" for a new campaign, else pending or sending (unfinished).
	State store.CampaignState `json:"state,omitempty"`
	// Recipients: who would get it now (new: the readers of each guide on
	// its topics; a digest: the readers with guides waiting), or the fixed
	// list (unfinished). Remaining is what is still to be sent or
	// reconciled.
	Recipients int `json:"recipients"`
	Remaining  int `json:"remaining"`
	// Batches is the number of batches; RemainingBatches those not done.
	Batches          int `json:"batches"`
	RemainingBatches int `json:"remaining_batches"`
	// Problem says why Run would not send this campaign now, if so.
	Problem string `json:"problem,omitempty"`
}

// Plan lists what Run would send — unfinished campaigns first, then new
// ones — without calling the transport or changing anything.
func (s *Sender) Plan(ctx context.Context, guides []guide.Guide, publishDir string) (plan []PlanItem, err error) {
	if err := s.opts.check(); err != nil {
		return nil, err
	}
	published, err := s.published(guides, publishDir)
	if err != nil {
		return nil, err
	}
	unfinished, err := s.store.UnfinishedCampaigns(ctx)
	if err != nil {
		return nil, fmt.Errorf("newsletter: %w", err)
	}
	for _, c := range unfinished {
		item := PlanItem{Slug: c.Slug, Title: c.Title, Subject: c.Subject, CampaignID: c.ID, State: c.State,
			Recipients: c.Recipients, Batches: c.Batches,
			Remaining: c.Recipients - c.Sent - c.Resolved - c.Skipped - c.Failed}
		batches, err := s.store.Batches(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("newsletter: %w", err)
		}
		for _, b := range batches {
			if b.State != store.BatchSent && b.State != store.BatchFailed {
				item.RemainingBatches++
			}
		}
		if _, err := findGuide(published, c.Slug); err != nil {
			item.Problem = err.Error()
		}
		plan = append(plan, item)
	}
	due, err := s.due(ctx, published)
	if err != nil {
		return nil, err
	}
	for _, g := range due {
		each, _, err := s.store.GuideAudience(ctx, g.Topics)
		if err != nil {
			return nil, fmt.Errorf("newsletter: %w", err)
		}
		batches := (each + s.opts.BatchSize - 1) / s.opts.BatchSize
		plan = append(plan, PlanItem{Slug: g.Slug, Title: g.Title, Subject: g.Subject(),
			Recipients: each, Remaining: each, Batches: batches, RemainingBatches: batches})
	}
	spec, ok, err := s.digestDue(ctx)
	if err != nil || !ok {
		return plan, err
	}
	n, err := s.store.DigestWaiting(ctx)
	if err != nil {
		return nil, fmt.Errorf("newsletter: %w", err)
	}
	if len(due) > 0 {
		// The due guides join the digest; their digest readers are not
		// counted here.
		spec.Title += " (with the guides above)"
	}
	return append(plan, PlanItem{Slug: spec.Slug, Title: spec.Title, Subject: spec.Subject, Recipients: n, Remaining: n}), nil
}

// errNotPublished explains why an unfinished campaign cannot go on.
var errNotPublished = errors.New("its guide is not published with newsletter: true, or its page is missing from the publish directory")

func findGuide(published []guide.Guide, slug string) (guide.Guide, error) {
	for _, g := range published {
		if g.Slug == slug {
			return g, nil
		}
	}
	return guide.Guide{}, fmt.Errorf("campaign %q cannot continue: %w; publish it again or cancel the campaign", slug, errNotPublished)
}
