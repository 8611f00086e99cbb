package newsletter

import (
	"bytes"
	"context"
	"errors"
	htmlpkg "html"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/emltest"
	"github.com/kbpress/kb/internal/guide"
	mailpkg "github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

func TestDue(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 3)
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	s := f.sender(nil, f.mailgun(0), nil) // Since 2026-11-01

	sent := f.guide("juz-wyslany", 1)
	if _, err := f.st.CreateCampaign(t.Context(), store.CampaignSpec{Slug: sent.Slug, Subject: "x"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	off := f.guide("bez-newslettera", 2)
	off.Newsletter = false
	old := f.guide("stary", -1) // 2026-10-31
	onSinceDay := f.guide("w-dniu-since", 0)
	onSinceDay.Date = time.Date(2026, 11, 1, 0, 30, 0, 0, warsaw) // 2026-10-31T23:30Z, but 1 November in Warsaw
	noPage := testGuide("bez-strony", 3)
	later := f.guide("pozniejszy", 9)
	earlier := f.guide("wczesniejszy", 4)
	sameDayB, sameDayA := f.guide("b-ten-sam-dzien", 5), f.guide("a-ten-sam-dzien", 5)

	due, err := s.Due(t.Context(), []guide.Guide{sent, off, old, onSinceDay, noPage, later, earlier, sameDayB, sameDayA}, f.publish)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range due {
		got = append(got, g.Slug)
	}
	want := []string{"w-dniu-since", "wczesniejszy", "a-ten-sam-dzien", "b-ten-sam-dzien", "pozniejszy"}
	if !slices.Equal(got, want) {
		t.Errorf("Due = %v, want %v", got, want)
	}

	// Without Since, the old guide is due too.
	all := f.sender(nil, f.mailgun(0), func(o *Options) { o.Since = time.Time{} })
	due, err = all.Due(t.Context(), []guide.Guide{old, sent}, f.publish)
	if err != nil || len(due) != 1 || due[0].Slug != old.Slug {
		t.Errorf("Due without Since = %v, %v; want [stary]", due, err)
	}
}

func TestDueRejectsBadGuides(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 0)
	s := f.sender(nil, f.mailgun(0), nil)
	good := f.guide("dobry", 1)
	// A file outside the publish directory that a hostile output path
	// could point at.
	outside := filepath.Join(filepath.Dir(f.publish), "secret.html")
	os.WriteFile(outside, []byte("x"), 0o644)

	tests := []struct {
		name string
		edit func(*guide.Guide)
		want string
	}{
		{"empty slug", func(g *guide.Guide) { g.Slug = " " }, "empty slug"},
		{"output path escapes", func(g *guide.Guide) { g.OutputPath = "../secret.html" }, "not inside"},
		{"absolute output path", func(g *guide.Guide) { g.OutputPath = outside }, "not inside"},
		{"empty output path", func(g *guide.Guide) { g.OutputPath = "" }, "not inside"},
		{"duplicate slug", func(g *guide.Guide) { g.SourcePath = "content/inny/dobry.md" }, "share the slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			tt.edit(&bad)
			for _, call := range []func() error{
				func() error { _, err := s.Due(t.Context(), []guide.Guide{good, bad}, f.publish); return err },
				func() error { _, err := s.Run(t.Context(), []guide.Guide{good, bad}, f.publish); return err },
				func() error { _, err := s.Plan(t.Context(), []guide.Guide{good, bad}, f.publish); return err },
			} {
				if err := call(); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v, want one about %q", err, tt.want)
				}
			}
		})
	}
	if n := f.srv.Stats().Requests; n != 0 {
		t.Errorf("%d calls made for bad guides", n)
	}
	if _, err := f.st.CampaignBySlug(t.Context(), good.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a campaign was created despite the bad guide: %v", err)
	}
}

func TestPlan(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 45)
		unfinished, fresh, fresh2 := f.guide("niedokonczony", 1), f.guide("nowy", 2), f.guide("nowszy", 3)
		f.srv.Script(mailguntest.Status(503, ""))
		s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 20; o.Concurrency = 1; o.MaxAttempts = 1 })
		if _, err := s.Run(t.Context(), []guide.Guide{unfinished}, f.publish); err == nil {
			t.Fatal("first Run succeeded despite the 503")
		}
		requests := f.srv.Stats().Requests
		st, _ := f.st.Stats(t.Context())

		plan, err := s.Plan(t.Context(), []guide.Guide{fresh2, fresh, unfinished}, f.publish)
		if err != nil {
			t.Fatal(err)
		}
		c := f.campaign(unfinished.Slug)
		want := []PlanItem{
			{Slug: unfinished.Slug, Title: unfinished.Title, Subject: unfinished.Subject(), CampaignID: c.ID, State: store.CampaignSending,
				Recipients: 45, Remaining: 20, Batches: 3, RemainingBatches: 1},
			{Slug: fresh.Slug, Title: fresh.Title, Subject: fresh.Subject(), Recipients: 45, Remaining: 45, Batches: 3, RemainingBatches: 3},
			{Slug: fresh2.Slug, Title: fresh2.Title, Subject: fresh2.Subject(), Recipients: 45, Remaining: 45, Batches: 3, RemainingBatches: 3},
		}
		if !slices.Equal(plan, want) {
			t.Errorf("Plan =\n%+v\nwant\n%+v", plan, want)
		}
		if f.srv.Stats().Requests != requests {
			t.Error("Plan called Mailgun")
		}
		if st2, _ := f.st.Stats(t.Context()); st2.Campaigns != st.Campaigns {
			t.Errorf("Plan changed the ledger: %d campaigns, was %d", st2.Campaigns, st.Campaigns)
		}

		// An unfinished campaign whose guide is withdrawn is listed with
		// the problem.
		unfinished.Newsletter = false
		plan, err = s.Plan(t.Context(), []guide.Guide{unfinished}, f.publish)
		if err != nil || len(plan) != 1 || !strings.Contains(plan[0].Problem, "cannot continue") {
			t.Errorf("Plan = %+v, %v; want the unfinished campaign with a problem", plan, err)
		}
	})
}

func TestSendTest(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 5)
	a, b := f.guide("pierwszy-test", 1), f.guide("drugi-test", 2)
	s := f.sender(nil, f.mailgun(0), nil)

	if err := s.SendTest(t.Context(), []guide.Guide{b, a}, f.publish, " Redakcja@Example.PL "); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	for i, g := range []guide.Guide{a, b} {
		c := calls[i]
		if !slices.Equal(c.To, []string{"Redakcja@example.pl"}) || c.Subject != "[TEST] "+g.Subject() || !slices.Equal(c.Tags, []string{TestTag}) {
			t.Errorf("call %d: to %v subject %q tags %v", i, c.To, c.Subject, c.Tags)
		}
		for _, part := range []string{c.HTML, c.Text, c.Headers["List-Unsubscribe"]} {
			if strings.Contains(part, "%recipient.") {
				t.Errorf("call %d: unfilled variable in %.80q…", i, part)
			}
		}
		if !strings.Contains(c.Text, "Dzień dobry!") {
			t.Errorf("call %d: no sample greeting in the text part", i)
		}
		// The unsubscribe link is well-formed but names no subscriber.
		u, err := url.Parse(strings.Trim(c.Headers["List-Unsubscribe"], "<>"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.signer.Verify(u.Query().Get("token"), token.Unsubscribe, time.Now()); err == nil {
			t.Errorf("call %d: the test copy's unsubscribe link works", i)
		}
	}
	if due, _ := s.Due(t.Context(), []guide.Guide{a, b}, f.publish); len(due) != 2 {
		t.Errorf("after SendTest %d guides due, want still 2", len(due))
	}

	tests := []struct {
		name    string
		guides  []guide.Guide
		address string
		wantErr error
		want    string
	}{
		{"bad address", []guide.Guide{a}, "nie-adres", nil, "test address"},
		{"header injection", []guide.Guide{a}, "a@example.pl\r\nBcc: b@example.pl", nil, "test address"},
		{"nothing due", nil, "redakcja@example.pl", ErrNothingDue, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SendTest(t.Context(), tt.guides, f.publish, tt.address)
			if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SendTest = %v", err)
			}
		})
	}
	if n := len(f.srv.Calls()); n != 2 {
		t.Errorf("%d calls in all, want 2", n)
	}
}

func TestPreview(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 0)
	s := f.sender(nil, f.mailgun(0), nil)
	dir := filepath.Join(t.TempDir(), "podglad")
	tests := []struct {
		slug     string
		wantBase string
	}{
		{"zalegla-faktura", "zalegla-faktura"},
		{"../../etc/passwd", "______etc_passwd"},
		{"żółć", "____"},
	}
	for _, tt := range tests {
		t.Run(tt.wantBase, func(t *testing.T) {
			g := testGuide(tt.slug, 1)
			htmlPath, textPath, err := s.Preview(g, dir)
			if err != nil {
				t.Fatal(err)
			}
			if htmlPath != filepath.Join(dir, tt.wantBase+".html") || textPath != filepath.Join(dir, tt.wantBase+".txt") {
				t.Errorf("paths %s %s", htmlPath, textPath)
			}
			html, _ := os.ReadFile(htmlPath)
			text, _ := os.ReadFile(textPath)
			if !bytes.Contains(html, []byte("Dzień dobry!")) || !bytes.Contains(text, []byte("Dzień dobry!")) {
				t.Error("preview lacks the greeting")
			}
			if bytes.Contains(html, []byte("%recipient.")) || bytes.Contains(text, []byte("%recipient.")) {
				t.Error("preview has unfilled variables")
			}
			if !bytes.HasPrefix(text, []byte("Subject: "+g.Subject()+"\n")) {
				t.Errorf("text preview starts %.60q", text)
			}
		})
	}
	bad := testGuide("zly", 1)
	bad.Permalink = "wzgledny/"
	if _, _, err := s.Preview(bad, dir); err == nil {
		t.Error("Preview rendered a guide without an absolute permalink")
	}
}

func TestRunThroughOutbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 230)
		g := f.guide("skrzynka", 1)
		dir := t.TempDir()
		outbox, err := mailpkg.NewOutbox(dir)
		if err != nil {
			t.Fatal(err)
		}
		opts := func(o *Options) { o.BatchSize = 100 }

		// The first run dies after writing the first batch, before
		// recording it; the next one must find the files, not rewrite them.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := &crasher{at: "SendBatch#1", cancel: cancel, counts: map[string]int{}}
		crashing := f.sender(&crashStore{Store: f.st, c: c}, &crashTransport{Transport: outbox, c: c},
			func(o *Options) { opts(o); o.Concurrency = 1 })
		if _, err := crashing.Run(ctx, []guide.Guide{g}, f.publish); err == nil {
			t.Fatal("crashing run succeeded")
		}
		if _, err := f.sender(nil, outbox, opts).Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
			t.Fatal(err)
		}
		c2 := f.wantLedgerComplete(t, g.Slug, 230)
		if c2.Resolved != 100 {
			t.Errorf("resolved = %d, want the first batch's 100 found in the outbox", c2.Resolved)
		}

		files := emlFiles(t, dir)
		if len(files) != 230 {
			t.Fatalf("%d .eml files, want 230", len(files))
		}
		seen := map[string]bool{}
		for _, path := range files {
			to, unsub, text, html := readEML(t, path)
			if seen[to] {
				t.Errorf("%s has two files", to)
			}
			seen[to] = true
			f.checkUnsubscribe(t, to, unsub)
			if !strings.Contains(text, emails.Greeting) || !strings.Contains(html, htmlpkg.EscapeString(emails.Greeting)) ||
				!strings.Contains(text, unsub) {
				t.Errorf("%s: greeting %q or unsubscribe link missing from the body", to, emails.Greeting)
			}
			if strings.Contains(text+html, "%recipient.") {
				t.Errorf("%s has unfilled variables", path)
			}
		}

		// Running again writes nothing.
		if _, err := f.sender(nil, outbox, opts).Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
			t.Fatal(err)
		}
		if n := len(emlFiles(t, dir)); n != 230 {
			t.Errorf("%d files after a second run, want 230", n)
		}
	})
}

func emlFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestTagFor(t *testing.T) {
	tests := []struct{ slug, want string }{
		{"zalegla-faktura", "zalegla-faktura"},
		{"ulga-żłobkowa", "ulga-%C5%BC%C5%82obkowa"},
		{strings.Repeat("a", 200), strings.Repeat("a", 128)},
	}
	for _, tt := range tests {
		if got := tagFor(tt.slug); got != tt.want {
			t.Errorf("tagFor(%q) = %q, want %q", tt.slug, got, tt.want)
		}
	}
}

// A slug with Polish letters still makes a valid tag, and reconciliation
// finds the batch by it.
func TestRunNonASCIISlug(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 15)
	g := f.guide("ulga-żłobkowa", 1)
	f.srv.Script(mailguntest.AcceptThenReset())
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 10; o.Concurrency = 1 })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	wantEachOnce(t, f.srv, f.addresses())
	if c := f.wantLedgerComplete(t, g.Slug, 15); c.Resolved != 10 {
		t.Errorf("resolved = %d, want 10", c.Resolved)
	}
}

// readEML returns an outbox file's recipient, unsubscribe link and decoded
// text and HTML parts.
func readEML(t *testing.T, path string) (to, unsubscribe, text, html string) {
	t.Helper()
	m, err := emltest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return m.To, strings.Trim(m.Header.Get("List-Unsubscribe"), "<>"), m.Text, m.HTML
}
