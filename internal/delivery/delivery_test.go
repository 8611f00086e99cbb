package delivery

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/emails"
	kbmail "github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	store  *store.Store
	signer *token.Signer
	comp   *Transactional
	clock  *clock
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	signer, _ := token.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	tpl, err := emails.New(emails.Site{
		Title: "Saldo", BaseURL: "https://wiedza.example.pl/", FirmName: "Biuro", FirmAddress: "ul. Testowa 1, Warszawa",
		PrivacyURL: "https://wiedza.example.pl/polityka-prywatnosci/", WhitepaperURL: "https://wiedza.example.pl/biala-ksiega/",
		WhitepaperTitle: "Gotówka pod kontrolą",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		store:  st,
		signer: signer,
		clock:  &clock{now: t0},
		comp: &Transactional{
			Templates: tpl, Links: token.NewLinks(signer, "https://wiedza.example.pl/"),
			From: `"Poradniki" <poradniki@example.pl>`, ReplyTo: "kontakt@example.pl",
			WhitepaperGated: true,
		},
	}
}

func sqliteDSN(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "kb.db") }

func (f *fixture) subscribe(t *testing.T, email string, whitepaper bool) store.Subscriber {
	t.Helper()
	sub, _, err := f.store.Subscribe(context.Background(), store.SignupRequest{
		Email: email, WantsWhitepaper: whitepaper,
		Consent: store.Consent{At: f.clock.Now(), Version: "1", Source: "/", IP: "192.0.2.1"},
	}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func (f *fixture) worker(m Mailer, opts Options) *Worker {
	opts.Now = f.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff = time.Minute
	}
	return New(f.store, m, f.comp, opts)
}

func newOutbox(t *testing.T) *kbmail.Outbox {
	t.Helper()
	o, err := kbmail.NewOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func readOutbox(t *testing.T, o *kbmail.Outbox) []*mail.Message {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(o.Dir(), "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*mail.Message
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := io.ReadAll(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		m.Body = strings.NewReader(string(body))
		msgs = append(msgs, m)
	}
	return msgs
}

func TestDeliversConfirmationWithSignedLinks(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	sub := f.subscribe(t, "Anna.Nowak@Example.PL", true)
	out := newOutbox(t)
	w := f.worker(out, Options{})

	n, err := w.Drain(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Drain = %d, %v; want 1 email", n, err)
	}
	msgs := readOutbox(t, out)
	if len(msgs) != 1 {
		t.Fatalf("outbox has %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if to := m.Header.Get("To"); !strings.Contains(to, "Anna.Nowak@example.pl") {
		t.Errorf("To = %q", to)
	}
	if s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); !strings.Contains(s, "Potwierdź zapis") {
		t.Errorf("Subject = %q", s)
	}
	if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", m.Header.Get("List-Unsubscribe-Post"))
	}
	unsub := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	if c := f.verify(t, unsub, token.Unsubscribe); c.SubscriberID != sub.ID {
		t.Errorf("unsubscribe link names subscriber %d, want %d", c.SubscriberID, sub.ID)
	}
	raw := textPart(t, m)
	confirm := findLink(t, raw, "https://wiedza.example.pl/api/confirm?token=")
	c := f.verify(t, confirm, token.Confirm)
	if c.SubscriberID != sub.ID || !c.Expires.Equal(t0.Add(token.ConfirmTTL)) {
		t.Errorf("confirm claims = %+v", c)
	}
	if !strings.Contains(raw, "biał") {
		t.Error("confirmation for a whitepaper signup does not mention the whitepaper")
	}
	if n, err := w.Drain(context.Background()); n != 0 || err != nil {
		t.Fatalf("second Drain = %d, %v; want nothing left", n, err)
	}
}

func (f *fixture) verify(t *testing.T, link string, p token.Purpose) token.Claims {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.signer.Verify(u.Query().Get("token"), p, f.clock.Now())
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	return c
}

// textPart returns the decoded text/plain part of a multipart/alternative message.
func textPart(t *testing.T, m *mail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p) // NextPart decodes quoted-printable
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// findLink returns the first URL with prefix in body.
func findLink(t *testing.T, body, prefix string) string {
	t.Helper()
	i := strings.Index(body, prefix)
	if i < 0 {
		t.Fatalf("no link %q in body", prefix)
	}
	end := strings.IndexAny(body[i:], "\"<> \r\n)")
	return body[i : i+end]
}

func TestOutageDelaysButDoesNotLose(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	f.subscribe(t, "jan@example.pl", false)
	srv := mailguntest.New()
	t.Cleanup(srv.Close)
	mg, err := kbmail.NewMailgun(kbmail.MailgunConfig{Domain: srv.Domain(), APIKey: srv.APIKey(), APIBase: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Script(mailguntest.Status(503, ""), mailguntest.Status(429, "600"))
	w := f.worker(mg, Options{})
	ctx := context.Background()

	// Attempt 1: 503. Rescheduled about a minute later.
	if _, err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	due, ok, _ := f.store.NextMailDue(ctx)
	if !ok || !due.After(t0) || due.After(t0.Add(2*time.Minute)) {
		t.Fatalf("after 503 next attempt at %v (ok=%v), want within backoff", due, ok)
	}
	// Attempt 2: 429 asking for 10 minutes; the worker honours it.
	f.clock.Add(due.Sub(t0))
	if _, err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	due2, ok, _ := f.store.NextMailDue(ctx)
	if !ok || due2.Sub(f.clock.Now()) < 10*time.Minute {
		t.Fatalf("after 429 Retry-After 600 next attempt at %v, only %v away", due2, due2.Sub(f.clock.Now()))
	}
	if srv.Recipients()["jan@example.pl"] != 0 {
		t.Fatal("email accepted during the outage")
	}
	// Mailgun is back.
	f.clock.Add(due2.Sub(f.clock.Now()))
	if n, err := w.Drain(ctx); n != 1 || err != nil {
		t.Fatalf("Drain after outage = %d, %v", n, err)
	}
	if got := srv.Recipients()["jan@example.pl"]; got != 1 {
		t.Fatalf("accepted %d times, want 1", got)
	}
	if _, ok, _ := f.store.NextMailDue(ctx); ok {
		t.Fatal("queue not empty after delivery")
	}
}

func TestGivesUp(t *testing.T) {
	tests := []struct {
		name   string
		faults []mailguntest.Fault
		drains int
	}{
		{"permanent refusal", []mailguntest.Fault{mailguntest.Status(400, "")}, 1},
		{"too many attempts", []mailguntest.Fault{mailguntest.Status(500, ""), mailguntest.Status(500, ""), mailguntest.Status(500, "")}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sqliteDSN(t))
			f.subscribe(t, "jan@example.pl", false)
			srv := mailguntest.New()
			t.Cleanup(srv.Close)
			mg, _ := kbmail.NewMailgun(kbmail.MailgunConfig{Domain: srv.Domain(), APIKey: srv.APIKey(), APIBase: srv.URL()})
			srv.Script(tt.faults...)
			w := f.worker(mg, Options{MaxAttempts: 3})
			for range tt.drains {
				if _, err := w.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
				f.clock.Add(24 * time.Hour)
			}
			if _, ok, _ := f.store.NextMailDue(context.Background()); ok {
				t.Fatal("email still queued; want it given up")
			}
			if got := len(srv.Calls()); got != tt.drains {
				t.Fatalf("%d calls, want %d", got, tt.drains)
			}
		})
	}
}

func TestExpiredConfirmationIsDropped(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	f.subscribe(t, "jan@example.pl", false)
	f.clock.Add(token.ConfirmTTL + time.Minute)
	out := newOutbox(t)
	if _, err := f.worker(out, Options{}).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(readOutbox(t, out)); n != 0 {
		t.Fatalf("sent %d emails with an expired link", n)
	}
}

func TestCrashedWorkersEmailsAreResumed(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	f.subscribe(t, "jan@example.pl", false)
	ctx := context.Background()
	// A worker claims the email and dies before sending it.
	if got, err := f.store.ClaimMail(ctx, "crashed", 10, 2*time.Minute, f.clock.Now()); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	out := newOutbox(t)
	w := f.worker(out, Options{Lease: 2 * time.Minute})
	if n, _ := w.Drain(ctx); n != 0 {
		t.Fatal("took over a claim before its lease ran out")
	}
	f.clock.Add(2*time.Minute + time.Second)
	if n, err := w.Drain(ctx); n != 1 || err != nil {
		t.Fatalf("Drain after lease = %d, %v", n, err)
	}
	if n := len(readOutbox(t, out)); n != 1 {
		t.Fatalf("outbox has %d emails, want 1", n)
	}
}

func TestConcurrentWorkersSendEachOnce(t *testing.T) {
	backends := map[string]func(*testing.T) string{
		"sqlite":   sqliteDSN,
		"postgres": func(t *testing.T) string { return pgtest.DSN(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, dsn(t))
			const n = 120
			for i := range n {
				f.subscribe(t, "r"+itoa(i)+"@example.pl", false)
			}
			srv := mailguntest.New()
			t.Cleanup(srv.Close)
			mg, _ := kbmail.NewMailgun(kbmail.MailgunConfig{Domain: srv.Domain(), APIKey: srv.APIKey(), APIBase: srv.URL()})
			var wg sync.WaitGroup
			for i := range 3 {
				w := f.worker(mg, Options{Name: "w" + itoa(i), ClaimSize: 7, Concurrency: 3})
				wg.Go(func() {
					if _, err := w.Drain(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			rcpt := srv.Recipients()
			if len(rcpt) != n {
				t.Fatalf("%d distinct recipients, want %d", len(rcpt), n)
			}
			for addr, c := range rcpt {
				if c != 1 {
					t.Errorf("%s got %d emails", addr, c)
				}
			}
		})
	}
}

// notifyingMailer reports each send on a channel.
type notifyingMailer struct {
	Mailer
	sent chan string
}

func (m notifyingMailer) Send(ctx context.Context, msg *kbmail.Message) (string, error) {
	id, err := m.Mailer.Send(ctx, msg)
	if err == nil {
		m.sent <- msg.To
	}
	return id, err
}

func TestRunWakesOnNotify(t *testing.T) {
	f := newFixture(t, sqliteDSN(t))
	m := notifyingMailer{Mailer: newOutbox(t), sent: make(chan string, 1)}
	w := f.worker(m, Options{Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	f.subscribe(t, "jan@example.pl", false)
	w.Notify()
	select {
	case to := <-m.sent:
		if to != "jan@example.pl" {
			t.Fatalf("sent to %q", to)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not wake up on Notify")
	}
	cancel()
	<-done
}

func itoa(i int) string { return strconv.Itoa(i) }
