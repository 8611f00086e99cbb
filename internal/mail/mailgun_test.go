package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/mailguntest"
)

// transport is what callers (delivery, newsletter, cmd/kb) use; both
// transports must provide it.
type transport interface {
	Send(context.Context, *Message) (string, error)
	SendBatch(context.Context, *Batch) (string, error)
	Accepted(context.Context, AcceptedQuery) ([]string, error)
	Describe() string
}

var (
	_ transport = (*Outbox)(nil)
	_ transport = (*Mailgun)(nil)
)

func newMailgun(t testing.TB, s *mailguntest.Server, edit ...func(*MailgunConfig)) *Mailgun {
	t.Helper()
	cfg := MailgunConfig{Domain: s.Domain(), APIKey: s.APIKey(), APIBase: s.URL(), Timeout: 10 * time.Second}
	for _, e := range edit {
		e(&cfg)
	}
	m, err := NewMailgun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func onlyCall(t *testing.T, s *mailguntest.Server) mailguntest.Call {
	t.Helper()
	calls := s.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	return calls[0]
}

func TestNewMailgun(t *testing.T) {
	tests := []struct {
		name string
		cfg  MailgunConfig
		want string // error substring, or Describe() when ok
	}{
		{"default base", MailgunConfig{Domain: "mg.example.pl", APIKey: "k"}, "mailgun mg.example.pl via https://api.mailgun.net/v3"},
		{"EU base, trailing slash", MailgunConfig{Domain: "mg.example.pl", APIKey: "k", APIBase: "https://api.eu.mailgun.net/v3/"}, "mailgun mg.example.pl via https://api.eu.mailgun.net/v3"},
		{"no domain", MailgunConfig{APIKey: "k"}, "domain and API key are required"},
		{"no key", MailgunConfig{Domain: "mg.example.pl"}, "domain and API key are required"},
		{"base without v3", MailgunConfig{Domain: "mg.example.pl", APIKey: "k", APIBase: "https://api.eu.mailgun.net"}, "must end in /v3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMailgun(tt.cfg)
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if got := m.Describe(); got != tt.want {
				t.Fatalf("Describe() = %q, want %q", got, tt.want)
			}
			if strings.Contains(m.Describe(), "k via") {
				t.Fatal("Describe leaks the key")
			}
		})
	}
	// The caller's client is copied, never modified.
	base := &http.Client{}
	if _, err := NewMailgun(MailgunConfig{Domain: "d.pl", APIKey: "k", HTTPClient: base}); err != nil || base.Transport != nil || base.Timeout != 0 {
		t.Fatalf("caller's client modified: %+v, %v", base, err)
	}
}

func TestMailgunSend(t *testing.T) {
	s := mailguntest.New()
	defer s.Close()
	m := newMailgun(t, s)
	msg := polishMessage()
	id, err := m.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	c := onlyCall(t, s)
	if id != c.ID || id == "" {
		t.Errorf("id %q, server id %q", id, c.ID)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil || from.Name != "Biuro Rachunkowe Łódź" || from.Address != "poradniki@example.pl" {
		t.Errorf("from %q → %v %v", c.From, from, err)
	}
	to, err := mail.ParseAddress(c.Form.Get("to"))
	if err != nil || to.Name != msg.ToName || to.Address != msg.To || !slices.Equal(c.To, []string{msg.To}) {
		t.Errorf("to %q → %v %v", c.Form.Get("to"), to, err)
	}
	checks := []struct{ name, got, want string }{
		{"subject", c.Subject, msg.Subject},
		{"html", c.HTML, msg.HTML},
		{"text", c.Text, msg.Text},
		{"h:List-Unsubscribe", c.Headers["List-Unsubscribe"], msg.Headers["List-Unsubscribe"]},
		{"h:List-Unsubscribe-Post", c.Headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click"},
		{"h:Reply-To", c.Headers["Reply-To"], "biuro@example.pl"},
		{"o:tag", strings.Join(c.Tags, ","), "confirm"},
		{"v:kb-email", c.Variables["kb-email"], "42"},
		{"v:kb-note", c.Variables["kb-note"], "zażółć"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.RecipientVariables != nil || c.TestMode || !c.DeliveryTime.IsZero() {
		t.Errorf("single message carried batch options: %+v", c)
	}
	// Invalid input never reaches the server.
	msg.Subject = "x\r\nBcc: v@example.com"
	if _, err := m.Send(context.Background(), msg); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("injection: %v", err)
	}
	if len(s.Calls()) != 1 {
		t.Error("invalid message was sent")
	}
}

func TestMailgunSendBatch(t *testing.T) {
	s := mailguntest.New()
	defer s.Close()
	m := newMailgun(t, s)
	b := testBatch(MaxRecipients)
	b.DeliveryTime = time.Date(2026, 11, 3, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	b.TestMode = true
	id, err := m.SendBatch(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	c := onlyCall(t, s)
	if id != c.ID {
		t.Errorf("id %q, server %q", id, c.ID)
	}
	if len(c.To) != MaxRecipients || len(c.RecipientVariables) != MaxRecipients {
		t.Fatalf("%d recipients, %d recipient-variables", len(c.To), len(c.RecipientVariables))
	}
	for i, r := range b.Recipients {
		if c.To[i] != r.Address {
			t.Fatalf("to[%d] = %q, want %q", i, c.To[i], r.Address)
		}
		rv := c.RecipientVariables[r.Address]
		for k, v := range r.Vars {
			if rv[k] != v {
				t.Fatalf("recipient-variables[%s][%s] = %v, want %q", r.Address, k, rv[k], v)
			}
		}
	}
	checks := []struct{ name, got, want string }{
		{"from keeps placeholders", c.From, b.From},
		{"subject keeps placeholders", c.Subject, b.Subject},
		{"html", c.HTML, b.HTML},
		{"text", c.Text, b.Text},
		{"h:List-Unsubscribe", c.Headers["List-Unsubscribe"], "<%recipient.unsub%>"},
		{"h:List-Unsubscribe-Post", c.Headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click"},
		{"h:Reply-To", c.Headers["Reply-To"], "biuro@example.pl"},
		{"o:tag", strings.Join(c.Tags, ","), "newsletter"},
		{"v:kb-campaign", c.Variables["kb-campaign"], "7"},
		{"v:kb-batch", c.Variables["kb-batch"], "1"},
		{"o:testmode", c.Form.Get("o:testmode"), "yes"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if !c.DeliveryTime.Equal(b.DeliveryTime) {
		t.Errorf("o:deliverytime %q → %v, want %v", c.Form.Get("o:deliverytime"), c.DeliveryTime, b.DeliveryTime)
	}
	if got := s.Stats(); got.Recipients != MaxRecipients {
		t.Errorf("server accepted %d recipients", got.Recipients)
	}
}

// Signed links must never pass through Mailgun's tracking redirect, and the
// firm promises no tracking at all: every kind of message switches both
// kinds off, whatever the domain's own settings.
func TestMailgunTrackingOff(t *testing.T) {
	tests := []struct {
		name string
		send func(context.Context, *Mailgun) error
	}{
		{"single message (confirmation, whitepaper)", func(ctx context.Context, m *Mailgun) error {
			_, err := m.Send(ctx, polishMessage())
			return err
		}},
		{"newsletter batch", func(ctx context.Context, m *Mailgun) error {
			_, err := m.SendBatch(ctx, testBatch(3))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mailguntest.New()
			defer s.Close()
			if err := tt.send(t.Context(), newMailgun(t, s)); err != nil {
				t.Fatal(err)
			}
			c := onlyCall(t, s)
			for _, field := range []string{"o:tracking", "o:tracking-clicks", "o:tracking-opens"} {
				if got := c.Form[field]; !slices.Equal(got, []string{"no"}) {
					t.Errorf("%s = %q, want [no]", field, got)
				}
			}
		})
	}
}

// Without recipient-variables Mailgun would send one email listing every
// recipient in To.
func TestMailgunBatchAlwaysSendsRecipientVariables(t *testing.T) {
	s := mailguntest.New()
	defer s.Close()
	b := &Batch{From: "biuro@example.pl", Subject: "Poradnik", Text: "Treść",
		Recipients: []Recipient{{Address: "a@example.pl"}, {Address: "b@example.pl", Name: "B"}}}
	if _, err := newMailgun(t, s).SendBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	c := onlyCall(t, s)
	if len(c.RecipientVariables) != 2 || c.RecipientVariables["a@example.pl"] == nil || c.RecipientVariables["b@example.pl"] == nil {
		t.Fatalf("recipient-variables = %v (raw %q)", c.RecipientVariables, c.Form.Get("recipient-variables"))
	}
}

func TestMailgunErrors(t *testing.T) {
	retryAt := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		fault      *mailguntest.Fault
		edit       func(*MailgunConfig)
		status     int
		temporary  bool
		message    string
		retryAfter time.Duration
	}{
		{name: "401 wrong key", edit: func(c *MailgunConfig) { c.APIKey = "wrong" }, status: 401, message: "Forbidden"},
		{name: "404 unknown domain", edit: func(c *MailgunConfig) { c.Domain = "other.example.pl" }, status: 404, message: "Domain not found: other.example.pl"},
		{name: "400 with Mailgun's message", fault: ptr(mailguntest.Status(400, "").WithMessage("'to' parameter is not a valid address. please check documentation")),
			status: 400, message: "'to' parameter is not a valid address. please check documentation"},
		{name: "429 Retry-After seconds", fault: ptr(mailguntest.Status(429, "7")), status: 429, temporary: true, retryAfter: 7 * time.Second},
		{name: "429 Retry-After date", fault: ptr(mailguntest.Status(429, retryAt)), status: 429, temporary: true, retryAfter: 2 * time.Minute},
		{name: "500", fault: ptr(mailguntest.Status(500, "")), status: 500, temporary: true},
		{name: "503 Retry-After", fault: ptr(mailguntest.Status(503, "30")), status: 503, temporary: true, retryAfter: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mailguntest.New()
			defer s.Close()
			if tt.fault != nil {
				s.Script(*tt.fault)
			}
			edit := func(*MailgunConfig) {}
			if tt.edit != nil {
				edit = tt.edit
			}
			m := newMailgun(t, s, edit)
			for _, send := range []func() error{
				func() error { _, err := m.Send(context.Background(), polishMessage()); return err },
				func() error { _, err := m.SendBatch(context.Background(), testBatch(2)); return err },
			} {
				if tt.fault != nil {
					s.Script(*tt.fault)
				}
				err := send()
				var se *SendError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v (%T), want *SendError", err, err)
				}
				if se.Status != tt.status || IsTemporary(err) != tt.temporary || IsPermanent(err) == tt.temporary || IsUnknown(err) {
					t.Fatalf("err = %+v", se)
				}
				if tt.message != "" && se.Message != tt.message {
					t.Errorf("Message = %q, want %q", se.Message, tt.message)
				}
				if d := RetryAfter(err) - tt.retryAfter; d < -3*time.Second || d > 3*time.Second {
					t.Errorf("RetryAfter = %v, want %v", RetryAfter(err), tt.retryAfter)
				}
			}
			if got := s.Stats(); got.Accepted != 0 {
				t.Errorf("server accepted %d", got.Accepted)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestMailgunUnknownOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		fault    mailguntest.Fault
		accepted bool
	}{
		{"hang until the client times out", mailguntest.Hang(), true},
		{"accepted, then reset", mailguntest.AcceptThenReset(), true},
		{"read, then reset without accepting", mailguntest.ResetAfterRead(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mailguntest.New()
			defer s.Close()
			s.Script(tt.fault)
			m := newMailgun(t, s, func(c *MailgunConfig) { c.Timeout = 300 * time.Millisecond })
			_, err := m.Send(context.Background(), polishMessage())
			if !IsUnknown(err) || IsTemporary(err) || IsPermanent(err) {
				t.Fatalf("err = %v, want unknown outcome", err)
			}
			if got := s.Recipients()["jan@example.pl"] == 1; got != tt.accepted {
				t.Errorf("accepted by server = %v, want %v", got, tt.accepted)
			}
		})
	}

	t.Run("caller's deadline after the request went out", func(t *testing.T) {
		s := mailguntest.New()
		defer s.Close()
		s.Script(mailguntest.Hang())
		m := newMailgun(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := m.SendBatch(ctx, testBatch(3)); errc <- err }()
		if err := s.WaitCalls(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-errc; !IsUnknown(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// smallBufferClient makes a large body outgrow the socket buffers, so a
// server that hangs up without reading stops the write midway.
func smallBufferClient() *http.Client {
	dialer := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetWriteBuffer(4096)
			}
			return c, err
		},
	}}
}

func TestMailgunNotWrittenIsTemporary(t *testing.T) {
	t.Run("reset before the request was written", func(t *testing.T) {
		s := mailguntest.New()
		defer s.Close()
		s.Script(mailguntest.Reset())
		m := newMailgun(t, s, func(c *MailgunConfig) { c.HTTPClient = smallBufferClient() })
		b := testBatch(MaxRecipients)
		b.HTML = strings.Repeat("<p>Treść poradnika.</p>\n", 100_000) // 2.5 MB
		_, err := m.SendBatch(context.Background(), b)
		if !IsTemporary(err) || IsUnknown(err) {
			t.Fatalf("err = %v, want temporary (request not completely written)", err)
		}
		if got := s.Stats(); got.Accepted != 0 || got.Requests != 1 {
			t.Fatalf("server stats %+v", got)
		}
		// Safe to retry: the next call goes through.
		if _, err := m.SendBatch(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		s := mailguntest.New()
		m := newMailgun(t, s)
		s.Close()
		if _, err := m.Send(context.Background(), polishMessage()); !IsTemporary(err) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("context already canceled", func(t *testing.T) {
		s := mailguntest.New()
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := newMailgun(t, s).Send(ctx, polishMessage()); !IsTemporary(err) {
			t.Fatalf("err = %v", err)
		}
		if s.Stats().Requests != 0 {
			t.Fatal("request sent")
		}
	})
}

func TestMailgunConcurrentSends(t *testing.T) {
	s := mailguntest.New()
	defer s.Close()
	m := newMailgun(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				msg := polishMessage()
				msg.To = fmt.Sprintf("g%di%d@example.pl", g, i)
				if _, err := m.Send(context.Background(), msg); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(s.Recipients()); got != 40 {
		t.Errorf("%d recipients accepted", got)
	}
}

// TestMailgunKeepsConnections: calls in flight together reuse their
// connections afterwards. With http.DefaultTransport's two idle
// connections per host, a burst of four opened two new ones each time.
func TestMailgunKeepsConnections(t *testing.T) {
	const inFlight, rounds = 4, 5
	var (
		mu      sync.Mutex
		waiting int
		release = make(chan struct{})
		dialed  atomic.Int32
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// Answer the calls of a round together, so that all of them hand
		// their connection back at once.
		mu.Lock()
		waiting++
		ch := release
		if waiting == inFlight {
			close(release)
			release, waiting = make(chan struct{}), 0
		}
		mu.Unlock()
		<-ch
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"<1@example.pl>","message":"Queued. Thank you."}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	m, err := NewMailgun(MailgunConfig{Domain: "mg.example.pl", APIKey: "key", APIBase: srv.URL + "/v3", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range inFlight {
			wg.Go(func() {
				msg := polishMessage()
				msg.To = fmt.Sprintf("r%di%d@example.pl", round, i)
				if _, err := m.Send(context.Background(), msg); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if got := dialed.Load(); got != inFlight {
		t.Errorf("%d connections opened for %d rounds of %d calls, want %d", got, rounds, inFlight, inFlight)
	}
}

// countingTransport counts events requests and can drop the server-side
// filters, to prove Accepted filters again itself.
type countingTransport struct {
	pages       atomic.Int32
	dropFilters bool
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/events") {
		c.pages.Add(1)
		if c.dropFilters {
			req = req.Clone(req.Context())
			q := req.URL.Query()
			q.Del("tags")
			q.Del("event")
			req.URL.RawQuery = q.Encode()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestMailgunAccepted(t *testing.T) {
	s := mailguntest.New()
	defer s.Close()
	m := newMailgun(t, s)
	ctx := context.Background()
	start := time.Now()
	var batches []*Batch
	for i := 1; i <= 3; i++ {
		b := testBatch(250 * i)
		b.Recipients = b.Recipients[250*(i-1):]
		b.Variables = map[string]string{"kb-campaign": "7", "kb-batch": fmt.Sprint(i)}
		if _, err := m.SendBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	// Batch 2 again (a resend after an unknown outcome): events twice.
	if _, err := m.SendBatch(ctx, batches[1]); err != nil {
		t.Fatal(err)
	}
	// Same variable, other tag: must not count.
	other := polishMessage()
	other.Variables = map[string]string{"kb-batch": "2"}
	if _, err := m.Send(ctx, other); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range batches[1].Recipients {
		want = append(want, r.Address)
	}
	slices.Sort(want)

	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("server filters dropped=%v", drop), func(t *testing.T) {
			ct := &countingTransport{dropFilters: drop}
			m := newMailgun(t, s, func(c *MailgunConfig) { c.HTTPClient = &http.Client{Transport: ct} })
			got, err := m.Accepted(ctx, AcceptedQuery{Tag: "newsletter", Begin: start.Add(-time.Minute), Variable: "kb-batch", Value: "2"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d recipients, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
			}
			if pages := ct.pages.Load(); pages < 4 {
				t.Errorf("%d events requests: paging not exercised", pages)
			}
		})
	}
	t.Run("end within the last second", func(t *testing.T) {
		// mailgun-go sends whole seconds; the events of the current
		// second must not be lost to truncation.
		got, err := m.Accepted(ctx, AcceptedQuery{Tag: "newsletter", Begin: start.Add(-time.Minute), End: time.Now(), Variable: "kb-batch", Value: "2"})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("got %d recipients, %v", len(got), err)
		}
	})
	t.Run("time window excludes everything", func(t *testing.T) {
		got, err := m.Accepted(ctx, AcceptedQuery{Tag: "newsletter", Begin: time.Now().Add(time.Hour), Variable: "kb-batch", Value: "2"})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		m := newMailgun(t, s, func(c *MailgunConfig) { c.APIKey = "wrong" })
		_, err := m.Accepted(ctx, AcceptedQuery{Variable: "kb-batch", Value: "2"})
		if !IsPermanent(err) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		down := mailguntest.New()
		m := newMailgun(t, down)
		down.Close()
		if _, err := m.Accepted(ctx, AcceptedQuery{Variable: "kb-batch", Value: "2"}); !IsTemporary(err) || IsUnknown(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", 7 * 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSendErrorHelpers(t *testing.T) {
	tests := []struct {
		err                           error
		temporary, unknown, permanent bool
	}{
		{&SendError{Temporary: true}, true, false, false},
		{&SendError{Unknown: true}, false, true, false},
		{&SendError{Temporary: true, Unknown: true}, false, true, false},
		{&SendError{Status: 400}, false, false, true},
		{fmt.Errorf("wrapped: %w", &SendError{Temporary: true, RetryAfter: time.Second}), true, false, false},
		{errors.New("other"), false, false, false},
		{nil, false, false, false},
	}
	for _, tt := range tests {
		if IsTemporary(tt.err) != tt.temporary || IsUnknown(tt.err) != tt.unknown || IsPermanent(tt.err) != tt.permanent {
			t.Errorf("%v: temporary %v unknown %v permanent %v", tt.err, IsTemporary(tt.err), IsUnknown(tt.err), IsPermanent(tt.err))
		}
	}
	if RetryAfter(tests[4].err) != time.Second {
		t.Error("RetryAfter through wrapping")
	}
	e := &SendError{Status: 429, Message: "slow down", RetryAfter: 7 * time.Second, Temporary: true}
	if got := e.Error(); got != "temporary failure: 429 Too Many Requests: slow down (retry after 7s)" {
		t.Errorf("Error() = %q", got)
	}
}
