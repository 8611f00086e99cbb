package mail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Header fields the outbox writes so that tests and developers can see what
// Mailgun would have been told (o:tag and v: values).
const (
	headerTag       = "X-Mailgun-Tag"
	headerVariables = "X-Mailgun-Variables"
	headerDeliverBy = "X-Mailgun-Deliver-By"
	headerTestMode  = "X-Mailgun-Drop-Message"
)

// eml is one rendered message, already validated.
type eml struct {
	date      time.Time
	messageID string // with angle brackets
	from      *mail.Address
	replyTo   *mail.Address
	to        mail.Address
	subject   string
	headers   map[string]string
	tags      []string
	variables map[string]string
	text      string
	html      string
	// deliverBy and testMode mirror o:deliverytime and o:testmode with the
	// header fields Mailgun documents for SMTP submissions.
	deliverBy time.Time
	testMode  bool
}

// write renders e as an RFC 5322 message with CRLF line endings.
func (e *eml) write(w io.Writer) error {
	var h bytes.Buffer
	field := func(name, value string) { fmt.Fprintf(&h, "%s: %s\r\n", name, value) }
	field("Date", e.date.Format(time.RFC1123Z))
	field("Message-ID", e.messageID)
	field("From", formatMailbox(e.from))
	if e.replyTo != nil {
		field("Reply-To", formatMailbox(e.replyTo))
	}
	field("To", formatMailbox(&e.to))
	field("Subject", encodeHeader(e.subject))
	field("MIME-Version", "1.0")
	for _, k := range slices.Sorted(maps.Keys(e.headers)) {
		field(textproto.CanonicalMIMEHeaderKey(k), encodeHeader(e.headers[k]))
	}
	for _, t := range e.tags {
		field(headerTag, t)
	}
	if len(e.variables) > 0 {
		field(headerVariables, asciiJSON(e.variables))
	}
	if !e.deliverBy.IsZero() {
		field(headerDeliverBy, e.deliverBy.Format(time.RFC1123Z))
	}
	if e.testMode {
		field(headerTestMode, "yes")
	}

	var body bytes.Buffer
	switch {
	case e.text != "" && e.html != "":
		mw := multipart.NewWriter(&body)
		field("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
		for _, p := range []struct{ typ, content string }{{"text/plain", e.text}, {"text/html", e.html}} {
			pw, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return err
			}
			if err := writeQP(pw, p.content); err != nil {
				return err
			}
		}
		if err := mw.Close(); err != nil {
			return err
		}
	default:
		typ, content := "text/plain", e.text
		if content == "" {
			typ, content = "text/html", e.html
		}
		field("Content-Type", typ+"; charset=utf-8")
		field("Content-Transfer-Encoding", "quoted-printable")
		if err := writeQP(&body, content); err != nil {
			return err
		}
	}
	h.WriteString("\r\n")
	if _, err := h.WriteTo(w); err != nil {
		return err
	}
	_, err := body.WriteTo(w)
	return err
}

// formatMailbox writes a bare address without angle brackets and a named one
// with its name RFC 2047-encoded when it is not ASCII.
func formatMailbox(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return err
	}
	return qp.Close()
}

// encodeHeader RFC 2047-encodes non-ASCII text (Polish subjects) and folds
// between encoded words so that no line exceeds the RFC 5322 limit.
func encodeHeader(s string) string {
	if isASCII(s) {
		return s
	}
	return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiJSON marshals vars with non-ASCII characters escaped, so the header
// stays 7-bit clean and still decodes with encoding/json.
func asciiJSON(vars map[string]string) string {
	raw, _ := json.Marshal(vars) // a map of strings always marshals
	var b strings.Builder
	for _, r := range string(raw) {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
