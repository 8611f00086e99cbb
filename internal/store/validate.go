package store

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kbpress/kb/internal/mailaddr"
)

// Limits on what the store accepts. The web layer checks first; the store
// checks again so that no path (import, CLI, a future handler) can store
// junk.
const (
	MaxNameLen      = 200  // characters
	maxVersionLen   = 64   // consent version
	maxSourceLen    = 1024 // consent source: a page path
	maxSlugLen      = 200
	maxTitleLen     = 1000
	maxErrorLen     = 2000 // stored error messages are cut, not rejected
	maxReasonLen    = 500
	maxTokenLen     = 512 // webhook replay tokens
	maxHolderLen    = 200
	maxMessageID    = 998 // RFC 5322 line limit
	maxUserAgentLen = 500
)

// parseEmail normalises addr and returns it with its uniqueness key.
func parseEmail(addr string) (email, key string, err error) {
	email, err = mailaddr.Parse(addr)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrInvalidEmail, err)
	}
	return email, mailaddr.Key(email), nil
}

// checkText rejects invalid UTF-8, control characters (newlines included:
// these values end up in email headers and logs) and overlong values.
func checkText(field, v string, maxRunes int) error {
	switch {
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidInput, field)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: %s contains control characters", ErrInvalidInput, field)
	case utf8.RuneCountInString(v) > maxRunes:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalidInput, field, maxRunes)
	}
	return nil
}

func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, MaxNameLen); err != nil {
		return "", err
	}
	return name, nil
}

// cleanConsent validates the evidence of a signup; a zero At becomes now.
func cleanConsent(c Consent, now time.Time) (Consent, error) {
	c.Version = strings.TrimSpace(c.Version)
	c.Source = strings.TrimSpace(c.Source)
	c.IP = strings.TrimSpace(c.IP)
	if err := checkText("consent version", c.Version, maxVersionLen); err != nil {
		return c, err
	}
	if err := checkText("consent source", c.Source, maxSourceLen); err != nil {
		return c, err
	}
	if c.IP != "" {
		ip, err := netip.ParseAddr(c.IP)
		if err != nil {
			return c, fmt.Errorf("%w: consent IP %q is not an IP address", ErrInvalidInput, c.IP)
		}
		c.IP = ip.Unmap().String()
	}
	c.At = norm(c.At)
	if c.At.IsZero() {
		c.At = now
	}
	return c, nil
}

// sanitize makes free text from outside (error messages, webhook reasons)
// safe to store: valid UTF-8, control characters as spaces, cut to maxBytes.
// Unlike checkText it never refuses: losing an unsubscribe or an error
// report over its wording would be worse.
func sanitize(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxBytes {
		cut := maxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// addressLike matches what looks like an email address inside free text.
var addressLike = regexp.MustCompile(`[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+\.[^\s<>"'(),;:@]+`)

// errorText is how a stored error message is kept: sanitized, and without
// any address a provider's message may quote. Errors outlive erasure in
// the campaign ledger and the queue's history, so they name recipients by
// id, never by address (RODO art. 17).
func errorText(msg string) string {
	return sanitize(addressLike.ReplaceAllString(msg, "[adres]"), maxErrorLen)
}
