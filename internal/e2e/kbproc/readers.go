package kbproc

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/emltest"
)

// What readers do, as tests do it: sign up, open their emails, press the
// buttons the links lead to.

// Client is shared by the tests' requests to the servers.
var Client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32},
}

// Signup posts the JSON signup signup.js sends and checks the answer.
func Signup(ctx context.Context, serverURL, address, name string, whitepaper bool) error {
	body, _ := json.Marshal(map[string]any{"email": address, "name": name, "consent": true,
		"whitepaper": whitepaper, "source": "/newsletter/"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL+"/api/subscribe", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := Client.Do(req)
	if err != nil {
		return fmt.Errorf("signup %s on %s: %w", address, serverURL, err)
	}
	defer res.Body.Close()
	var answer struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || res.StatusCode != http.StatusOK || !answer.OK {
		return fmt.Errorf("signup %s on %s: %s %+v %v", address, serverURL, res.Status, answer, err)
	}
	return nil
}

// PersonName is a name for reader i that the form accepts (letters only).
func PersonName(i int) string {
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		if i /= 26; i == 0 {
			return "Czytelnik " + s
		}
	}
}

// Get fetches url and fails the test unless it answers want.
func Get(t testing.TB, ctx context.Context, url string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d\n%s", url, res.Status, want, body)
	}
}

// Confirm presses the button of a confirmation link's page: a POST of
// the same URL (opening the link alone confirms nothing).
func Confirm(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	Get(t, ctx, url, http.StatusOK)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s\n%s", url, res.Status, body)
	}
}

// OnServer rewrites a link from an email (any base URL) to point at a
// running server.
func OnServer(link, serverURL string) string {
	u, err := url.Parse(link)
	if err != nil {
		return serverURL + "/invalid-link"
	}
	return serverURL + u.RequestURI()
}

// Email is an outbox .eml file as the tests read it back.
type Email struct {
	File    string
	To      string // the address, as written
	Tag     string // X-Mailgun-Tag: kb-confirm, kb-welcome, a guide's slug or a digest's
	Subject string
	Text    string // the decoded text/plain part
	HTML    string // the decoded text/html part
	Unsub   string // the List-Unsubscribe URL
}

// ReadOutbox parses every .eml in dir (none if it does not exist).
func ReadOutbox(t testing.TB, dir string) []Email {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	emails := make([]Email, 0, len(names))
	for _, name := range names {
		m, err := emltest.Read(name)
		if err == nil && m.Text == "" {
			err = errors.New("no text/plain part")
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		emails = append(emails, Email{File: name, To: m.To, Tag: m.Header.Get("X-Mailgun-Tag"), Subject: m.Subject,
			Text: m.Text, HTML: m.HTML, Unsub: strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")})
	}
	return emails
}

// Links are the site's signed links an email carries: its path, ?token=
// and the token.
var signedLink = regexp.MustCompile(`https?://[^/\s]+(/api/[a-z/]+\?token=[A-Za-z0-9_-]+)`)

// TokenPath is the path and query of the first link in e's text to path
// (e.g. /api/confirm), with its token; it fails the test if there is none.
func (e Email) TokenPath(t testing.TB, path string) string {
	t.Helper()
	for _, m := range signedLink.FindAllStringSubmatch(e.Text, -1) {
		if strings.HasPrefix(m[1], path+"?") {
			return m[1]
		}
	}
	t.Fatalf("%s: no %s link in:\n%s", e.File, path, e.Text)
	return ""
}

// WriteCSV writes n generated subscribers with consent evidence for
// `kb subscribers import` and returns the file and the addresses.
func WriteCSV(t testing.TB, n int, domain string) (path string, addresses []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "subscribers.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"email", "name", "consent_at", "consent_source"})
	consentAt := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		addr := fmt.Sprintf("klient%05d@%s", i, domain)
		addresses = append(addresses, addr)
		w.Write([]string{addr, fmt.Sprintf("Klient %d", i), consentAt.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"import: lista z biura 2026-03"})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path, addresses
}

// Person is what `kb subscribers show` prints of a person, as far as the
// tests read it; Raw is the whole output, to compare before and after.
type Person struct {
	Subscriber *struct {
		Status    string   `json:"status"`
		Frequency string   `json:"frequency"`
		TopicsOff []string `json:"topics_off"`
	} `json:"subscriber"`
	Events []struct {
		Type string `json:"type"`
	} `json:"events"`
	Mails  []json.RawMessage `json:"mails"`
	Erased bool              `json:"erased"`
	Raw    string            `json:"-"`
}

// Status is the subscriber's status, or "" when none is held.
func (p Person) Status() string {
	if p.Subscriber == nil {
		return ""
	}
	return p.Subscriber.Status
}

// Show runs `kb subscribers show ADDRESS` on o's database.
func Show(t testing.TB, o Options, address string) Person {
	t.Helper()
	out, errOut, err := Run(t, o, "subscribers", "show", address)
	var p Person
	if err == nil {
		err = json.Unmarshal([]byte(out), &p)
	}
	if err != nil {
		t.Fatalf("kb subscribers show %s: %v\n%s%s", address, err, out, errOut)
	}
	p.Raw = out
	return p
}

// CopySite copies the repository's site sources (not its outputs) into
// dst, for a test to change.
func CopySite(t testing.TB, dst string) {
	t.Helper()
	for _, d := range []string{"content", "layouts", "static", "assets", "i18n", "archetypes"} {
		if _, err := os.Stat(filepath.Join(RepoRoot(), d)); os.IsNotExist(err) {
			continue
		}
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(filepath.Join(RepoRoot(), d))); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(RepoRoot(), "config.toml"))
	if err == nil {
		err = os.WriteFile(filepath.Join(dst, "config.toml"), cfg, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
