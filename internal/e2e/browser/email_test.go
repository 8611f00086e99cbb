package browser

import (
	"context"
	"fmt"
	"net/mail"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/emltest"
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
// multipart/alternative body.
func readEmail(path string) (email, error) {
	m, err := emltest.Read(path)
	if err != nil {
		return email{}, err
	}
	if m.Text == "" {
		return email{}, fmt.Errorf("%s: no text/plain part", path)
	}
	return email{File: path, Header: m.Header, To: m.To, Subject: m.Subject,
		Tag: m.Header.Get("X-Mailgun-Tag"), Text: m.Text}, nil
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
