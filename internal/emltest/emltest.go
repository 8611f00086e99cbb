// Package emltest reads the .eml files the outbox writes, for tests: the
// header and the decoded parts, as a reader's mail client would show them.
package emltest

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
)

// Message is one parsed .eml file.
type Message struct {
	Header  mail.Header
	To      string // the bare address
	Subject string // RFC 2047-decoded
	Text    string // the text/plain part, quoted-printable decoded
	HTML    string // the text/html part, quoted-printable decoded
}

// Read parses the .eml file at path. The outbox writes a single To and a
// multipart/alternative body; anything else is an error.
func Read(path string) (Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return Message{}, err
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return Message{}, fmt.Errorf("%s: %w", path, err)
	}
	m := Message{Header: msg.Header}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil {
		return Message{}, fmt.Errorf("%s: To: %w", path, err)
	}
	m.To = to.Address
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("%s: Subject: %w", path, err)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(media, "multipart/") {
		return Message{}, fmt.Errorf("%s: Content-Type %q: want multipart (%v)", path, msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // undoes quoted-printable
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return Message{}, fmt.Errorf("%s: %w", path, err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return Message{}, fmt.Errorf("%s: %w", path, err)
		}
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
	}
}
