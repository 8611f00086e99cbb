package emails

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/kbpress/kb/internal/guide"
)

// DigestContent is one issue of the digest: the new guides on a reader's
// topics since the previous issue.
type DigestContent struct {
	Guides []guide.Guide // the guides of this digest; rendered newest first
	Date   time.Time     // the issue date, shown in the subject and heading
}

// Digest renders one digest issue as an email whose personal parts are
// Mailgun recipient variables (%recipient.…%, see RecipientVars), so one
// rendering serves a batch of recipients with the same guides.
func (t *Templates) Digest(d DigestContent) (Email, error) {
	if len(d.Guides) == 0 {
		return Email{}, errors.New("emails: a digest needs at least one guide")
	}
	guides := slices.Clone(d.Guides)
	slices.SortFunc(guides, func(a, b guide.Guide) int {
		return cmp.Or(b.Date.Compare(a.Date), cmp.Compare(a.Slug, b.Slug))
	})
	items := make([]guideView, len(guides))
	for i, g := range guides {
		if !absoluteHTTP(g.Permalink) {
			return Email{}, fmt.Errorf("emails: digest: guide %s: permalink %q is not an absolute http(s) URL", g.Slug, g.Permalink)
		}
		items[i] = guideView{Title: g.Title, Description: g.Description, Permalink: g.Permalink, ReadingTime: g.ReadingTime}
		if !g.Date.IsZero() {
			items[i].Date = FormatDate(g.Date.In(t.site.Location))
		}
	}
	date := FormatDate(d.Date.In(t.site.Location))
	v := view{
		Site:           t.site,
		Subject:        NewGuides(len(items)) + " – przegląd z " + date,
		Heading:        "Przegląd poradników z " + date,
		Greeting:       phGreeting,
		UnsubscribeURL: phUnsubscribe,
		PreferencesURL: phPreferences,
		Guides:         items,
	}
	p, err := prepare(t.digest, v)
	if err != nil {
		return Email{}, fmt.Errorf("emails: digest: %w", err)
	}
	return p.batch(), nil
}

// NewGuides says "n new guides" in Polish, whose noun and adjective take
// one form for 1, another for numbers ending in 2–4 (except 12–14) and a
// third (genitive plural) for the rest.
func NewGuides(n int) string {
	switch {
	case n == 1:
		return "1 nowy poradnik"
	case n%10 >= 2 && n%10 <= 4 && (n%100 < 12 || n%100 > 14):
		return fmt.Sprintf("%d nowe poradniki", n)
	default:
		return fmt.Sprintf("%d nowych poradników", n)
	}
}

// absoluteHTTP reports whether s is an absolute http(s) URL with a host; a
// link in an email has no page to be relative to, and other schemes
// (javascript:, data:) have no business there.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
