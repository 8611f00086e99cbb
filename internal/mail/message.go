// Package mail sends email through one of two transports: an outbox of .eml
// files for development (no Mailgun key configured) and Mailgun's HTTP API.
// Both take the same values — a single Message or a Batch of up to 1,000
// recipients with Mailgun recipient variables — and both answer Accepted, the
// lookup callers use to reconcile a send whose outcome is unknown.
//
// Transports never retry: the queue worker and the newsletter sender own
// retry policy, guided by the SendError they get back.
package mail

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits shared by both transports; Mailgun enforces the same ones.
const (
	// MaxRecipients is the largest batch Mailgun accepts in one call.
	MaxRecipients = 1000
	// MaxTags is the number of o:tag values mailgun-go lets a message carry.
	MaxTags = 3
	// maxHeaderLine is RFC 5322's line limit; unfolded values must fit.
	maxHeaderLine = 998
	// maxVariablesSize bounds the v: variables, which Mailgun limits too.
	maxVariablesSize = 4096
	// maxBodySize bounds HTML and text; Mailgun rejects messages over 25 MB.
	maxBodySize = 20 << 20
)

// Message is one email to one recipient.
type Message struct {
	From    string // RFC 5322 mailbox, e.g. `"Poradniki" <poradniki@example.pl>`
	ReplyTo string // optional mailbox
	To      string // bare address, e.g. jan@example.pl
	ToName  string // optional display name for To
	Subject string
	HTML    string
	Text    string
	// Headers are extra header fields, e.g. List-Unsubscribe and
	// List-Unsubscribe-Post. Fields the transport sets itself (From, To,
	// Subject, Date, Message-ID, Content-Type…) are refused.
	Headers map[string]string
	// Tags become Mailgun o:tag values (at most MaxTags).
	Tags []string
	// Variables become Mailgun v: values, echoed in events and webhooks as
	// user-variables.
	Variables map[string]string
}

// Batch is one email to up to MaxRecipients recipients. From, ReplyTo,
// Subject, HTML, Text and header values may contain %recipient.NAME%
// placeholders, filled from each Recipient's Vars. Vars values are inserted
// as they are: HTML-escape them before putting them in the batch.
type Batch struct {
	From    string
	ReplyTo string
	Subject string
	HTML    string
	Text    string
	Headers map[string]string
	Tags    []string
	// Variables identify the batch (e.g. kb-campaign and kb-batch); Accepted
	// looks recipients up by them, and the outbox derives file names from them.
	Variables  map[string]string
	Recipients []Recipient
	// DeliveryTime schedules the batch (Mailgun o:deliverytime); zero sends now.
	DeliveryTime time.Time
	// TestMode asks Mailgun to accept but not deliver (o:testmode).
	TestMode bool
}

// Recipient is one addressee of a Batch.
type Recipient struct {
	Address string // bare address
	// Name is the display name. The outbox puts it in To; Mailgun batches
	// send bare addresses, because Mailgun keys recipient variables by plain
	// address — put the name in Vars to use it in the content.
	Name string
	Vars map[string]string
}

// AcceptedQuery selects accepted messages: those tagged Tag (if set), accepted
// between Begin and End (if set), whose variable Variable equals Value (if
// Variable is set).
type AcceptedQuery struct {
	Tag        string
	Begin, End time.Time
	Variable   string
	Value      string
}

// reservedHeaders are set by the transports; a caller's copy would duplicate
// or contradict them.
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true,
	"subject": true, "date": true, "message-id": true, "mime-version": true,
	"content-type": true, "content-transfer-encoding": true, "sender": true,
	"x-mailgun-tag": true, "x-mailgun-variables": true,
}

// placeholder matches Mailgun's recipient variables.
var placeholder = regexp.MustCompile(`%recipient\.([A-Za-z0-9_-]+)%`)

// validate checks m and returns the parsed sender, reply-to and recipient.
func (m *Message) validate() (from, replyTo *mail.Address, to mail.Address, err error) {
	if m == nil {
		return nil, nil, to, invalid("nil message")
	}
	if from, err = parseMailbox("From", m.From, true); err != nil {
		return
	}
	if replyTo, err = parseMailbox("Reply-To", m.ReplyTo, false); err != nil {
		return
	}
	if err = checkBareAddress("To", m.To); err != nil {
		return
	}
	if err = checkHeaderValue("To name", m.ToName); err != nil {
		return
	}
	to = mail.Address{Name: m.ToName, Address: m.To}
	if err = checkContent(m.Subject, m.Text, m.HTML); err != nil {
		return
	}
	if err = checkHeaders(m.Headers); err != nil {
		return
	}
	if err = checkTags(m.Tags); err != nil {
		return
	}
	err = checkVariables(m.Variables)
	return
}

// validate checks b, including every recipient's expansion of the header
// fields, so that a bad value for one recipient fails the whole batch before
// anything is sent.
func (b *Batch) validate() error {
	if b == nil {
		return invalid("nil batch")
	}
	switch n := len(b.Recipients); {
	case n == 0:
		return invalid("batch has no recipients")
	case n > MaxRecipients:
		return invalid(fmt.Sprintf("batch has %d recipients, at most %d allowed", n, MaxRecipients))
	}
	if b.From == "" {
		return invalid("From is required")
	}
	if err := checkContent(b.Subject, b.Text, b.HTML); err != nil {
		return err
	}
	if err := checkHeaders(b.Headers); err != nil {
		return err
	}
	if err := checkTags(b.Tags); err != nil {
		return err
	}
	if err := checkVariables(b.Variables); err != nil {
		return err
	}
	// Body placeholders are only checked for presence: expanding a large
	// HTML body a thousand times just to validate it would be wasteful.
	bodyNames := placeholderNames(b.HTML, b.Text)
	// Header fields are checked once as written; per recipient only the
	// values they take in. An expanded field can only be invalid through a
	// value (a control character), unless From or Reply-To themselves vary,
	// which needs the full per-recipient parse.
	headerTexts := []string{b.From, b.ReplyTo, b.Subject}
	for _, v := range b.Headers {
		headerTexts = append(headerTexts, v)
	}
	headerNames := placeholderNames(headerTexts...)
	perRecipientHeaders := strings.Contains(b.From, "%recipient.") || strings.Contains(b.ReplyTo, "%recipient.")
	if !perRecipientHeaders {
		if _, err := parseMailbox("From", b.From, true); err != nil {
			return err
		}
		if _, err := parseMailbox("Reply-To", b.ReplyTo, false); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(b.Recipients))
	for i, r := range b.Recipients {
		if checkBareAddress("", r.Address) != nil {
			// Checked again to name the recipient: the label is only
			// formatted when it is needed.
			return checkBareAddress(fmt.Sprintf("recipient %d", i+1), r.Address)
		}
		key := strings.ToLower(r.Address)
		if seen[key] {
			return invalid(fmt.Sprintf("recipient %d appears twice in the batch", i+1))
		}
		seen[key] = true
		if err := checkHeaderValue("recipient name", r.Name); err != nil {
			return err
		}
		for k := range r.Vars {
			if !validName(k) {
				return invalid(fmt.Sprintf("recipient %d: variable name %q must be letters, digits, '_' or '-'", i+1, k))
			}
		}
		for _, name := range bodyNames {
			if _, ok := r.Vars[name]; !ok {
				return invalid(fmt.Sprintf("recipient %d has no value for %%recipient.%s%%", i+1, name))
			}
		}
		for _, name := range headerNames {
			v, ok := r.Vars[name]
			if !ok {
				return recipientErr(r, "header", invalid(fmt.Sprintf("no value for %%recipient.%s%%", name)))
			}
			if err := checkHeaderValue("%recipient."+name+"%", v); err != nil {
				return recipientErr(r, "header", err)
			}
		}
		if perRecipientHeaders {
			if _, err := b.headersFor(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchHeaders are a batch's header fields expanded for one recipient.
type batchHeaders struct {
	from, replyTo *mail.Address
	subject       string
	headers       map[string]string
}

func (b *Batch) headersFor(r Recipient) (batchHeaders, error) {
	var h batchHeaders
	from, err := expand(b.From, r.Vars)
	if err != nil {
		return h, recipientErr(r, "From", err)
	}
	if h.from, err = parseMailbox("From", from, true); err != nil {
		return h, recipientErr(r, "From", err)
	}
	replyTo, err := expand(b.ReplyTo, r.Vars)
	if err != nil {
		return h, recipientErr(r, "Reply-To", err)
	}
	if h.replyTo, err = parseMailbox("Reply-To", replyTo, false); err != nil {
		return h, recipientErr(r, "Reply-To", err)
	}
	if h.subject, err = expand(b.Subject, r.Vars); err != nil {
		return h, recipientErr(r, "Subject", err)
	}
	if err := checkHeaderValue("Subject", h.subject); err != nil {
		return h, recipientErr(r, "Subject", err)
	}
	h.headers = make(map[string]string, len(b.Headers))
	for k, v := range b.Headers {
		if v, err = expand(v, r.Vars); err != nil {
			return h, recipientErr(r, k, err)
		}
		if err := checkHeaderValue(k, v); err != nil {
			return h, recipientErr(r, k, err)
		}
		h.headers[k] = v
	}
	return h, nil
}

func recipientErr(r Recipient, field string, err error) error {
	return invalid(fmt.Sprintf("recipient %s: %s: %s", r.Address, field, messageOf(err)))
}

// expand fills %recipient.NAME% placeholders from vars; a placeholder without
// a value is an error rather than an empty string in someone's inbox.
func expand(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "%recipient.") {
		return s, nil
	}
	var missing string
	out := placeholder.ReplaceAllStringFunc(s, func(p string) string {
		name := p[len("%recipient.") : len(p)-1]
		v, ok := vars[name]
		if !ok && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", invalid(fmt.Sprintf("no value for %%recipient.%s%%", missing))
	}
	return out, nil
}

func placeholderNames(texts ...string) []string {
	seen := map[string]bool{}
	var names []string
	for _, t := range texts {
		for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	return names
}

// parseMailbox parses an RFC 5322 mailbox such as `"Biuro" <a@b.pl>`.
func parseMailbox(field, s string, required bool) (*mail.Address, error) {
	if s == "" {
		if required {
			return nil, invalid(field + " is required")
		}
		return nil, nil
	}
	if err := checkHeaderValue(field, s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, invalid(fmt.Sprintf("%s %q is not a valid mailbox: %v", field, s, err))
	}
	return a, nil
}

func checkBareAddress(field, s string) error {
	if s == "" {
		return invalid(field + " address is required")
	}
	if err := checkHeaderValue(field, s); err != nil {
		return err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return invalid(fmt.Sprintf("%s %q is not a bare email address", field, s))
	}
	return nil
}

func checkContent(subject, text, html string) error {
	if subject == "" {
		return invalid("Subject is required")
	}
	if err := checkHeaderValue("Subject", subject); err != nil {
		return err
	}
	if text == "" && html == "" {
		return invalid("Text or HTML is required")
	}
	for name, body := range map[string]string{"Text": text, "HTML": html} {
		if len(body) > maxBodySize {
			return invalid(fmt.Sprintf("%s is %d bytes, at most %d allowed", name, len(body), maxBodySize))
		}
		if !utf8.ValidString(body) {
			return invalid(name + " is not valid UTF-8")
		}
	}
	return nil
}

func checkHeaders(h map[string]string) error {
	for k, v := range h {
		if !validHeaderName(k) {
			return invalid(fmt.Sprintf("header name %q is not a valid field name", k))
		}
		if reservedHeaders[strings.ToLower(k)] {
			return invalid(fmt.Sprintf("header %s is set by the transport, not by Headers", k))
		}
		if err := checkHeaderValue(k, v); err != nil {
			return err
		}
		if len(k)+2+len(v) > maxHeaderLine {
			return invalid(fmt.Sprintf("header %s is longer than %d bytes", k, maxHeaderLine))
		}
	}
	return nil
}

func checkTags(tags []string) error {
	if len(tags) > MaxTags {
		return invalid(fmt.Sprintf("%d tags, at most %d allowed", len(tags), MaxTags))
	}
	for _, t := range tags {
		if t == "" || len(t) > 128 {
			return invalid(fmt.Sprintf("tag %q must be 1 to 128 bytes", t))
		}
		for _, c := range t {
			if c < 0x20 || c > 0x7e {
				return invalid(fmt.Sprintf("tag %q must be printable ASCII", t))
			}
		}
	}
	return nil
}

func checkVariables(vars map[string]string) error {
	size := 0
	for k, v := range vars {
		if !validName(k) {
			return invalid(fmt.Sprintf("variable name %q must be letters, digits, '_' or '-'", k))
		}
		if !utf8.ValidString(v) {
			return invalid(fmt.Sprintf("variable %s is not valid UTF-8", k))
		}
		size += len(k) + len(v)
	}
	if size > maxVariablesSize {
		return invalid(fmt.Sprintf("variables total %d bytes, at most %d allowed", size, maxVariablesSize))
	}
	return nil
}

// checkHeaderValue refuses what could inject or corrupt header fields: CR, LF
// and other control characters (tab is allowed), and invalid UTF-8.
func checkHeaderValue(field, v string) error {
	if !utf8.ValidString(v) {
		return invalid(field + " is not valid UTF-8")
	}
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return invalid(fmt.Sprintf("%s contains a control character (%U): header injection refused", field, c))
		}
	}
	return nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func validName(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
