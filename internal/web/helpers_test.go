package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/config"
	"github.com/kbpress/kb/internal/delivery"
	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/emltest"
	kbmail "github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const (
	testBaseURL    = "https://wiedza.example.pl/"
	testOrigin     = "https://wiedza.example.pl"
	partnerOrigin  = "https://www.partner.example.com"
	testWebhookKey = "whsec-test-signing-key"
	testSecret     = "0123456789abcdef0123456789abcdef"
	fingerprintCSS = "css/main.min.36b5fd29fd16d60e22cceeb066eabf9fc0fd70b4240989b608c905b5f8d78ad2.css"
)

// testPDF stands in for the whitepaper.
var testPDF = []byte("%PDF-1.7\n" + strings.Repeat("kb whitepaper test bytes\n", 200) + "%%EOF\n")

// testShell is a minimal page shell with the site's markers.
const testShell = `<!DOCTYPE html>
<html lang="pl"><head><meta charset="utf-8"><title>%%KB_TITLE%% · Saldo</title>
<link rel="stylesheet" href="/` + fingerprintCSS + `"></head>
<body><header>Saldo</header><main id="main" tabindex="-1">%%KB_MAIN%%</main><footer>stopka</footer></body></html>
`

// clock is a settable time source shared by the handler, the store calls
// and the delivery worker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingNotifier records Notify calls and passes them on to next (the
// delivery worker, when it runs in the background).
type countingNotifier struct {
	n    atomic.Int64
	next Notifier
}

func (c *countingNotifier) Notify() {
	c.n.Add(1)
	if c.next != nil {
		c.next.Notify()
	}
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type envConfig struct {
	gated      bool
	rate       config.Rate
	proxies    []netip.Prefix
	webhookKey string
	baseURL    string
	noShell    bool
	quiet      bool                     // discard logs (benchmarks)
	postgres   bool                     // a fresh database on KB_TEST_POSTGRES instead of SQLite
	store      func(*store.Store) Store // wraps the store (fault injection)
	options    func(*Options)           // edits the handler's options (deadlines)
	newsletter config.NewsletterParams  // topics, frequency, digest
	onErase    func(ctx context.Context, email string)
}

// env is a handler over a real SQLite store, a real outbox and a real
// delivery worker (drained synchronously), with a fixture site.
type env struct {
	t        testing.TB
	h        *Handler
	store    *store.Store
	outbox   *kbmail.Outbox
	worker   *delivery.Worker
	clock    *clock
	cfg      *config.Config
	signer   *token.Signer
	links    *token.Links
	notifier *countingNotifier
	public   string
	pdf      string
	logs     *syncBuffer
	dsn      string // the store's database, for a second connection
}

var (
	templatesOnce sync.Once
	templates     *emails.Templates
	templatesErr  error
)

func newEnv(t testing.TB, mods ...func(*envConfig)) *env {
	t.Helper()
	ec := envConfig{webhookKey: testWebhookKey, baseURL: testBaseURL}
	for _, m := range mods {
		m(&ec)
	}
	dir := t.TempDir()
	public := filepath.Join(dir, "public")
	writeSite(t, public, !ec.noShell)
	pdf := filepath.Join(dir, "private", "biala-ksiega.pdf")
	writeFile(t, pdf, string(testPDF))

	cfg := &config.Config{
		Root:    dir,
		BaseURL: ec.baseURL,
		Title:   "Saldo · Wiedza",
		Params: config.Params{
			Firm:       config.Firm{Name: "Biuro Rachunkowe Saldo", Address: "ul. Testowa 1, 00-001 Warszawa"},
			Mail:       config.MailParams{FromName: "Saldo · Poradniki", FromAddress: "poradniki@example.pl"},
			Whitepaper: config.WhitepaperParams{Gated: ec.gated},
			Signup:     config.SignupParams{ConsentVersion: "2026-11-01", AllowedOrigins: []string{partnerOrigin}},
			Newsletter: ec.newsletter,
		},
		Env: config.Env{
			SignupRate:               ec.rate,
			TrustedProxies:           ec.proxies,
			MailgunWebhookSigningKey: ec.webhookKey,
		},
	}
	dsn := "sqlite:" + filepath.Join(dir, "data", "kb.db")
	if ec.postgres {
		dsn = postgresDSN(t)
	}
	st, err := store.Open(context.Background(), dsn, store.WithErasureKeys(token.DeriveKey([]byte(testSecret), "erasure")))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	clk := &clock{now: t0}
	outbox, err := kbmail.NewOutbox(filepath.Join(dir, "outbox"), kbmail.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	templatesOnce.Do(func() {
		templates, templatesErr = emails.New(emails.SiteFromConfig(cfg, "Gotówka pod kontrolą"))
	})
	if templatesErr != nil {
		t.Fatal(templatesErr)
	}
	links := token.NewLinks(signer, cfg.BaseURL)
	worker := delivery.New(st, outbox, &delivery.Transactional{
		Templates:       templates,
		Links:           links,
		From:            cfg.Params.Mail.From(),
		WhitepaperGated: ec.gated,
		WhitepaperURL:   cfg.AbsURL("/biala-ksiega/gotowka.pdf"),
	}, delivery.Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})

	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if ec.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	notifier := &countingNotifier{}
	var s Store = st
	if ec.store != nil {
		s = ec.store(st)
	}
	opts := Options{
		PublishDir:         public,
		WhitepaperFile:     pdf,
		WhitepaperURL:      "/biala-ksiega/gotowka.pdf",
		WhitepaperTitle:    "Gotówka pod kontrolą",
		WhitepaperFilename: "Gotówka pod kontrolą.pdf",
	}
	if ec.options != nil {
		ec.options(&opts)
	}
	h, err := New(Deps{
		Store:    s,
		Notifier: notifier,
		Signer:   signer,
		Config:   cfg,
		Logger:   logger,
		Now:      clk.Now,
		OnErase:  ec.onErase,
	}, opts)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	return &env{t: t, h: h, store: st, outbox: outbox, worker: worker, clock: clk, cfg: cfg,
		signer: signer, links: links, notifier: notifier, public: public, pdf: pdf, logs: logs, dsn: dsn}
}

// postgresDSN creates a database with a random name on the server named by
// KB_TEST_POSTGRES and drops it when the test ends; without the variable
// the test is skipped.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KB_TEST_POSTGRES")
	if base == "" {
		t.Skip("KB_TEST_POSTGRES is not set: skipping the PostgreSQL variant")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("KB_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kbweb_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("KB_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSite lays out a small built site.
func writeSite(t testing.TB, public string, withShell bool) {
	t.Helper()
	files := map[string]string{
		"index.html":                       "<!DOCTYPE html><title>Saldo</title><p>Strona główna</p>",
		"404.html":                         "<!DOCTYPE html><title>Nie znaleziono</title><h1>Nie ma takiej strony (site 404)</h1>",
		"newsletter/index.html":            "<!DOCTYPE html><title>Newsletter</title>",
		"newsletter/dziekujemy/index.html": "<!DOCTYPE html><title>Sprawdź skrzynkę</title>",
		"poradniki/index.html":             "<!DOCTYPE html><title>Poradniki</title>",
		"poradniki/index.xml":              "<rss></rss>",
		fingerprintCSS:                     "body{color:#123}",
		"favicon.svg":                      "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
		".kb-manifest.json":                `{"files":["index.html"]}`,
		"empty/readme.txt":                 "a directory without index.html",
	}
	if withShell {
		files[ShellPath] = testShell
	}
	for name, content := range files {
		writeFile(t, filepath.Join(public, filepath.FromSlash(name)), content)
	}
}

// do sends r through the handler.
func (e *env) do(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) get(target string) *httptest.ResponseRecorder {
	return e.do(httptest.NewRequest(http.MethodGet, target, nil))
}

// formRequest is the site's form as a browser posts it.
func formRequest(vals url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, subscribePath, strings.NewReader(vals.Encode()))
	r.Header.Set("Content-Type", mediaForm)
	r.Header.Set("Origin", testOrigin)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

// jsonRequest is signup.js's request.
func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, subscribePath, strings.NewReader(body))
	r.Header.Set("Content-Type", mediaJSON)
	r.Header.Set("Accept", mediaJSON)
	r.Header.Set("Origin", testOrigin)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

func signupValues(email string) url.Values {
	return url.Values{"email": {email}, "name": {"Jan"}, "consent": {"yes"}, "website": {""}, "source": {"/newsletter/"}}
}

// counts is what a refused request must not change.
type counts struct {
	subscribers, queued, notified int
}

func (e *env) counts() counts {
	e.t.Helper()
	st, err := e.store.Stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, c := range st.Subscribers {
		n += c
	}
	return counts{subscribers: n, queued: st.MailQueued + st.MailSending, notified: int(e.notifier.n.Load())}
}

func (e *env) drain() {
	e.t.Helper()
	if _, err := e.worker.Drain(context.Background()); err != nil {
		e.t.Fatalf("drain: %v", err)
	}
}

// sentMail is one .eml from the outbox.
type sentMail struct {
	file        string
	to          string
	tag         string
	text        string
	unsubscribe string // the List-Unsubscribe URL
}

// outboxMails reads every email in the outbox, oldest first.
func (e *env) outboxMails() []sentMail {
	e.t.Helper()
	entries, err := os.ReadDir(e.outbox.Dir())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []sentMail
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".eml") {
			continue
		}
		out = append(out, readEML(e.t, filepath.Join(e.outbox.Dir(), ent.Name())))
	}
	slices.SortFunc(out, func(a, b sentMail) int { return strings.Compare(a.file, b.file) })
	return out
}

func (e *env) mailsTagged(tag string) []sentMail {
	var out []sentMail
	for _, m := range e.outboxMails() {
		if m.tag == tag {
			out = append(out, m)
		}
	}
	return out
}

func readEML(t testing.TB, path string) sentMail {
	t.Helper()
	m, err := emltest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return sentMail{file: filepath.Base(path), tag: m.Header.Get("X-Mailgun-Tag"), to: m.To,
		unsubscribe: strings.Trim(m.Header.Get("List-Unsubscribe"), "<>"), text: m.Text}
}

// linkIn finds the first link to path in text and returns it relative to
// the site (path and query), checking that it points at the site.
func linkIn(t testing.TB, text, path string) string {
	t.Helper()
	i := strings.Index(text, testOrigin+path+"?token=")
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	end := strings.IndexAny(text[i:], " \r\n>)\"")
	if end < 0 {
		end = len(text) - i
	}
	return relative(t, text[i:i+end])
}

func relative(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	if u.Scheme+"://"+u.Host != testOrigin {
		t.Fatalf("link %q does not point at %s", link, testOrigin)
	}
	return u.RequestURI()
}

func (e *env) subscriber(email string) store.Subscriber {
	e.t.Helper()
	sub, err := e.store.GetByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("subscriber %s: %v", email, err)
	}
	return sub
}

// securityHeaderNames are on every response.
var securityHeaderNames = []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Permissions-Policy"}

func assertSecurityHeaders(t testing.TB, what string, h http.Header) {
	t.Helper()
	for _, k := range securityHeaderNames {
		if h.Get(k) == "" {
			t.Errorf("%s: no %s header", what, k)
		}
	}
	if got := h.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("%s: CSP = %q", what, got)
	}
}
