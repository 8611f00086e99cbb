package mail

import (
	"context"
	"time"

	"github.com/mailgun/mailgun-go/v4"
)

// SuppressionKind names one of Mailgun's suppression lists.
type SuppressionKind string

const (
	SuppressedBounce      SuppressionKind = "bounce"
	SuppressedComplaint   SuppressionKind = "complaint"
	SuppressedUnsubscribe SuppressionKind = "unsubscribe"
)

// Suppression is an address Mailgun will not deliver to, and why.
type Suppression struct {
	Kind    SuppressionKind
	Address string
	At      time.Time
	// Reason is a bounce's SMTP code and error, if any.
	Reason string
}

// suppressionPageSize is the largest page Mailgun serves.
const suppressionPageSize = 1000

// Suppressions calls fn with every entry of the domain's bounce, complaint
// and unsubscribe lists, page by page (memory holds one page). It stops at
// the first error, fn's or Mailgun's.
func (m *Mailgun) Suppressions(ctx context.Context, fn func(Suppression) error) error {
	opts := &mailgun.ListOptions{Limit: suppressionPageSize}
	bounces := m.mg.ListBounces(opts)
	if err := pages(ctx, bounces.Next, bounces.Err, func(b mailgun.Bounce) error {
		reason := b.Code
		if b.Error != "" {
			reason += " " + b.Error
		}
		return fn(Suppression{Kind: SuppressedBounce, Address: b.Address, At: time.Time(b.CreatedAt), Reason: reason})
	}); err != nil {
		return err
	}
	complaints := m.mg.ListComplaints(opts)
	if err := pages(ctx, complaints.Next, complaints.Err, func(c mailgun.Complaint) error {
		return fn(Suppression{Kind: SuppressedComplaint, Address: c.Address, At: time.Time(c.CreatedAt)})
	}); err != nil {
		return err
	}
	unsubscribes := m.mg.ListUnsubscribes(opts)
	return pages(ctx, unsubscribes.Next, unsubscribes.Err, func(u mailgun.Unsubscribe) error {
		return fn(Suppression{Kind: SuppressedUnsubscribe, Address: u.Address, At: time.Time(u.CreatedAt)})
	})
}

// pages walks one of mailgun-go's list iterators; a page with no items
// ends it (Mailgun's "next" never runs out by itself).
func pages[T any](ctx context.Context, next func(context.Context, *[]T) bool, iterErr func() error, fn func(T) error) error {
	var page []T
	for {
		octx, att := observe(ctx)
		if !next(octx, &page) {
			if err := iterErr(); err != nil {
				return classify(err, att, false)
			}
			return nil
		}
		for _, item := range page {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
}
