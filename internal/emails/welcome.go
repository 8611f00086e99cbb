package emails

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/guide"
)

// WelcomeContent is what the welcome email, sent once a subscriber has
// confirmed, tells them.
type WelcomeContent struct {
	PreferencesURL, UnsubscribeURL string
	Topics                         []config.Topic // what they will get (new subscribers get every topic)
	Frequency                      string         // params.newsletter.frequency, e.g. "zwykle dwa razy w miesiącu"; may be ""
	Digest                         string         // Digest.Describe(), e.g. "w każdy poniedziałek": when the digest comes
	StartHere                      []guide.Guide  // 3–5 guides to start with
	// WhitepaperURL: the download link when they asked for the whitepaper, else "".
	WhitepaperURL     string
	WhitepaperExpires time.Time // zero: the link does not expire
}

type welcomeView struct {
	Topics    []config.Topic
	Frequency string
	Digest    string
	StartHere []guideView
}

// welcomeCache keeps the welcome email prepared per variant of its
// non-personal content. The content comes from config.toml, so there are
// a handful of variants (with or without the whitepaper and its expiry);
// the bound only guards against a caller that varies it per message.
type welcomeCache struct {
	mu sync.Mutex
	m  map[string]prepared
}

const welcomeCacheMax = 16

// Welcome is the email a subscriber gets once they confirmed. It is
// transactional: every value is filled in here, none is left to Mailgun.
func (t *Templates) Welcome(w WelcomeContent) Email {
	p, err := t.prepareWelcome(w)
	if err != nil {
		// New rendered both extremes of the template already; what varies
		// here is data, which the template only escapes and prints.
		panic(err)
	}
	vals := map[string]string{
		phGreeting:    Greeting,
		phUnsubscribe: w.UnsubscribeURL,
		phPreferences: w.PreferencesURL,
	}
	if w.WhitepaperURL != "" {
		vals[phAction] = w.WhitepaperURL
		if !w.WhitepaperExpires.IsZero() {
			vals[phExpires] = FormatDateTime(w.WhitepaperExpires.In(t.site.Location))
		}
	}
	return p.fill(p.subject, vals)
}

// prepareWelcome renders the welcome email for w's non-personal content,
// with placeholders for the links, the greeting and the expiry.
func (t *Templates) prepareWelcome(w WelcomeContent) (prepared, error) {
	wv := welcomeView{Topics: w.Topics, Frequency: w.Frequency, Digest: w.Digest}
	for _, g := range w.StartHere {
		wv.StartHere = append(wv.StartHere, guideView{
			Title: g.Title, Description: g.Description,
			Permalink: t.absolute(g.Permalink), ReadingTime: g.ReadingTime,
		})
	}
	withWP := w.WhitepaperURL != ""
	expires := withWP && !w.WhitepaperExpires.IsZero()
	key := fmt.Sprintf("%t %t %#v", withWP, expires, wv)

	t.welcomes.mu.Lock()
	defer t.welcomes.mu.Unlock()
	if p, ok := t.welcomes.m[key]; ok {
		return p, nil
	}
	v := view{
		Site:           t.site,
		Subject:        "Witaj w newsletterze " + t.site.shortName(),
		Greeting:       phGreeting,
		UnsubscribeURL: phUnsubscribe,
		PreferencesURL: phPreferences,
		WithWhitepaper: withWP,
		Welcome:        wv,
	}
	if withWP {
		v.ActionURL = phAction
	}
	if expires {
		v.Expires = phExpires
	}
	p, err := prepare(t.welcome, v)
	if err != nil {
		return prepared{}, fmt.Errorf("emails: welcome: %w", err)
	}
	if t.welcomes.m == nil || len(t.welcomes.m) >= welcomeCacheMax {
		t.welcomes.m = make(map[string]prepared)
	}
	t.welcomes.m[key] = p
	return p, nil
}

// welcomeSamples exercise every branch of welcome.html, for New.
var welcomeSamples = []WelcomeContent{
	{},
	{
		PreferencesURL: "https://example.pl/p", UnsubscribeURL: "https://example.pl/u",
		Topics:    []config.Topic{{ID: "a", Name: "A", Description: "Opis"}},
		Frequency: "zwykle dwa razy w miesiącu", Digest: "w każdy poniedziałek",
		StartHere:     []guide.Guide{{Title: "T", Description: "D", Permalink: "https://example.pl/g/", ReadingTime: 3}},
		WhitepaperURL: "https://example.pl/w", WhitepaperExpires: time.Unix(0, 0),
	},
}

// absolute resolves a root-relative link against the site, so a guide
// handed over without its full permalink still links somewhere real.
func (t *Templates) absolute(link string) string {
	if absoluteHTTP(link) {
		return link
	}
	base, err := url.Parse(t.site.BaseURL)
	if err != nil {
		return link
	}
	return string(resolve(base, []byte(link)))
}

// shortName is the site's name for subjects: the firm's short name, else
// the site title up to its " · " tagline.
func (s Site) shortName() string {
	if s.ShortName != "" {
		return s.ShortName
	}
	name, _, _ := strings.Cut(s.Title, " · ")
	return name
}
