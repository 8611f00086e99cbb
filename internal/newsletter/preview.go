package newsletter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailaddr"
)

// ErrNothingDue is returned by SendTest when no guide is due.
var ErrNothingDue = errors.New("newsletter: no guide is due")

// sampleVars are the recipient variables of a test copy or a preview. The
// unsubscribe link is signed for subscriber 0, which never exists: it
// looks and renders like a real one, and does nothing.
func (s *Sender) sampleVars() map[string]string {
	return emails.RecipientVars(s.links.Unsubscribe(0, "sample"), s.links.Preferences(0, "sample"))
}

// SendTest sends one copy of each due guide to address through the
// transport, as a subscriber would get it, with
// "[TEST]" before the subject and an unsubscribe link that does nothing.
// The ledger is not touched: the guides stay due.
func (s *Sender) SendTest(ctx context.Context, guides []guide.Guide, publishDir, address string) error {
	if err := s.opts.check(); err != nil {
		return err
	}
	to, err := mailaddr.Parse(address)
	if err != nil {
		return fmt.Errorf("newsletter: test address %q: %w", address, err)
	}
	due, err := s.Due(ctx, guides, publishDir)
	if err != nil {
		return err
	}
	if len(due) == 0 {
		return ErrNothingDue
	}
	for _, g := range due {
		e, err := s.render(g)
		if err != nil {
			return err
		}
		e = e.Fill(s.sampleVars())
		id, err := s.transport.Send(ctx, &mail.Message{
			From:    s.opts.From,
			ReplyTo: s.opts.ReplyTo,
			To:      to,
			Subject: "[TEST] " + e.Subject,
			HTML:    e.HTML,
			Text:    e.Text,
			Headers: e.Headers,
			Tags:    []string{TestTag},
		})
		if err != nil {
			return fmt.Errorf("newsletter: test copy of %s to %s: %w", g.Slug, to, err)
		}
		s.opts.Logger.Info("test copy sent", "guide", g.Slug, "to", to, "message_id", id)
	}
	return nil
}

// Preview writes guide g's email, filled in for a sample subscriber, to
// dir as SLUG.html and SLUG.txt, to open in a browser and an editor.
func (s *Sender) Preview(g guide.Guide, dir string) (htmlPath, textPath string, err error) {
	e, err := s.render(g)
	if err != nil {
		return "", "", err
	}
	return writePreview(e.Fill(s.sampleVars()), dir, fileName(g.Slug))
}

// PreviewDigest writes a sample digest of guides (newest first; the
// caller picks them, e.g. the latest few) to dir as digest.html and
// digest.txt.
func (s *Sender) PreviewDigest(guides []guide.Guide, dir string) (htmlPath, textPath string, err error) {
	e, err := s.renderer.Digest(emails.DigestContent{Guides: guides, Date: s.opts.Now().In(s.opts.Location)})
	if err != nil {
		return "", "", fmt.Errorf("newsletter: preview digest: %w", err)
	}
	return writePreview(e.Fill(s.sampleVars()), dir, "digest")
}

func writePreview(e emails.Email, dir, name string) (htmlPath, textPath string, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", fmt.Errorf("newsletter: preview: %w", err)
	}
	base := filepath.Join(dir, name)
	htmlPath, textPath = base+".html", base+".txt"
	if err := os.WriteFile(htmlPath, []byte(e.HTML), 0o640); err != nil {
		return "", "", fmt.Errorf("newsletter: preview: %w", err)
	}
	text := "Subject: " + e.Subject + "\n\n" + e.Text
	if err := os.WriteFile(textPath, []byte(text), 0o640); err != nil {
		return "", "", fmt.Errorf("newsletter: preview: %w", err)
	}
	return htmlPath, textPath, nil
}

// fileName keeps a slug from choosing a path.
func fileName(slug string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(slug) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	if b.Len() == 0 {
		return "guide"
	}
	return b.String()
}
