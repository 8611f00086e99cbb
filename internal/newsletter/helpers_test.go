package newsletter

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

const (
	testBaseURL = "https://wiedza.example.pl/"
	testFrom    = `"Saldo · Wiedza" <poradniki@example.pl>`
	testReplyTo = "biuro@example.pl"
)

var testSecret = []byte("newsletter-test-secret")

// backend opens stores on one database; every call is a new handle, as a
// second process would have.
type backend struct {
	name string
	dsn  string
}

func (b backend) open(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), b.dsn)
	if err != nil {
		t.Fatalf("open %s store: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs fn against a fresh SQLite database and, when
// KB_TEST_POSTGRES names a server, a fresh PostgreSQL database (skipped
// with a message otherwise, failed when CI is set).
func eachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, backend{name: "sqlite", dsn: "sqlite:" + filepath.Join(t.TempDir(), "kb.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, backend{name: "postgres", dsn: pgtest.DSN(t)})
	})
}

func sqliteBackend(t testing.TB) backend {
	return backend{name: "sqlite", dsn: "sqlite:" + filepath.Join(t.TempDir(), "kb.db")}
}

// fixture is a site, a store with subscribers, and a fake Mailgun.
type fixture struct {
	t       *testing.T
	be      backend
	st      *store.Store
	srv     *mailguntest.Server
	tpl     *emails.Templates
	signer  *token.Signer
	links   *token.Links
	publish string
	// subs maps each confirmed subscriber's address to its id and name.
	subs map[string]subscriber
	// conns counts the fake Mailgun's open connections; clients are the
	// HTTP transports of the Mailgun clients made so far.
	conns   *trackingListener
	mu      sync.Mutex
	clients []*http.Transport
}

type subscriber struct {
	id   int64
	name string
}

func newFixture(t *testing.T, be backend, subscribers int, srvOpts ...mailguntest.Option) *fixture {
	t.Helper()
	f := &fixture{t: t, be: be, st: be.open(t), publish: t.TempDir(), subs: map[string]subscriber{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.conns = &trackingListener{Listener: l, changed: make(chan struct{})}
	f.srv = mailguntest.New(append(srvOpts, mailguntest.WithListener(f.conns))...)
	t.Cleanup(f.srv.Close)
	if f.tpl, f.signer, err = testTemplates(); err != nil {
		t.Fatal(err)
	}
	f.links = token.NewLinks(f.signer, testBaseURL)
	f.seed(1, subscribers)
	return f
}

// seed imports n confirmed subscribers user<i>@example.com from i = from;
// every seventh has no name, the others names that need HTML escaping.
func (f *fixture) seed(from, n int) {
	f.t.Helper()
	if n == 0 {
		return
	}
	rows := func(yield func(store.ImportRow) bool) {
		for i := from; i < from+n; i++ {
			name := fmt.Sprintf("Zofia Łęcka <%d> & Syn", i)
			if i%7 == 0 {
				name = ""
			}
			if !yield(store.ImportRow{Email: fmt.Sprintf("user%05d@example.com", i), Name: name}) {
				return
			}
		}
	}
	rep, err := f.st.Import(f.t.Context(), iter.Seq[store.ImportRow](rows), store.StatusConfirmed, time.Now())
	if err != nil || rep.Imported != n {
		f.t.Fatalf("import %d subscribers: %d imported, %v (skipped %v)", n, rep.Imported, err, rep.Skipped)
	}
	err = f.st.ListSubscribers(f.t.Context(), store.ListFilter{Status: store.StatusConfirmed}, func(s store.Subscriber) error {
		f.subs[s.Email] = subscriber{id: s.ID, name: s.Name}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func testTemplates() (*emails.Templates, *token.Signer, error) {
	tpl, err := emails.New(emails.Site{
		Title:       "Saldo · Wiedza",
		BaseURL:     testBaseURL,
		FirmName:    "Biuro Rachunkowe Saldo sp. z o.o.",
		FirmAddress: "ul. Przykładowa 12/3, 00-950 Warszawa",
		PrivacyURL:  testBaseURL + "polityka-prywatnosci/",
		Location:    time.UTC,
	})
	if err != nil {
		return nil, nil, err
	}
	signer, err := token.NewSigner(testSecret)
	return tpl, signer, err
}

// guide returns a guide dated day days after 2026-11-01 whose page exists
// in the publish directory.
func (f *fixture) guide(slug string, day int) guide.Guide {
	f.t.Helper()
	g := testGuide(slug, day)
	f.publishPage(g)
	return g
}

func testGuide(slug string, day int) guide.Guide {
	return guide.Guide{
		Slug:        slug,
		Title:       "Poradnik: " + slug,
		Description: "Krótko o " + slug,
		Permalink:   testBaseURL + "poradniki/" + slug + "/",
		OutputPath:  "poradniki/" + slug + "/index.html",
		Date:        time.Date(2026, 11, 1+day, 9, 0, 0, 0, time.UTC),
		Newsletter:  true,
		SourcePath:  "content/poradniki/" + slug + ".md",
		Markdown:    "## Wstęp\n\nTreść poradnika z [odnośnikiem](../inny/) i **pogrubieniem**.\n",
		WordCount:   12,
	}
}

func (f *fixture) publishPage(g guide.Guide) {
	f.t.Helper()
	path := filepath.Join(f.publish, filepath.FromSlash(g.OutputPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("<!doctype html><title>"+g.Title+"</title>"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) mailgun(timeout time.Duration) *mail.Mailgun {
	f.t.Helper()
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	f.mu.Lock()
	f.clients = append(f.clients, tr)
	f.mu.Unlock()
	m, err := mail.NewMailgun(mail.MailgunConfig{Domain: f.srv.Domain(), APIKey: f.srv.APIKey(), APIBase: f.srv.URL(),
		Timeout: timeout, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// quiesce is what a dead process leaves behind: its connections closed,
// and the fake Mailgun done with every request it had received. Without
// it, a test that reconciles at once (Settle < 0) could ask for accepted
// events before the fake has recorded a request the dead process wrote —
// the lag that Settle covers in production.
func (f *fixture) quiesce(ctx context.Context) error {
	f.mu.Lock()
	for _, tr := range f.clients {
		tr.CloseIdleConnections()
	}
	f.mu.Unlock()
	return f.conns.waitIdle(ctx)
}

// trackingListener counts open server-side connections; the HTTP server
// closes one only after its handler has returned.
type trackingListener struct {
	net.Listener
	mu      sync.Mutex
	open    int
	changed chan struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) closed() {
	l.mu.Lock()
	l.open--
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *trackingListener) waitIdle(ctx context.Context) error {
	for {
		l.mu.Lock()
		open, changed := l.open, l.changed
		l.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d connections still open: %w", open, ctx.Err())
		}
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.closed)
	return err
}

// sleeps records the waits a Sender asked for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

// sender builds a Sender for the fixture with test-friendly defaults:
// reconcile at once, tiny backoff, logs into the test output.
func (f *fixture) sender(st Store, tr Transport, edit func(*Options)) *Sender {
	f.t.Helper()
	opts := Options{
		From:        testFrom,
		ReplyTo:     testReplyTo,
		Since:       time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Settle:      -1,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  4 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(f.t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		Holder:      "test-" + f.t.Name(),
	}
	if edit != nil {
		edit(&opts)
	}
	if st == nil {
		st = f.st
	}
	return New(st, tr, f.tpl, f.links, opts)
}

// wantEachOnce checks that the server accepted every confirmed subscriber
// in want exactly once and nobody else.
func wantEachOnce(t *testing.T, srv *mailguntest.Server, want []string) {
	t.Helper()
	got := srv.Recipients()
	for _, addr := range want {
		if n := got[addr]; n != 1 {
			t.Errorf("%s accepted %d times, want once", addr, n)
		}
	}
	if len(got) != len(want) {
		extra := []string{}
		for addr := range got {
			if !slices.Contains(want, addr) {
				extra = append(extra, addr)
			}
		}
		t.Errorf("%d addresses accepted, want %d; unexpected: %v", len(got), len(want), extra)
	}
}

func (f *fixture) addresses() []string {
	return slices.Sorted(maps.Keys(f.subs))
}

// checkVars verifies one recipient's variables: the unsubscribe link is
// signed for that subscriber and the greeting carries their name.
func (f *fixture) checkVars(t *testing.T, addr string, vars map[string]any) {
	t.Helper()
	if _, ok := f.subs[addr]; !ok {
		t.Errorf("variables for unknown recipient %s", addr)
		return
	}
	raw, _ := vars[emails.VarUnsubscribe].(string)
	f.checkUnsubscribe(t, addr, raw)
	prefs, _ := vars[emails.VarPreferences].(string)
	f.checkLink(t, addr, prefs, token.PreferencesPath, token.Preferences)
	wantVars := emails.RecipientVars(raw, prefs)
	for k, want := range wantVars {
		if got, _ := vars[k].(string); got != want {
			t.Errorf("%s: variable %s = %q, want %q", addr, k, got, want)
		}
	}
}

// checkUnsubscribe verifies that raw is the site's unsubscribe link signed
// for the subscriber at addr.
func (f *fixture) checkUnsubscribe(t *testing.T, addr, raw string) {
	t.Helper()
	sub, ok := f.subs[addr]
	if !ok {
		t.Errorf("unknown recipient %s", addr)
		return
	}
	_ = sub
	f.checkLink(t, addr, raw, token.UnsubscribePath, token.Unsubscribe)
}

// checkLink verifies that raw is the site's link at path signed for
// purpose and the subscriber at addr.
func (f *fixture) checkLink(t *testing.T, addr, raw, path string, purpose token.Purpose) {
	t.Helper()
	sub := f.subs[addr]
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(raw, testBaseURL+strings.TrimPrefix(path, "/")+"?") {
		t.Errorf("%s: link %q is not the site's %s", addr, raw, path)
		return
	}
	claims, err := f.signer.Verify(u.Query().Get("token"), purpose, time.Now())
	if err != nil || claims.SubscriberID != sub.id {
		t.Errorf("%s: %s token verifies as subscriber %d (%v), want %d", addr, path, claims.SubscriberID, err, sub.id)
	}
}

func (f *fixture) campaign(slug string) store.Campaign {
	f.t.Helper()
	c, err := f.st.CampaignBySlug(f.t.Context(), slug)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// wantLedgerComplete checks that the campaign is sent and that every
// recipient is accounted for exactly once in the ledger.
func (f *fixture) wantLedgerComplete(t *testing.T, slug string, recipients int) store.Campaign {
	t.Helper()
	c := f.campaign(slug)
	if c.State != store.CampaignSent {
		t.Errorf("campaign %s is %s (%s), want sent", slug, c.State, c.Error)
	}
	if c.Recipients != recipients || c.Sent+c.Resolved+c.Skipped != recipients || c.Failed != 0 {
		t.Errorf("campaign %s: recipients %d sent %d resolved %d skipped %d failed %d, want %d all sent, resolved or skipped",
			slug, c.Recipients, c.Sent, c.Resolved, c.Skipped, c.Failed, recipients)
	}
	batches, err := f.st.Batches(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if b.State != store.BatchSent {
			t.Errorf("batch %d is %s, want sent", b.Seq, b.State)
		}
	}
	return c
}
