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
}

// Subject is the email subject for the guide.
func (g Guide) Subject() string {
	if g.NewsletterSubject != "" {
		return g.NewsletterSubject
	}
	return g.Title
}
