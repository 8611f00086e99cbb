package prefs

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kbpress/kb/internal/e2e/kbproc"
)

// kb is one test's kb: a database and outbox of its own, and kb serve
// serving the first build.
type kb struct {
	data string            // KB_DATA: the outbox, and the SQLite database
	env  map[string]string // KB_DATABASE_URL, for PostgreSQL
	srv  *kbproc.Server
}

// start starts kb serve on build s with a fresh SQLite database.
func start(t *testing.T, s stage) *kb { return startOn(t, s, "") }

// startOn starts kb serve on build s with the database dsn (empty: a fresh
// SQLite one).
func startOn(t *testing.T, s stage, dsn string) *kb {
	t.Helper()
	k := &kb{data: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	if dsn != "" {
		k.env["KB_DATABASE_URL"] = dsn
	}
	k.srv = kbproc.Start(t, k.on(s), "--no-build", "--out", s.public, "--private", s.private, "--base-url", baseURL)
	return k
}

// on is how a kb command runs on build s with this test's data, and the
// variables of extra.
func (k *kb) on(s stage, extra ...map[string]string) kbproc.Options {
	env := maps.Clone(k.env)
	for _, e := range extra {
		maps.Copy(env, e)
	}
	return kbproc.Options{Root: s.root, Data: k.data, Env: env}
}

// send runs kb send on build s (to the outbox) and returns its output.
func (k *kb) send(t *testing.T, s stage, args ...string) string {
	t.Helper()
	return kbproc.MustRun(t, k.on(s), append([]string{"send", "--out", s.public, "--base-url", baseURL}, args...)...)
}

// drained waits until the server's worker has sent every queued email.
func (k *kb) drained(t *testing.T) {
	t.Helper()
	kbproc.WaitDrained(t, kbproc.Options{Data: k.data, Env: k.env}, nil)
}

// emails are the outbox's emails to address, those tagged with one of
// tags if any are given.
func (k *kb) emails(t *testing.T, address string, tags ...string) []kbproc.Email {
	t.Helper()
	var out []kbproc.Email
	for _, e := range kbproc.ReadOutbox(t, k.srv.Outbox) {
		if strings.EqualFold(e.To, address) && (len(tags) == 0 || slices.Contains(tags, e.Tag)) {
			out = append(out, e)
		}
	}
	return out
}

// reader is a confirmed subscriber as the tests know them: the address
// and the preference link of their welcome email.
type reader struct {
	address string
	prefs   string // the path and query of /api/preferences?token=…
	welcome kbproc.Email
}

// join signs every address up (asking for the whitepaper if whitepaper)
// and confirms it with the button of its confirmation email, and returns
// the readers with their welcome emails.
func (k *kb) join(t *testing.T, whitepaper bool, addresses ...string) []reader {
	t.Helper()
	ctx := t.Context()
	for i, addr := range addresses {
		if err := kbproc.Signup(ctx, k.srv.URL, addr, kbproc.PersonName(i), whitepaper); err != nil {
			t.Fatal(err)
		}
	}
	k.drained(t)
	for _, addr := range addresses {
		confirmations := k.emails(t, addr, "kb-confirm")
		if len(confirmations) != 1 {
			t.Fatalf("%d confirmation emails to %s, want 1", len(confirmations), addr)
		}
		kbproc.Confirm(t, ctx, k.srv.URL+confirmations[0].TokenPath(t, "/api/confirm"))
	}
	k.drained(t)
	readers := make([]reader, len(addresses))
	for i, addr := range addresses {
		welcomes := k.emails(t, addr, "kb-welcome")
		if len(welcomes) != 1 {
			t.Fatalf("%d welcome emails to %s after confirming, want 1", len(welcomes), addr)
		}
		readers[i] = reader{address: addr, prefs: welcomes[0].TokenPath(t, "/api/preferences"), welcome: welcomes[0]}
	}
	return readers
}

// choose saves the preference form as the page posts it — the topics
// checked and the frequency — and returns the page that answers.
func (k *kb) choose(t *testing.T, prefs, frequency string, topics ...string) string {
	t.Helper()
	page, err := k.save(t.Context(), prefs, frequency, topics...)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// save is choose for a test's goroutines: it returns what went wrong.
func (k *kb) save(ctx context.Context, prefs, frequency string, topics ...string) (string, error) {
	req, err := formRequest(ctx, k.srv.URL+prefs, url.Values{"topics": topics, "frequency": {frequency}})
	if err != nil {
		return "", err
	}
	res, body, err := fetch(req)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("saving topics %v and %s: %s\n%s", topics, frequency, res.Status, body)
	}
	return body, err
}

// formRequest is a POST of form as the site's own page sends it.
func formRequest(ctx context.Context, url string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, err
}

// fetch does req and reads the answer.
func fetch(req *http.Request) (*http.Response, string, error) {
	res, err := kbproc.Client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// post sends form as the site's own page does and returns the answer.
func post(t *testing.T, ctx context.Context, url string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := formRequest(ctx, url, form)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// get fetches url and returns the answer.
func get(t *testing.T, ctx context.Context, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, body, err := fetch(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return res, body
}
