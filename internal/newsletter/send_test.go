package newsletter

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/emails"
	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
)

func TestRunSendsEveryConfirmedSubscriberOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 2500)
		// Not confirmed: must not be sent to.
		if _, _, err := f.st.Subscribe(t.Context(), store.SignupRequest{Email: "pending@example.com",
			Consent: store.Consent{Version: "1", Source: "/", IP: "192.0.2.1"}}, time.Now()); err != nil {
			t.Fatal(err)
		}
		g := f.guide("zalegla-faktura", 3)
		s := f.sender(nil, f.mailgun(0), nil)

		sum, err := s.Run(t.Context(), []guide.Guide{g}, f.publish)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		calls := f.srv.Calls()
		if len(calls) != 3 {
			t.Fatalf("%d calls, want 3 (1000 + 1000 + 500)", len(calls))
		}
		wantEachOnce(t, f.srv, f.addresses())
		c := f.wantLedgerComplete(t, g.Slug, 2500)
		if c.Sent != 2500 {
			t.Errorf("sent = %d, want 2500", c.Sent)
		}

		batchValues := map[string]bool{}
		for _, call := range calls {
			if call.Status != 200 || !call.Accepted {
				t.Errorf("call answered %d (%s)", call.Status, call.Error)
			}
			if call.From != testFrom && !strings.Contains(call.From, "poradniki@example.pl") {
				t.Errorf("from = %q", call.From)
			}
			if call.Subject != g.Subject() {
				t.Errorf("subject = %q, want %q", call.Subject, g.Subject())
			}
			if got := call.Headers["List-Unsubscribe"]; got != "<%recipient."+emails.VarUnsubscribe+"%>" {
				t.Errorf("h:List-Unsubscribe = %q", got)
			}
			if got := call.Headers["List-Unsubscribe-Post"]; got != "List-Unsubscribe=One-Click" {
				t.Errorf("h:List-Unsubscribe-Post = %q", got)
			}
			if !slices.Equal(call.Tags, []string{g.Slug}) {
				t.Errorf("o:tag = %v, want [%s]", call.Tags, g.Slug)
			}
			if got := call.Variables[VarCampaign]; got != fmt.Sprint(c.ID) {
				t.Errorf("v:%s = %q, want %d", VarCampaign, got, c.ID)
			}
			bv := call.Variables[VarBatch]
			if !strings.HasPrefix(bv, fmt.Sprint(c.ID, "-")) || batchValues[bv] {
				t.Errorf("v:%s = %q: want %d-<seq>, unique per batch", VarBatch, bv, c.ID)
			}
			batchValues[bv] = true
			if !strings.Contains(call.HTML, html.EscapeString(emails.Greeting)) ||
				!strings.Contains(call.Text, emails.Greeting) {
				t.Error("body lacks the greeting")
			}
			for to, vars := range call.RecipientVariables {
				if len(vars) != 2 {
					t.Errorf("%s: recipient variables %v, want only the two links", to, vars)
				}
			}
			if strings.Contains(call.HTML, "Zofia") {
				t.Error("a recipient's name is in the shared body")
			}
			if call.TestMode || !call.DeliveryTime.IsZero() {
				t.Errorf("testmode %v deliverytime %v, want neither", call.TestMode, call.DeliveryTime)
			}
			if len(call.RecipientVariables) != len(call.To) {
				t.Errorf("%d recipient-variables for %d recipients", len(call.RecipientVariables), len(call.To))
			}
			for _, addr := range call.To {
				f.checkVars(t, addr, call.RecipientVariables[addr])
			}
		}

		if len(sum.Campaigns) != 1 {
			t.Fatalf("summary has %d campaigns, want 1", len(sum.Campaigns))
		}
		cs := sum.Campaigns[0]
		if cs.Slug != g.Slug || cs.Recipients != 2500 || cs.Sent != 2500 || cs.Calls != 3 || cs.State != store.CampaignSent || cs.Resumed || cs.Error != "" {
			t.Errorf("summary = %+v", cs)
		}

		// A second run finds nothing to do and makes no call.
		sum, err = s.Run(t.Context(), []guide.Guide{g}, f.publish)
		if err != nil {
			t.Fatalf("second Run: %v", err)
		}
		if len(sum.Campaigns) != 0 || f.srv.Stats().Requests != 3 {
			t.Errorf("second run: %d campaigns, %d requests in all, want 0 and 3", len(sum.Campaigns), f.srv.Stats().Requests)
		}
	})
}

func TestRunRetriesTemporaryFailures(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 2500)
		g := f.guide("vat-2027", 1)
		f.srv.Script(
			mailguntest.Status(429, "7"),
			mailguntest.Status(500, ""),
			mailguntest.Status(503, "1"),
			mailguntest.Reset(),
		)
		var sl sleeps
		s := f.sender(nil, f.mailgun(0), func(o *Options) { o.Concurrency = 1 })
		s.sleep = sl.sleep

		sum, err := s.Run(t.Context(), []guide.Guide{g}, f.publish)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		wantEachOnce(t, f.srv, f.addresses())
		f.wantLedgerComplete(t, g.Slug, 2500)
		if st := f.srv.Stats(); st.Accepted != 3 {
			t.Errorf("%d calls accepted, want 3", st.Accepted)
		}
		if f.srv.PendingFaults() != 0 {
			t.Errorf("%d faults not used", f.srv.PendingFaults())
		}
		// The 429's Retry-After: 7 was honoured (the sleep is recorded, not
		// taken).
		if d := sl.all(); !slices.ContainsFunc(d, func(d time.Duration) bool { return d >= 7*time.Second }) {
			t.Errorf("waits %v: none honours Retry-After: 7", d)
		}
		if got := sum.Calls(); got < 3+4 {
			t.Errorf("summary counts %d calls, want at least 7", got)
		}
	})
}

// TestRunReconcilesUnknownOutcome: a call whose answer never arrives is
// not sent again blindly; the accepted events decide.
func TestRunReconcilesUnknownOutcome(t *testing.T) {
	tests := []struct {
		name         string
		fault        mailguntest.Fault
		wantResolved int  // recipients of the faulty batch learnt from events
		wantAccepted int  // accepted calls in all
		timeout      bool // needs a short client timeout
	}{
		{"hang after accepting", mailguntest.Hang(), 100, 3, true},
		{"accept then reset", mailguntest.AcceptThenReset(), 100, 3, false},
		{"reset after reading, not accepted", mailguntest.ResetAfterRead(), 0, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend) {
				f := newFixture(t, be, 250)
				g := f.guide("kasa-fiskalna", 2)
				f.srv.Script(tt.fault)
				timeout := time.Duration(0)
				if tt.timeout {
					timeout = 300 * time.Millisecond
				}
				s := f.sender(nil, f.mailgun(timeout), func(o *Options) { o.BatchSize = 100; o.Concurrency = 1 })

				if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
					t.Fatalf("Run: %v", err)
				}
				wantEachOnce(t, f.srv, f.addresses())
				c := f.wantLedgerComplete(t, g.Slug, 250)
				if c.Resolved != tt.wantResolved {
					t.Errorf("resolved = %d, want %d", c.Resolved, tt.wantResolved)
				}
				if st := f.srv.Stats(); st.Accepted != tt.wantAccepted {
					t.Errorf("%d calls accepted, want %d", st.Accepted, tt.wantAccepted)
				}
			})
		})
	}
}

func TestRunWaitsForEventsToSettle(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 30)
	g := f.guide("inwentaryzacja", 1)
	f.srv.Script(mailguntest.AcceptThenReset())
	// A clock that moves only when the sender sleeps.
	var (
		mu     sync.Mutex
		offset time.Duration
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	var waits []time.Duration
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.Settle = 10 * time.Minute; o.Now = now; o.BatchSize = 10 })
	s.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		offset += d
		mu.Unlock()
		return ctx.Err()
	}
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantEachOnce(t, f.srv, f.addresses())
	c := f.wantLedgerComplete(t, g.Slug, 30)
	if c.Resolved != 10 {
		t.Errorf("resolved = %d, want 10", c.Resolved)
	}
	if len(waits) != 1 || waits[0] < 9*time.Minute || waits[0] > 10*time.Minute {
		t.Errorf("waits = %v, want one of about 10 minutes", waits)
	}
}

func TestRunPermanentFailureStopsOnlyThatCampaign(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 300)
		first, second := f.guide("pierwszy", 1), f.guide("drugi", 2)
		const refusal = "'to' parameter is not a valid address. please check documentation"
		f.srv.Script(mailguntest.Status(400, "").WithMessage(refusal))
		s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 100; o.Concurrency = 1 })

		sum, err := s.Run(t.Context(), []guide.Guide{second, first}, f.publish)
		if err == nil || !strings.Contains(err.Error(), refusal) {
			t.Fatalf("Run error = %v, want Mailgun's refusal", err)
		}
		c := f.campaign(first.Slug)
		if c.State != store.CampaignFailed || !strings.Contains(c.Error, refusal) {
			t.Errorf("first campaign: %s %q, want failed with Mailgun's message", c.State, c.Error)
		}
		if c.Sent != 0 || c.Failed != 100 {
			t.Errorf("first campaign: sent %d failed %d, want 0 and 100 (only the refused batch)", c.Sent, c.Failed)
		}
		f.wantLedgerComplete(t, second.Slug, 300)
		if got := f.srv.Stats(); got.Accepted != 3 || got.Recipients != 300 {
			t.Errorf("accepted %d calls to %d recipients, want 3 and 300 (the second campaign)", got.Accepted, got.Recipients)
		}
		if len(sum.Campaigns) != 2 || sum.Campaigns[0].Slug != first.Slug || sum.Campaigns[0].Error == "" || sum.Campaigns[1].Error != "" {
			t.Errorf("summary = %+v", sum.Campaigns)
		}

		// The failed campaign is not retried, nor its guide due again.
		before := f.srv.Stats().Requests
		if _, err := s.Run(t.Context(), []guide.Guide{second, first}, f.publish); err != nil {
			t.Fatalf("second Run: %v", err)
		}
		if f.srv.Stats().Requests != before {
			t.Error("second run called Mailgun")
		}
	})
}

// blockingTransport holds the first SendBatch until released.
type blockingTransport struct {
	Transport
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingTransport) SendBatch(ctx context.Context, m *mail.Batch) (string, error) {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.entered)
		<-b.release
	}
	return b.Transport.SendBatch(ctx, m)
}

func TestConcurrentRunsSendOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 1200)
		g := f.guide("dwa-procesy", 1)
		tr := &blockingTransport{Transport: f.mailgun(0), entered: make(chan struct{}), release: make(chan struct{})}
		a := f.sender(be.open(t), tr, func(o *Options) { o.Holder = "host-a:1" })
		b := f.sender(be.open(t), tr, func(o *Options) { o.Holder = "host-b:2" })

		type result struct {
			name string
			sum  Summary
			err  error
		}
		results := make(chan result, 2)
		go func() { s, err := a.Run(t.Context(), []guide.Guide{g}, f.publish); results <- result{"a", s, err} }()
		go func() { s, err := b.Run(t.Context(), []guide.Guide{g}, f.publish); results <- result{"b", s, err} }()

		// Whichever run took the lock is now inside its first call; the
		// other must have given up on the lock.
		<-tr.entered
		loser := <-results
		close(tr.release)
		winner := <-results
		if winner.err != nil {
			t.Fatalf("run %s: %v", winner.name, winner.err)
		}
		if !errors.Is(loser.err, store.ErrLocked) {
			t.Fatalf("run %s: %v, want the lock error", loser.name, loser.err)
		}
		if len(loser.sum.Campaigns) != 0 {
			t.Errorf("losing run reports campaigns: %+v", loser.sum)
		}
		wantEachOnce(t, f.srv, f.addresses())
		f.wantLedgerComplete(t, g.Slug, 1200)
	})
}

func TestLockErrorNamesHolder(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 10)
		g := f.guide("zajety", 1)
		tr := &blockingTransport{Transport: f.mailgun(0), entered: make(chan struct{}), release: make(chan struct{})}
		a := f.sender(be.open(t), tr, func(o *Options) { o.Holder = "biuro-1:4242" })
		done := make(chan error, 1)
		go func() { _, err := a.Run(t.Context(), []guide.Guide{g}, f.publish); done <- err }()
		<-tr.entered // a holds the lock and is sending

		b := f.sender(be.open(t), f.mailgun(0), func(o *Options) { o.Holder = "biuro-2:7" })
		_, err := b.Run(t.Context(), []guide.Guide{g}, f.publish)
		if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "biuro-1:4242") || !strings.Contains(err.Error(), "another kb send") {
			t.Errorf("second run: %v, want a lock error naming biuro-1:4242", err)
		}
		if err := b.Cancel(t.Context(), g.Slug, "x"); !errors.Is(err, store.ErrLocked) {
			t.Errorf("Cancel while a run sends: %v, want the lock error", err)
		}
		close(tr.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		wantEachOnce(t, f.srv, f.addresses())
	})
}

func TestRunSkipsWhoUnsubscribedAfterCreation(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 250)
		g := f.guide("rezygnacja", 1)
		gone := []string{"user00003@example.com", "user00150@example.com", "user00249@example.com"}
		st := &hookStore{Store: f.st, afterCreate: func(ctx context.Context) {
			for _, addr := range gone {
				if _, _, err := f.st.Unsubscribe(ctx, f.subs[addr].id, "test", time.Now()); err != nil {
					t.Error(err)
				}
			}
		}}
		s := f.sender(st, f.mailgun(0), func(o *Options) { o.BatchSize = 100 })
		if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
			t.Fatalf("Run: %v", err)
		}
		var want []string
		for _, addr := range f.addresses() {
			if !slices.Contains(gone, addr) {
				want = append(want, addr)
			}
		}
		wantEachOnce(t, f.srv, want)
		c := f.wantLedgerComplete(t, g.Slug, 250)
		if c.Skipped != 3 || c.Sent != 247 {
			t.Errorf("sent %d skipped %d, want 247 and 3", c.Sent, c.Skipped)
		}
	})
}

// hookStore runs afterCreate once the campaign's recipients are fixed.
type hookStore struct {
	*store.Store
	afterCreate func(ctx context.Context)
}

func (h *hookStore) CreateCampaign(ctx context.Context, spec store.CampaignSpec, now time.Time) (store.Campaign, error) {
	c, err := h.Store.CreateCampaign(ctx, spec, now)
	if err == nil {
		h.afterCreate(ctx)
	}
	return c, err
}

func TestRunEveryoneInBatchUnsubscribed(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 20)
	g := f.guide("pusta-partia", 1)
	st := &hookStore{Store: f.st, afterCreate: func(ctx context.Context) {
		for i := 1; i <= 10; i++ {
			if _, _, err := f.st.Unsubscribe(ctx, f.subs[fmt.Sprintf("user%05d@example.com", i)].id, "test", time.Now()); err != nil {
				t.Error(err)
			}
		}
	}}
	s := f.sender(st, f.mailgun(0), func(o *Options) { o.BatchSize = 10 })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(f.srv.Calls()); n != 1 {
		t.Errorf("%d calls, want 1 (the first batch has nobody left)", n)
	}
	c := f.wantLedgerComplete(t, g.Slug, 20)
	if c.Skipped != 10 || c.Sent != 10 {
		t.Errorf("sent %d skipped %d, want 10 and 10", c.Sent, c.Skipped)
	}
}

func TestRunGivesUpAfterMaxAttemptsAndNextRunContinues(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 150)
		g := f.guide("awaria", 1)
		f.srv.Script(mailguntest.Status(503, ""), mailguntest.Status(503, ""), mailguntest.Status(503, ""))
		s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 100; o.Concurrency = 1; o.MaxAttempts = 3 })

		sum, err := s.Run(t.Context(), []guide.Guide{g}, f.publish)
		if err == nil || !strings.Contains(err.Error(), "next run continues") {
			t.Fatalf("Run error = %v, want batches left for the next run", err)
		}
		c := f.campaign(g.Slug)
		if c.State != store.CampaignSending || c.Sent != 50 {
			t.Errorf("after the first run: %s, sent %d; want sending, 50 (the second batch)", c.State, c.Sent)
		}
		batches, _ := f.st.Batches(t.Context(), c.ID)
		if batches[0].State != store.BatchPending {
			t.Errorf("given-up batch is %s, want pending", batches[0].State)
		}
		if len(sum.Campaigns) != 1 || sum.Campaigns[0].Error == "" {
			t.Errorf("summary = %+v", sum)
		}

		sum, err = s.Run(t.Context(), []guide.Guide{g}, f.publish)
		if err != nil {
			t.Fatalf("second Run: %v", err)
		}
		if len(sum.Campaigns) != 1 || !sum.Campaigns[0].Resumed || sum.Campaigns[0].Calls != 1 {
			t.Errorf("second summary = %+v, want one resumed campaign with one call", sum)
		}
		wantEachOnce(t, f.srv, f.addresses())
		f.wantLedgerComplete(t, g.Slug, 150)
	})
}

func TestRunUnfinishedCampaignWithoutGuide(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 40)
	gone, other := f.guide("wycofany", 1), f.guide("nowy", 2)
	f.srv.Script(mailguntest.Status(503, ""))
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 20; o.Concurrency = 1; o.MaxAttempts = 1 })
	if _, err := s.Run(t.Context(), []guide.Guide{gone}, f.publish); err == nil {
		t.Fatal("first Run succeeded despite the 503")
	}
	// The guide is withdrawn (newsletter: false) before the next run.
	gone.Newsletter = false
	sum, err := s.Run(t.Context(), []guide.Guide{gone, other}, f.publish)
	if err == nil || !errors.Is(err, errNotPublished) {
		t.Fatalf("Run error = %v, want the unfinished campaign reported", err)
	}
	if c := f.campaign(gone.Slug); c.State != store.CampaignSending || c.Sent != 20 {
		t.Errorf("withdrawn campaign: %s, sent %d; want left sending with 20 sent", c.State, c.Sent)
	}
	f.wantLedgerComplete(t, other.Slug, 40)
	if len(sum.Campaigns) != 2 || sum.Campaigns[0].Error == "" {
		t.Errorf("summary = %+v", sum)
	}

	// Cancelling it ends the matter.
	if err := s.Cancel(t.Context(), gone.Slug, "withdrawn by the editor"); err != nil {
		t.Fatal(err)
	}
	if c := f.campaign(gone.Slug); c.State != store.CampaignFailed || !strings.Contains(c.Error, "withdrawn") {
		t.Errorf("cancelled campaign: %s %q", c.State, c.Error)
	}
	if _, err := s.Run(t.Context(), []guide.Guide{gone, other}, f.publish); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// countingLimiter records what it was asked to admit.
type countingLimiter struct {
	mu sync.Mutex
	n  []int
}

func (l *countingLimiter) WaitN(ctx context.Context, n int) error {
	l.mu.Lock()
	l.n = append(l.n, n)
	l.mu.Unlock()
	return ctx.Err()
}

func TestRunConsultsRateLimiter(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 250)
	g := f.guide("limit", 1)
	var lim countingLimiter
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 100; o.Limiter = &lim })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lim.n)
	if !slices.Equal(lim.n, []int{50, 100, 100}) {
		t.Errorf("limiter asked for %v, want [50 100 100] (each batch's size)", lim.n)
	}

	// RatePerHour builds a real limiter whose burst admits a whole batch.
	g2 := f.guide("limit-2", 2)
	s = f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 100; o.RatePerHour = 1_000_000 })
	if s.limiter == nil {
		t.Fatal("RatePerHour set but no limiter")
	}
	if _, err := s.Run(t.Context(), []guide.Guide{g2}, f.publish); err != nil {
		t.Fatal(err)
	}
	f.wantLedgerComplete(t, g2.Slug, 250)
}

func TestRunDeliverAtAndTestMode(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 5)
	g := f.guide("zaplanowany", 1)
	at := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.DeliverAt = at; o.TestMode = true })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	calls := f.srv.Calls()
	if len(calls) != 1 || !calls[0].TestMode || !calls[0].DeliveryTime.Equal(at) {
		t.Fatalf("calls = %d, testmode %v, deliverytime %v; want 1, true, %v", len(calls), calls[0].TestMode, calls[0].DeliveryTime, at)
	}
	if c := f.campaign(g.Slug); !c.TestMode || !c.DeliverAt.Equal(at) {
		t.Errorf("campaign records testmode %v deliver_at %v", c.TestMode, c.DeliverAt)
	}
}

func TestRunCallsInFlightBounded(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 400)
	g := f.guide("rownolegle", 1)
	ct := &concurrencyTransport{Transport: f.mailgun(0)}
	s := f.sender(nil, ct, func(o *Options) { o.BatchSize = 20; o.Concurrency = 3 })
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	if got := ct.peak.Load(); got > 3 || got < 1 {
		t.Errorf("peak calls in flight = %d, want 1..3", got)
	}
	wantEachOnce(t, f.srv, f.addresses())
}

type concurrencyTransport struct {
	Transport
	cur, peak atomic.Int64
}

func (c *concurrencyTransport) SendBatch(ctx context.Context, b *mail.Batch) (string, error) {
	n := c.cur.Add(1)
	defer c.cur.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return c.Transport.SendBatch(ctx, b)
}

func TestOptionsChecked(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 0)
	g := f.guide("opcje", 1)
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no From", func(o *Options) { o.From = "" }, "From"},
		{"bad From", func(o *Options) { o.From = "not an address" }, "From"},
		{"bad ReplyTo", func(o *Options) { o.ReplyTo = "a@b@c" }, "ReplyTo"},
		{"batch too big", func(o *Options) { o.BatchSize = 5000 }, "batch size"},
		{"negative batch", func(o *Options) { o.BatchSize = -1 }, "batch size"},
		{"negative rate", func(o *Options) { o.RatePerHour = -5 }, "rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := f.sender(nil, f.mailgun(0), tt.edit)
			if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one about %s", err, tt.want)
			}
			if _, err := s.Plan(t.Context(), []guide.Guide{g}, f.publish); err == nil {
				t.Error("Plan accepted bad options")
			}
		})
	}
	if n := f.srv.Stats().Requests; n != 0 {
		t.Errorf("%d calls made with bad options", n)
	}
	if _, err := f.st.CampaignBySlug(t.Context(), g.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("campaign created with bad options: %v", err)
	}
}

func TestRunRenderFailureCreatesNoCampaign(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 3)
	bad := f.guide("zly-link", 1)
	bad.Permalink = "/poradniki/zly-link/" // not absolute: the email cannot link it
	good := f.guide("dobry", 2)
	s := f.sender(nil, f.mailgun(0), nil)
	sum, err := s.Run(t.Context(), []guide.Guide{bad, good}, f.publish)
	if err == nil || !strings.Contains(err.Error(), "zly-link") {
		t.Fatalf("Run error = %v, want the render failure", err)
	}
	if _, err := f.st.CampaignBySlug(t.Context(), bad.Slug); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("campaign created for a guide that cannot be rendered: %v", err)
	}
	f.wantLedgerComplete(t, good.Slug, 3)
	if len(sum.Campaigns) != 2 {
		t.Errorf("summary = %+v", sum)
	}
}

// A batch whose last attempt's outcome is unknown and that has no attempts
// left is handed to the next run as it is: reconciled there, not resent.
func TestRunLeavesUnknownBatchToNextRun(t *testing.T) {
	f := newFixture(t, sqliteBackend(t), 30)
	g := f.guide("nieznany", 1)
	f.srv.Script(mailguntest.AcceptThenReset())
	var sl sleeps
	s := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 10; o.Concurrency = 1; o.MaxAttempts = 1; o.Settle = time.Hour })
	s.sleep = sl.sleep
	if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err == nil || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("Run error = %v, want the unknown batch left for the next run", err)
	}
	if d := sl.all(); len(d) != 0 {
		t.Errorf("the run waited %v for a batch it could not send again anyway", d)
	}
	batches, _ := f.st.Batches(t.Context(), f.campaign(g.Slug).ID)
	if batches[0].State != store.BatchUnknown {
		t.Fatalf("batch 0 is %s, want unknown", batches[0].State)
	}
	next := f.sender(nil, f.mailgun(0), func(o *Options) { o.BatchSize = 10 })
	if _, err := next.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
		t.Fatal(err)
	}
	wantEachOnce(t, f.srv, f.addresses())
	if c := f.wantLedgerComplete(t, g.Slug, 30); c.Resolved != 10 {
		t.Errorf("resolved = %d, want 10", c.Resolved)
	}
}
