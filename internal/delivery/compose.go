package delivery

import (
	"fmt"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// Transactional composes the confirmation, welcome and whitepaper emails
// from the templates and freshly signed links.
type Transactional struct {
	Templates *emails.Templates
	Links     *token.Links
	From      string
	ReplyTo   string
	// WhitepaperGated selects a signed, expiring download link; otherwise
	// the email links the public PDF at WhitepaperURL.
	WhitepaperGated bool
	WhitepaperURL   string
	// Welcome is what the welcome email says about the newsletter.
	Welcome Welcome
}

// Welcome is the newsletter as the welcome email describes it.
type Welcome struct {
	Topics    []config.Topic
	Frequency string // params.newsletter.frequency
	Digest    string // when the digest comes (config.Digest.Describe)
	// StartHere returns the guides to start with; it is asked at each
	// welcome email, so a new build's guides count at once. May be nil.
	StartHere func() []guide.Guide
}

// Compose implements Composer.
func (c *Transactional) Compose(q store.QueuedMail, now time.Time) (*mail.Message, error) {
	var e emails.Email
	unsubscribe := c.Links.Unsubscribe(q.SubscriberID, q.LinkKey)
	switch q.Kind {
	case store.MailConfirm:
		if expires := q.CreatedAt.Add(token.ConfirmTTL); !now.Before(expires) {
			return nil, fmt.Errorf("%w: confirmation link expired at %s before it could be sent", ErrDrop, expires.Format(time.RFC3339))
		}
		e = c.Templates.Confirmation(c.Links.Confirm(q.SubscriberID, q.LinkKey, q.CreatedAt), unsubscribe, q.WantsWhitepaper)
	case store.MailWhitepaper:
		url, expires := c.download(q, now)
		e = c.Templates.Whitepaper(url, unsubscribe, expires)
	case store.MailWelcome:
		w := emails.WelcomeContent{
			PreferencesURL: c.Links.Preferences(q.SubscriberID, q.LinkKey),
			UnsubscribeURL: unsubscribe,
			Topics:         c.Welcome.Topics,
			Frequency:      c.Welcome.Frequency,
			Digest:         c.Welcome.Digest,
		}
		if c.Welcome.StartHere != nil {
			w.StartHere = c.Welcome.StartHere()
		}
		if q.WantsWhitepaper {
			w.WhitepaperURL, w.WhitepaperExpires = c.download(q, now)
		}
		e = c.Templates.Welcome(w)
	default:
		return nil, fmt.Errorf("%w: unknown email kind %q", ErrDrop, q.Kind)
	}
	return &mail.Message{
		From:    c.From,
		ReplyTo: c.ReplyTo,
		To:      q.To,
		Subject: e.Subject,
		HTML:    e.HTML,
		Text:    e.Text,
		Headers: e.Headers,
		Tags:    []string{"kb-" + string(q.Kind)},
	}, nil
}

// download is the whitepaper link for q: signed and expiring when gated,
// else the public PDF (expires zero).
func (c *Transactional) download(q store.QueuedMail, now time.Time) (string, time.Time) {
	if !c.WhitepaperGated {
		return c.WhitepaperURL, time.Time{}
	}
	expires := now.Add(token.WhitepaperTTL)
	return c.Links.Whitepaper(q.SubscriberID, q.LinkKey, expires), expires
}
