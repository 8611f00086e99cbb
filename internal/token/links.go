package token

import (
	"net/url"
	"strings"
	"time"
)

// Paths of the handlers that receive the links; internal/web serves them.
const (
	ConfirmPath     = "/api/confirm"
	UnsubscribePath = "/api/unsubscribe"
	WhitepaperPath  = "/api/whitepaper"
	PreferencesPath = "/api/preferences"
)

// How long links stay valid. Unsubscribe links never expire.
const (
	ConfirmTTL    = 72 * time.Hour
	WhitepaperTTL = 7 * 24 * time.Hour
)

// Links builds the absolute, signed URLs that go into emails.
type Links struct {
	signer *Signer
	base   string
}

// NewLinks returns Links for the site at baseURL (e.g. https://wiedza.example.pl/).
func NewLinks(s *Signer, baseURL string) *Links {
	return &Links{signer: s, base: strings.TrimSuffix(baseURL, "/")}
}

func (l *Links) url(path, tok string) string {
	return l.base + path + "?token=" + url.QueryEscape(tok)
}

// Confirm is the double opt-in link for a signup queued at issued; key is
// the subscriber row's link key.
func (l *Links) Confirm(subscriberID int64, key string, issued time.Time) string {
	return l.url(ConfirmPath, l.signer.Sign(Claims{Purpose: Confirm, SubscriberID: subscriberID, Key: key, Expires: issued.Add(ConfirmTTL)}))
}

// Unsubscribe is the permanent one-click unsubscribe link.
func (l *Links) Unsubscribe(subscriberID int64, key string) string {
	return l.url(UnsubscribePath, l.signer.Sign(Claims{Purpose: Unsubscribe, SubscriberID: subscriberID, Key: key}))
}

// Whitepaper is the gated download link for a subscriber, valid until expires.
func (l *Links) Whitepaper(subscriberID int64, key string, expires time.Time) string {
	return l.url(WhitepaperPath, l.signer.Sign(Claims{Purpose: Whitepaper, SubscriberID: subscriberID, Key: key, Expires: expires}))
}

// Preferences is the permanent link to the subscriber's preference page.
func (l *Links) Preferences(subscriberID int64, key string) string {
	return l.url(PreferencesPath, l.signer.Sign(Claims{Purpose: Preferences, SubscriberID: subscriberID, Key: key}))
}
