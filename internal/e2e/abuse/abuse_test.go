// Package abuse attacks the real kb binary the way the internet does: a
// botnet filling the signup form with variants of its victims' addresses,
// and a mail scanner that opens every link of every email before the
// reader does.
package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/e2e/kbproc"
	"github.com/kbpress/kb/internal/emltest"
	"github.com/kbpress/kb/internal/mailaddr"
)

const baseURL = "http://kb.test/"

var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32},
	// A scanner follows redirects; the signup form answers 303, which the
	// tests read as it is.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// built is the site built once for the tests of this package.
type built struct{ public, private string }

func buildSite(t *testing.T, o kbproc.Options) built {
	t.Helper()
	dir := t.TempDir()
	b := built{filepath.Join(dir, "public"), filepath.Join(dir, "private")}
	if out, errOut, err := kbproc.Run(t, o, "build", "--out", b.public, "--private", b.private, "--base-url", baseURL); err != nil {
		t.Fatalf("kb build: %v\n%s%s", err, out, errOut)
	}
	return b
}

func (b built) serve(t *testing.T, o kbproc.Options) *kbproc.Server {
	return kbproc.Start(t, o, "--no-build", "--out", b.public, "--private", b.private, "--base-url", baseURL)
}

// TestSignupFlood: 1,000 signups of plus, dot and case variants of 10
// mailboxes, from 300 IPv6 /64s in 30 /48s, through a trusted proxy's
// X-Forwarded-For, get at most one confirmation to each mailbox; every
// accepted signup is answered alike, so the attacker learns nothing.
func TestSignupFlood(t *testing.T) {
	o := kbproc.Options{Data: filepath.Join(t.TempDir(), "data"), Env: map[string]string{
		"KB_SIGNUP_RATE":        "10/min",
		"KB_TRUSTED_PROXIES":    "127.0.0.1/32",
		"KB_CONFIRM_CAP_DOMAIN": "50",
		"KB_CONFIRM_CAP_TOTAL":  "500",
	}}
	srv := buildSite(t, o).serve(t, o)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))

	type attempt struct{ email, ip string }
	var attempts []attempt
	for i := range 1000 {
		m := i % 10
		local, domain := fmt.Sprintf("ofiara%d", m), "example.pl"
		if m%2 == 0 {
			local, domain = fmt.Sprintf("ofiarak%d", m), "gmail.com"
		}
		var b strings.Builder
		for j, r := range local {
			if domain == "gmail.com" && j > 0 && rng.IntN(3) == 0 {
				b.WriteByte('.')
			}
			if 'a' <= r && r <= 'z' && rng.IntN(2) == 0 {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
		}
		if rng.IntN(4) != 0 {
			fmt.Fprintf(&b, "+%d", rng.IntN(1e6))
		}
		if domain == "gmail.com" && rng.IntN(2) == 0 {
			domain = "googlemail.com"
		}
		k := i % 300
		ip := fmt.Sprintf("2001:db8:%x:%x::%x:%x", k/10, k%10, rng.IntN(1<<16), rng.IntN(1<<16))
		attempts = append(attempts, attempt{b.String() + "@" + domain, ip})
	}

	var (
		mu      sync.Mutex
		answers = map[string]int{}
		bodies  = map[string]bool{}
		wg      sync.WaitGroup
		work    = make(chan attempt)
	)
	for range 16 {
		wg.Go(func() {
			for a := range work {
				body, _ := json.Marshal(map[string]any{"email": a.email, "name": "Kliknij", "consent": true, "source": "/"})
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/subscribe", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", a.ip)
				res, err := client.Do(req)
				if err != nil {
					t.Error(err)
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				mu.Lock()
				answers[res.Status]++
				if res.StatusCode == http.StatusOK {
					bodies[string(b)] = true
				}
				mu.Unlock()
			}
		})
	}
	for _, a := range attempts {
		work <- a
	}
	close(work)
	wg.Wait()
	t.Logf("answers: %v", answers)
	if answers["200 OK"] < 900 || len(bodies) != 1 {
		t.Fatalf("answers %v, %d different success bodies: the flood must be answered alike", answers, len(bodies))
	}

	st := kbproc.WaitDrained(t, o, nil)
	perMailbox := map[string]int{}
	for _, path := range srv.Emails(t) {
		m, err := emltest.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("X-Mailgun-Tag") == "kb-confirm" {
			perMailbox[mailaddr.Mailbox(m.To)]++
		}
		if strings.Contains(m.Text, "Kliknij") || strings.Contains(m.HTML, "Kliknij") {
			t.Errorf("%s carries text typed into the form", filepath.Base(path))
		}
	}
	if len(perMailbox) != 10 {
		t.Errorf("confirmations reached %d mailboxes, want 10: %v", len(perMailbox), perMailbox)
	}
	for mbox, n := range perMailbox {
		if n != 1 {
			t.Errorf("%s got %d confirmation emails within the hour, want 1", mbox, n)
		}
	}
	t.Logf("stats after the flood: %+v", st)
}

var link = regexp.MustCompile(`https?://[^\s"'<>)\]]+`)

// scan is a mail scanner: it fetches every link of the email that points
// at the site (HEAD and GET, as Safe Links, Mimecast and Proofpoint do)
// and the List-Unsubscribe URL, and returns the paths it fetched. Of a
// preference link it also fetches the addresses its page's forms post
// to (downloading and erasing one's data): a crawler may try them too.
func scan(t *testing.T, srv *kbproc.Server, m emltest.Message) map[string]bool {
	t.Helper()
	urls := map[string]bool{}
	for _, part := range []string{m.Text, m.HTML, m.Header.Get("List-Unsubscribe")} {
		for _, u := range link.FindAllString(part, -1) {
			u = strings.ReplaceAll(strings.TrimRight(u, ".,;"), "&amp;", "&")
			if !strings.HasPrefix(u, baseURL) {
				continue
			}
			u = srv.URL + "/" + strings.TrimPrefix(u, baseURL)
			urls[u] = true
			if rest, ok := strings.CutPrefix(u, srv.URL+"/api/preferences?"); ok {
				urls[srv.URL+"/api/preferences/export?"+rest] = true
				urls[srv.URL+"/api/preferences/delete?"+rest] = true
			}
		}
	}
	paths := map[string]bool{}
	for u := range urls {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			req, _ := http.NewRequestWithContext(context.Background(), method, u, nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; SafeLinks scanner)")
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("scanner %s %s: %v", method, u, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Errorf("scanner %s %s: %s", method, u, res.Status)
			}
			paths[req.URL.Path] = true
		}
	}
	return paths
}

// TestScannerChangesNothing: a scanner that opens every link of every kind
// of email (confirmation, welcome, newsletter) — the preference link and
// the addresses its page posts to among them — changes no state and causes
// no email; only the reader's button does.
func TestScannerChangesNothing(t *testing.T) {
	o := kbproc.Options{Data: filepath.Join(t.TempDir(), "data")}
	site := buildSite(t, o)
	srv := site.serve(t, o)
	const reader = "czytelnik@example.pl"

	body, _ := json.Marshal(map[string]any{"email": reader, "consent": true, "whitepaper": true, "source": "/biala-ksiega/"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/subscribe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("signup: %v %v", res, err)
	}
	res.Body.Close()
	kbproc.WaitDrained(t, o, nil)

	// newEmails waits for the queue and returns the emails not seen yet.
	seen := map[string]bool{}
	newEmails := func() []emltest.Message {
		t.Helper()
		kbproc.WaitDrained(t, o, nil)
		var out []emltest.Message
		for _, path := range srv.Emails(t) {
			if seen[path] {
				continue
			}
			seen[path] = true
			m, err := emltest.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	// scanned runs the scanner over emails, which must carry links to
	// want (paths), and checks that it changed nothing: the person's
	// record (row, events, emails) and the outbox stay as they were.
	scanned := func(kind string, emails []emltest.Message, want ...string) {
		t.Helper()
		before := kbproc.Show(t, o, reader)
		fetched := map[string]bool{}
		for _, m := range emails {
			maps.Copy(fetched, scan(t, srv, m))
		}
		for _, path := range want {
			if !fetched[path] {
				t.Errorf("%s: the scanner found no link to %s (fetched %v)", kind, path, slices.Sorted(maps.Keys(fetched)))
			}
		}
		if after := kbproc.Show(t, o, reader); after.Raw != before.Raw {
			t.Errorf("%s: the scanner's fetches of %v changed the subscriber:\n%s\n→\n%s", kind, slices.Sorted(maps.Keys(fetched)), before.Raw, after.Raw)
		}
		if more := newEmails(); len(more) != 0 {
			t.Errorf("%s: the scanner caused %d emails", kind, len(more))
		}
	}

	confirmations := newEmails()
	if len(confirmations) != 1 {
		t.Fatalf("%d emails after the signup, want the confirmation", len(confirmations))
	}
	scanned("confirmation email", confirmations, "/api/confirm")
	if s := kbproc.Show(t, o, reader).Status(); s != "pending" {
		t.Fatalf("after the scanner: %s, want pending", s)
	}

	// The reader presses the button: confirmed, and the welcome email
	// comes, with the whitepaper's link and the preference link.
	confirmURL := ""
	for _, u := range link.FindAllString(confirmations[0].Text, -1) {
		if strings.Contains(u, "/api/confirm?") {
			confirmURL = srv.URL + "/" + strings.TrimPrefix(u, baseURL)
		}
	}
	res, err = client.Post(confirmURL, "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %v %v", res, err)
	}
	res.Body.Close()
	if s := kbproc.Show(t, o, reader).Status(); s != "confirmed" {
		t.Fatalf("after the button: %s, want confirmed", s)
	}
	welcomes := newEmails()
	if len(welcomes) != 1 || welcomes[0].Header.Get("X-Mailgun-Tag") != "kb-welcome" {
		t.Fatalf("%d emails after confirming, want the welcome email", len(welcomes))
	}
	scanned("welcome email", welcomes, "/api/preferences", "/api/preferences/export", "/api/preferences/delete",
		"/biala-ksiega/strategia-przeplywow-pienieznych.pdf")

	// The newsletter.
	if out, errOut, err := kbproc.Run(t, o, "send", "--out", site.public, "--base-url", baseURL); err != nil {
		t.Fatalf("kb send: %v\n%s%s", err, out, errOut)
	}
	newsletters := newEmails()
	if len(newsletters) == 0 {
		t.Fatal("kb send sent no newsletter")
	}
	scanned("newsletter emails", newsletters, "/api/preferences", "/api/preferences/export", "/api/preferences/delete",
		"/api/unsubscribe")
	if s := kbproc.Show(t, o, reader).Status(); s != "confirmed" {
		t.Fatalf("after scanning the newsletters: %s, want confirmed", s)
	}
}
