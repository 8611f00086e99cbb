package emails

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/kbpress/kb/internal/guide"
)

// Recipient variables a newsletter or digest email refers to as
// %recipient.NAME%. Mailgun fills them per recipient; the outbox does the
// same locally. Only the links differ between recipients: the greeting is
// the same for all (see Greeting) and is in the shared body, since every
// variable is sent, and parsed, once per recipient of a batch.
const (
	VarUnsubscribe = "unsubscribe_url"
	VarPreferences = "preferences_url"
)

// RecipientVars are one recipient's values for a newsletter or digest email.
func RecipientVars(unsubscribeURL, preferencesURL string) map[string]string {
	return map[string]string{
		VarUnsubscribe: unsubscribeURL,
		VarPreferences: preferencesURL,
	}
}

// NewsletterOptions control how much of a guide goes into the email.
type NewsletterOptions struct {
	// FullTextMaxWords: guides up to this long are sent whole; longer ones
	// as their opening with a link to read on.
	FullTextMaxWords int
	// SummaryWords is roughly how much of a long guide's opening is sent.
	SummaryWords int
}

// Newsletter renders guide g as an email whose personal parts are Mailgun
// recipient variables (%recipient.…%, see RecipientVars).
//
// The markdown goes through goldmark with its safe defaults (raw HTML and
// dangerous URLs dropped); relative links and images become absolute
// against the guide's page, so they work in a mail client. Pictures become
// the site's email versions (guide.Image), each linked to its largest
// version so that the text part keeps the alt text and an address.
func (t *Templates) Newsletter(g guide.Guide, opts NewsletterOptions) (Email, error) {
	if opts.FullTextMaxWords <= 0 {
		opts.FullTextMaxWords = 1200
	}
	if opts.SummaryWords <= 0 {
		opts.SummaryWords = 250
	}
	base, err := url.Parse(g.Permalink)
	if err != nil || !base.IsAbs() {
		return Email{}, fmt.Errorf("emails: guide %s: permalink %q is not absolute", g.Slug, g.Permalink)
	}
	src := []byte(g.Markdown)
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(text.NewReader(src))
	emailImages(doc, src, g.Images) // before absolutize: keyed by the destination as written
	absolutize(doc, base)
	truncated := false
	if g.WordCount > opts.FullTextMaxWords {
		truncated = truncate(doc, src, opts.SummaryWords)
	}
	var body bytes.Buffer
	if err := md.Renderer().Render(&body, src, doc); err != nil {
		return Email{}, fmt.Errorf("emails: guide %s: render markdown: %w", g.Slug, err)
	}
	v := view{
		Site:           t.site,
		Subject:        g.Subject(),
		Greeting:       phGreeting,
		UnsubscribeURL: phUnsubscribe,
		PreferencesURL: phPreferences,
		Guide:          guideView{Title: g.Title, Description: g.Description, Permalink: g.Permalink},
		Body:           template.HTML(body.String()), // goldmark output in safe mode
		Truncated:      truncated,
	}
	p, err := prepare(t.newsletter, v)
	if err != nil {
		return Email{}, fmt.Errorf("emails: guide %s: %w", g.Slug, err)
	}
	return p.batch(), nil
}

// batch turns the placeholders of p into recipient variables, so one
// rendering serves a whole Mailgun batch. The List-Unsubscribe header is
// the unsubscribe link, not the preference page: RFC 8058's one-click POST
// must unsubscribe completely.
func (p prepared) batch() Email {
	unsub := "%recipient." + VarUnsubscribe + "%"
	prefs := "%recipient." + VarPreferences + "%"
	return Email{
		Subject: p.subject,
		HTML: strings.NewReplacer(phGreeting, html.EscapeString(Greeting),
			phUnsubscribe, unsub, phPreferences, prefs).Replace(p.html),
		Text: strings.NewReplacer(phGreeting, Greeting,
			phUnsubscribe, unsub, phPreferences, prefs).Replace(p.text),
		Headers: UnsubscribeHeaders(unsub),
	}
}

// Fill substitutes a recipient's variables into e, as Mailgun would; used
// for the outbox, test sends and previews.
func (e Email) Fill(vars map[string]string) Email {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "%recipient."+k+"%", v)
	}
	r := strings.NewReplacer(pairs...)
	out := Email{Subject: r.Replace(e.Subject), HTML: r.Replace(e.HTML), Text: r.Replace(e.Text)}
	if e.Headers != nil {
		out.Headers = make(map[string]string, len(e.Headers))
		for k, v := range e.Headers {
			out.Headers[k] = r.Replace(v)
		}
	}
	return out
}

// absolutize rewrites relative link and image destinations against base.
func absolutize(doc ast.Node, base *url.URL) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			n.Destination = resolve(base, n.Destination)
		case *ast.Image:
			n.Destination = resolve(base, n.Destination)
		}
		return ast.WalkContinue, nil
	})
}

// emailImageWidth is the widest a picture is shown: the message column of
// layout.html (.card 600 px less .body's 2 × 32 px padding). Outlook sizes
// pictures by the width attribute alone, ignoring max-width.
const emailImageWidth = 536

// emailImages points each picture at its email version (a JPEG or PNG at
// most 600 px wide on the site), sizes it for the message column and,
// unless it has no alt text or is already a link, links it to the largest
// version: html2text turns that link into "alt ( URL )" in the text part,
// where a bare <img> would leave nothing. A picture the site did not record
// (not built by kb) keeps its resolved address.
func emailImages(doc ast.Node, src []byte, images map[string]guide.Image) {
	var found []*ast.Image
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering {
			found = append(found, img)
		}
		return ast.WalkContinue, nil
	})
	for _, n := range found {
		im, ok := images[string(n.Destination)]
		if !ok || im.URL == "" || im.Width <= 0 || im.Height <= 0 {
			continue
		}
		w, h := im.Width, im.Height
		if w > emailImageWidth {
			w, h = emailImageWidth, (h*emailImageWidth+im.Width/2)/im.Width
		}
		n.Destination = []byte(im.URL)
		n.SetAttributeString("width", []byte(strconv.Itoa(w)))
		n.SetAttributeString("height", []byte(strconv.Itoa(h)))
		n.SetAttributeString("style", []byte("display:block;max-width:100%;height:auto;border:0"))
		if _, inLink := n.Parent().(*ast.Link); inLink || im.Link == "" || strings.TrimSpace(plainAlt(n, src)) == "" {
			continue
		}
		link := ast.NewLink()
		link.Destination = []byte(im.Link)
		parent := n.Parent()
		parent.ReplaceChild(parent, n, link)
		link.AppendChild(link, n)
	}
}

// plainAlt is the text of an image's alt (its text descendants).
func plainAlt(n *ast.Image, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func resolve(base *url.URL, dest []byte) []byte {
	u, err := url.Parse(string(dest))
	if err != nil || u.IsAbs() {
		return dest // leave as written; goldmark drops dangerous schemes
	}
	return []byte(base.ResolveReference(u).String())
}

// truncate keeps the top-level blocks that make up the first ~words words
// and reports whether anything was cut.
func truncate(doc ast.Node, src []byte, words int) bool {
	count := 0
	for block := doc.FirstChild(); block != nil; block = block.NextSibling() {
		if count >= words {
			// Cut here: drop this block and everything after it.
			for b := block; b != nil; {
				next := b.NextSibling()
				doc.RemoveChild(doc, b)
				b = next
			}
			// A heading with nothing under it would dangle before "read on".
			for last := doc.LastChild(); last != nil && last.Kind() == ast.KindHeading; last = doc.LastChild() {
				doc.RemoveChild(doc, last)
			}
			return true
		}
		count += countWords(block, src)
	}
	return false
}

func countWords(n ast.Node, src []byte) int {
	total := 0
	_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := n.(*ast.Text); ok && entering {
			total += len(strings.Fields(string(t.Segment.Value(src))))
		}
		return ast.WalkContinue, nil
	})
	return total
}
