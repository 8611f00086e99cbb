package newsletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/store"
)

// A digest is a campaign like a guide's: the ledger fixes its recipients
// (every reader with guides waiting) and sends each exactly once through
// kills and retries. What differs is the body: each batch holds readers
// with the same guides (its variant), and is rendered for them.

// DigestSlugPrefix starts the slug of every digest campaign.
const DigestSlugPrefix = "digest-"

// digestDue says whether this run sends a digest, and the campaign to
// create for it: the one of the latest scheduled time, within a day of it,
// if it has none yet; or, with DigestNow, one of this moment. Either only
// when a reader has a guide waiting.
func (s *Sender) digestDue(ctx context.Context) (store.CampaignSpec, bool, error) {
	now := s.opts.Now().In(s.opts.Location)
	spec := store.CampaignSpec{Title: "Przegląd poradników", Subject: "Przegląd poradników",
		TestMode: s.opts.TestMode, DeliverAt: s.opts.DeliverAt, BatchSize: s.opts.BatchSize}
	if s.opts.DigestNow {
		n, err := s.store.DigestWaiting(ctx)
		if err != nil {
			return spec, false, fmt.Errorf("newsletter: %w", err)
		}
		if n == 0 {
			s.opts.Logger.Info("digest: no reader has a new guide waiting; nothing to send")
			return spec, false, nil
		}
		spec.Slug = DigestSlugPrefix + now.Format("2006-01-02-150405")
		spec.Title += " " + emails.FormatDate(now) + " (sent by hand)"
		return spec, true, nil
	}
	if s.opts.Digest.Schedule == "" {
		return spec, false, nil
	}
	last := s.opts.Digest.Last(now, s.opts.Location)
	if now.Sub(last) >= digestGrace {
		// The digest's day passed without a run (or this is the first run
		// in a while): its readers' guides wait for the next one rather
		// than go out on a day nobody expects them.
		return spec, false, nil
	}
	spec.Slug = DigestSlugPrefix + last.Format("2006-01-02")
	spec.Title += " " + emails.FormatDate(last)
	switch _, err := s.store.CampaignBySlug(ctx, spec.Slug); {
	case err == nil:
		return spec, false, nil
	case !errors.Is(err, store.ErrNotFound):
		return spec, false, fmt.Errorf("newsletter: %w", err)
	}
	// Nobody waiting: no campaign, so that a guide sent later that day
	// still makes it into the day's digest.
	n, err := s.store.DigestWaiting(ctx)
	if err != nil {
		return spec, false, fmt.Errorf("newsletter: %w", err)
	}
	return spec, n > 0, nil
}

// digestGrace is how long after its scheduled time a digest may still go
// out; `kb send` is expected to run at least daily (cron).
const digestGrace = 24 * time.Hour

// sendDigest creates and sends the digest if it is due; sent reports
// whether there was one.
func (s *Sender) sendDigest(ctx context.Context, published []guide.Guide) (CampaignSummary, bool, error) {
	spec, ok, err := s.digestDue(ctx)
	if err != nil || !ok {
		return CampaignSummary{Slug: spec.Slug, Title: spec.Title}, err != nil, err
	}
	c, err := s.store.CreateDigest(ctx, spec, s.opts.Now())
	if errors.Is(err, store.ErrCampaignExists) {
		return CampaignSummary{}, false, nil
	}
	if err != nil {
		err = fmt.Errorf("newsletter: %w", err)
		return CampaignSummary{Slug: spec.Slug, Title: spec.Title, Error: err.Error()}, true, err
	}
	s.opts.Logger.Info("digest created", "campaign", c.Slug, "campaign_id", c.ID, "recipients", c.Recipients, "batches", c.Batches)
	body, err := s.bodies(c, published)
	if err != nil {
		return s.summarize(ctx, c, false, 0, 0, err), true, err
	}
	cs, err := s.sendCampaign(ctx, c, body, false)
	return cs, true, err
}

// bodies returns how campaign c's batches are rendered: its guide's email,
// or, for a digest, each batch's guides.
func (s *Sender) bodies(c store.Campaign, published []guide.Guide) (bodyFunc, error) {
	if c.Kind != store.KindDigest {
		g, err := findGuide(published, c.Slug)
		if err != nil {
			return nil, err
		}
		email, err := s.render(g)
		if err != nil {
			return nil, err
		}
		return oneBody(email), nil
	}
	d := &digestBodies{s: s, c: c, published: published, byVariant: map[string]emails.Email{}, guides: map[int64]*guide.Guide{}}
	return d.body, nil
}

// digestBodies renders a digest's variants, each once.
type digestBodies struct {
	s         *Sender
	c         store.Campaign
	published []guide.Guide

	mu        sync.Mutex
	byVariant map[string]emails.Email
	guides    map[int64]*guide.Guide // nil: not published any more
}

func (d *digestBodies) body(ctx context.Context, b store.Batch) (emails.Email, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.byVariant[b.Variant]; ok {
		return e, nil
	}
	var list []guide.Guide
	for _, part := range strings.Split(b.Variant, ",") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return emails.Email{}, fmt.Errorf("digest %q batch %d: bad variant %q", d.c.Slug, b.Seq, b.Variant)
		}
		g, err := d.guide(ctx, id)
		if err != nil {
			return emails.Email{}, err
		}
		if g != nil {
			list = append(list, *g)
		}
	}
	if len(list) == 0 {
		return emails.Email{}, fmt.Errorf("digest %q batch %d: %w", d.c.Slug, b.Seq, errNotPublished)
	}
	e, err := d.s.renderer.Digest(emails.DigestContent{Guides: list, Date: d.c.CreatedAt.In(d.s.opts.Location)})
	if err != nil {
		return emails.Email{}, fmt.Errorf("newsletter: render digest %s: %w", d.c.Slug, err)
	}
	d.byVariant[b.Variant] = e
	return e, nil
}

// guide finds the published guide of campaign id; nil when its guide is no
// longer published (the digest goes out without it).
func (d *digestBodies) guide(ctx context.Context, id int64) (*guide.Guide, error) {
	if g, ok := d.guides[id]; ok {
		return g, nil
	}
	c, err := d.s.store.Campaign(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("newsletter: digest %q: %w", d.c.Slug, err)
	}
	var found *guide.Guide
	if g, err := findGuide(d.published, c.Slug); err == nil {
		found = &g
	} else {
		d.s.opts.Logger.Warn("digest: a guide it lists is not published any more; leaving it out", "digest", d.c.Slug, "guide", c.Slug)
	}
	d.guides[id] = found
	return found, nil
}
