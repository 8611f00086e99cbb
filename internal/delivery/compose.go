package delivery

import (
	"fmt"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// Transactional composes the confirmation and whitepaper emails from the
// prepared templates and freshly signed links.
type Transactional struct {
	Templates *emails.Templates
	Links     *token.Links
	From      string
	ReplyTo   string
	// WhitepaperGated selects a signed, expiring download link; otherwise
	// the email links the public PDF at WhitepaperURL.
	WhitepaperGated bool
	WhitepaperURL   string
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
		if c.WhitepaperGated {
			expires := now.Add(token.WhitepaperTTL)
			e = c.Templates.Whitepaper(c.Links.Whitepaper(q.SubscriberID, q.LinkKey, expires), unsubscribe, expires)
		} else {
			e = c.Templates.Whitepaper(c.WhitepaperURL, unsubscribe, time.Time{})
		}
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
