package browser

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// email is one .eml file from the outbox, as a reader's mail client
// shows it.
type email struct {
	File    string
	Header  mail.Header
	To      string
	Subject string
	Tag     string // X-Mailgun-Tag: kb-confirm, kb-whitepaper, …
	Text    string // the decoded text/plain part
	// base is the server's address: links are rebased onto it, because
	// `kb serve --addr 127.0.0.1:0` writes links to port 0 when no
	// --base-url is given (the port is chosen after the base URL).
	base string
}

// readEmail parses an .eml file: headers, and the text part of its
// multipart/alternative body (quoted-printable decoded by mime/multipart).
func readEmail(path string) (email, error) {
	f, err := os.Open(path)
	if err != nil {
		return email{}, err
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return email{}, fmt.Errorf("%s: %w", path, err)
	}
	e := email{File: path, Header: msg.Header, Tag: msg.Header.Get("X-Mailgun-Tag")}
	if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
		e.To = to.Address
	}
	dec := new(mime.WordDecoder)
	if e.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return email{}, fmt.Errorf("%s: subject: %w", path, err)
	}
	media, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return email{}, fmt.Errorf("%s: content type: %w", path, err)
	}
	if !strings.HasPrefix(media, "multipart/") {
		return email{}, fmt.Errorf("%s: %s, want a multipart email with a text part", path, media)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return email{}, fmt.Errorf("%s: %w", path, err)
		}
		if pm, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pm == "text/plain" {
			b, err := io.ReadAll(p)
			if err != nil {
				return email{}, fmt.Errorf("%s: text part: %w", path, err)
			}
			e.Text = string(b)
		}
	}
	if e.Text == "" {
		return email{}, fmt.Errorf("%s: no text/plain part", path)
	}
	return e, nil
}

// waitEmail waits (fsnotify on the outbox) for the email of kind
// ("confirm", "whitepaper") to the address, and returns it.
func waitEmail(t *testing.T, ctx context.Context, srv *kbproc.Server, to, kind string) email {
	t.Helper()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Watch first, then list: a file written in between is seen either way.
	if err := w.Add(srv.Outbox); err != nil {
		t.Fatalf("watch outbox: %v", err)
	}
	seen := map[string]bool{}
	for {
		names, err := filepath.Glob(filepath.Join(srv.Outbox, "*.eml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			e, err := readEmail(name)
			if err != nil {
				t.Fatal(err)
			}
			if strings.EqualFold(e.To, to) && e.Tag == "kb-"+kind {
				e.base = srv.URL
				return e
			}
		}
		select {
		case <-w.Events:
		case err := <-w.Errors:
			t.Fatalf("watch outbox: %v", err)
		case <-ctx.Done():
			t.Fatalf("no %s email to %s in %s: %v\nserver log:\n%s", kind, to, srv.Outbox, ctx.Err(), srv.Logs())
		}
	}
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>()"]+`)

// link returns the first URL in the email's text whose path is path
// (e.g. /api/confirm), rebased onto the server's address.
func (e email) link(t *testing.T, path string) string {
	t.Helper()
	for _, u := range urlPattern.FindAllString(e.Text, -1) {
		if i := strings.Index(u, "://"); i >= 0 {
			rest := u[i+3:]
			if j := strings.IndexByte(rest, '/'); j >= 0 && strings.HasPrefix(rest[j:], path+"?") {
				return e.base + rest[j:]
			}
		}
	}
	t.Fatalf("no %s link in the email %s:\n%s", path, e.File, e.Text)
	return ""
}

// listUnsubscribe is the URL of the List-Unsubscribe header.
func (e email) listUnsubscribe(t *testing.T) string {
	t.Helper()
	for _, part := range strings.Split(e.Header.Get("List-Unsubscribe"), ",") {
		part = strings.Trim(strings.TrimSpace(part), "<>")
		if i := strings.Index(part, "://"); i >= 0 && strings.HasPrefix(part, "http") {
			if j := strings.IndexByte(part[i+3:], '/'); j >= 0 {
				return e.base + part[i+3+j:]
			}
		}
	}
	t.Fatalf("no http List-Unsubscribe in %s: %q", e.File, e.Header.Get("List-Unsubscribe"))
	return ""
}
