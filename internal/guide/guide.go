// Package guide is the guide as data: what the site build knows about each
// published guide, handed to the newsletter without linking Hugo into it.
package guide

import "time"

// Guide is one published guide.
type Guide struct {
	// Slug is the last path segment of the guide's URL; it names the
	// newsletter campaign and the Mailgun tag.
	Slug        string
	Title       string
	Description string
	// Summary is Hugo's summary of the guide as plain text.
	Summary string
	// Permalink is the absolute URL of the guide's page.
	Permalink string
	// OutputPath is the built page relative to the publish directory,
	// e.g. "poradniki/zalegla-faktura/index.html".
	OutputPath string
	Date       time.Time
	Tags       []string
	// Topics are the newsletter topics (config ids) the guide belongs to;
	// none means every subscriber gets it.
	Topics      []string
	WordCount   int
	ReadingTime int // minutes
	// Newsletter is false when the front matter says newsletter: false.
	Newsletter bool
	// NewsletterSubject overrides the title as the email subject.
	NewsletterSubject string
	// SourcePath is the markdown file relative to the site root.
	SourcePath string
	// Markdown is the guide body without front matter.
	Markdown string
	// Images are the guide's pictures as emailed, by the destination
	// written in Markdown (e.g. "wykres.png").
	Images map[string]Image
}

// Image is the email version of a guide's picture, published with the
// site: at most 600 px wide, in the original format (JPEG or PNG; mail
// clients such as Outlook show no WebP).
type Image struct {
	// URL is the absolute address of that version.
	URL           string
	Width, Height int
	// Link is the largest version on the site, for a reader who wants to
	// see more (and for the text part, which has no pictures).
	Link string
}

// Subject is the email subject for the guide.
func (g Guide) Subject() string {
	if g.NewsletterSubject != "" {
		return g.NewsletterSubject
	}
	return g.Title
}
