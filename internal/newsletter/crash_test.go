package newsletter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbpress/kb/internal/guide"
	"github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/store"
	"github.com/kbpress/kb/internal/token"
)

var errCrashed = errors.New("process crashed (simulated)")

// crasher simulates the process dying right after a chosen operation: from
// then on nothing reaches the database or Mailgun, and the run's context
// is cancelled. The operation itself has taken effect.
type crasher struct {
	at     string // "Op#n": crash after the n-th successful Op
	cancel context.CancelFunc

	mu     sync.Mutex
	dead   bool
	counts map[string]int
}

func (c *crasher) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *crasher) trigger() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	c.cancel()
}

// after counts a successful op and reports whether the process dies now.
func (c *crasher) after(op string) bool {
	c.mu.Lock()
	c.counts[op]++
	die := fmt.Sprintf("%s#%d", op, c.counts[op]) == c.at
	c.mu.Unlock()
	if die {
		c.trigger()
	}
	return die
}

// run wraps one store operation.
func (c *crasher) run(op string, fn func() error) error {
	if c.isDead() {
		return errCrashed
	}
	if err := fn(); err != nil {
		return err
	}
	if c.after(op) {
		return errCrashed
	}
	return nil
}

// crashStore is the store of a process that may die. The send lock is not
// wrapped: a dead process's lock goes away with it (its PostgreSQL session
// or its SQLite lock file), which the kill test below exercises for real.
type crashStore struct {
	*store.Store
	c *crasher
}

func (s *crashStore) CreateCampaign(ctx context.Context, spec store.CampaignSpec, now time.Time) (c store.Campaign, err error) {
	err = s.c.run("CreateCampaign", func() (err error) { c, err = s.Store.CreateCampaign(ctx, spec, now); return })
	return
}

func (s *crashStore) Campaign(ctx context.Context, id int64) (c store.Campaign, err error) {
	err = s.c.run("Campaign", func() (err error) { c, err = s.Store.Campaign(ctx, id); return })
	return
}

func (s *crashStore) CampaignBySlug(ctx context.Context, slug string) (c store.Campaign, err error) {
	err = s.c.run("CampaignBySlug", func() (err error) { c, err = s.Store.CampaignBySlug(ctx, slug); return })
	return
}

func (s *crashStore) UnfinishedCampaigns(ctx context.Context) (l []store.Campaign, err error) {
	err = s.c.run("UnfinishedCampaigns", func() (err error) { l, err = s.Store.UnfinishedCampaigns(ctx); return })
	return
}

func (s *crashStore) StartCampaign(ctx context.Context, id int64, now time.Time) error {
	return s.c.run("StartCampaign", func() error { return s.Store.StartCampaign(ctx, id, now) })
}

func (s *crashStore) FinishCampaign(ctx context.Context, id int64, now time.Time) error {
	return s.c.run("FinishCampaign", func() error { return s.Store.FinishCampaign(ctx, id, now) })
}

func (s *crashStore) FailCampaign(ctx context.Context, id int64, msg string, now time.Time) error {
	return s.c.run("FailCampaign", func() error { return s.Store.FailCampaign(ctx, id, msg, now) })
}

func (s *crashStore) Batches(ctx context.Context, id int64) (l []store.Batch, err error) {
	err = s.c.run("Batches", func() (err error) { l, err = s.Store.Batches(ctx, id); return })
	return
}

func (s *crashStore) BatchRecipients(ctx context.Context, id int64) (l []store.Recipient, err error) {
	err = s.c.run("BatchRecipients", func() (err error) { l, err = s.Store.BatchRecipients(ctx, id); return })
	return
}

func (s *crashStore) StartBatch(ctx context.Context, id int64, now time.Time) error {
	return s.c.run("StartBatch", func() error { return s.Store.StartBatch(ctx, id, now) })
}

func (s *crashStore) FinishBatch(ctx context.Context, id int64, msgID string, now time.Time) error {
	return s.c.run("FinishBatch", func() error { return s.Store.FinishBatch(ctx, id, msgID, now) })
}

func (s *crashStore) MarkBatchUnknown(ctx context.Context, id int64, msg string) error {
	return s.c.run("MarkBatchUnknown", func() error { return s.Store.MarkBatchUnknown(ctx, id, msg) })
}

func (s *crashStore) ResolveBatch(ctx context.Context, id int64, accepted []string, now time.Time) (res, rem int, err error) {
	err = s.c.run("ResolveBatch", func() (err error) { res, rem, err = s.Store.ResolveBatch(ctx, id, accepted, now); return })
	return
}

func (s *crashStore) FailBatch(ctx context.Context, id int64, msg string) error {
	return s.c.run("FailBatch", func() error { return s.Store.FailBatch(ctx, id, msg) })
}

func (s *crashStore) Stats(ctx context.Context) (st store.Stats, err error) {
	err = s.c.run("Stats", func() (err error) { st, err = s.Store.Stats(ctx); return })
	return
}

// crashTransport is the transport of a process that may die: after a
// chosen call returns (the answer is lost with the process), or while the
// call whose number is during is in flight.
type crashTransport struct {
	Transport
	c      *crasher
	srv    *mailguntest.Server
	during int
}

func (t *crashTransport) SendBatch(ctx context.Context, b *mail.Batch) (string, error) {
	if t.c.isDead() {
		return "", &mail.SendError{Temporary: true, Err: errCrashed}
	}
	if t.during > 0 {
		go func() {
			if t.srv.WaitCalls(ctx, t.during) == nil {
				t.c.trigger()
			}
		}()
	}
	id, err := t.Transport.SendBatch(ctx, b)
	t.c.after("SendBatch")
	return id, err
}

// TestCrashAnywhereResumesWithoutDuplicateOrGap stops a run at every step
// of the protocol and checks that the next run sends each address exactly
// once in all.
func TestCrashAnywhereResumesWithoutDuplicateOrGap(t *testing.T) {
	none := mailguntest.Fault{}
	tests := []struct {
		name   string
		at     string
		faults []mailguntest.Fault
		during int // crash while this call is in flight (it hangs)
	}{
		{name: "after the campaign is created", at: "CreateCampaign#1"},
		{name: "after the campaign is started", at: "StartCampaign#1"},
		{name: "after the first batch is started, before its call", at: "StartBatch#1"},
		{name: "after the fourth batch is started, before its call", at: "StartBatch#4"},
		{name: "after a batch's recipients are read", at: "BatchRecipients#2"},
		{name: "after the first call returns, before it is recorded", at: "SendBatch#1"},
		{name: "after the third call returns, before it is recorded", at: "SendBatch#3"},
		{name: "after the second batch is recorded", at: "FinishBatch#2"},
		{name: "during the second call", faults: []mailguntest.Fault{none, mailguntest.Hang()}, during: 2},
		{name: "after an unknown outcome is recorded", at: "MarkBatchUnknown#1", faults: []mailguntest.Fault{mailguntest.AcceptThenReset()}},
		{name: "after an unknown batch is reconciled", at: "ResolveBatch#1", faults: []mailguntest.Fault{mailguntest.AcceptThenReset()}},
		{name: "after a 500 is recorded", at: "MarkBatchUnknown#1", faults: []mailguntest.Fault{mailguntest.Status(500, "")}},
		{name: "after a 500 is put back to pending", at: "ResolveBatch#1", faults: []mailguntest.Fault{mailguntest.Status(500, "")}},
		{name: "after the campaign is finished", at: "FinishCampaign#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend) {
				f := newFixture(t, be, 450)
				g := f.guide("awaria-zasilania", 1)
				f.srv.Script(tt.faults...)
				opts := func(o *Options) { o.BatchSize = 100; o.Concurrency = 2 }

				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				c := &crasher{at: tt.at, cancel: cancel, counts: map[string]int{}}
				crashing := f.sender(&crashStore{Store: f.st, c: c},
					&crashTransport{Transport: f.mailgun(0), c: c, srv: f.srv, during: tt.during}, opts)
				if _, err := crashing.Run(ctx, []guide.Guide{g}, f.publish); err == nil {
					t.Fatal("the crashing run succeeded")
				}
				if !c.isDead() {
					t.Fatalf("the run ended without reaching %s (counts %v)", tt.at, c.counts)
				}
				qctx, qcancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer qcancel()
				if err := f.quiesce(qctx); err != nil {
					t.Fatal(err)
				}

				// The next run, by a fresh process.
				next := f.sender(be.open(t), f.mailgun(0), opts)
				sum, err := next.Run(t.Context(), []guide.Guide{g}, f.publish)
				if err != nil {
					t.Fatalf("next Run: %v", err)
				}
				wantEachOnce(t, f.srv, f.addresses())
				f.wantLedgerComplete(t, g.Slug, 450)
				if tt.at == "FinishCampaign#1" && len(sum.Campaigns) != 0 {
					t.Errorf("next run after a finished campaign: %+v", sum)
				}
			})
		})
	}
}

// Child process: `kb send` that the parent kills with SIGKILL mid-send.
const (
	envChild     = "KB_NEWSLETTER_TEST_CHILD"
	envChildDSN  = "KB_NEWSLETTER_TEST_DSN"
	envChildAPI  = "KB_NEWSLETTER_TEST_API"
	envChildPub  = "KB_NEWSLETTER_TEST_PUBLISH"
	envChildSlug = "KB_NEWSLETTER_TEST_SLUG"
)

// childLease is the SQLite lock lease of the child: short, so that the
// parent can take over soon after killing it.
const childLease = time.Second

// runChild is a `kb send` in its own process; TestMain calls it.
func runChild() int {
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(envChildDSN), store.WithLockLease(childLease))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	tr, err := mail.NewMailgun(mail.MailgunConfig{Domain: mailguntest.DefaultDomain, APIKey: mailguntest.DefaultAPIKey,
		APIBase: os.Getenv(envChildAPI), Timeout: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tpl, signer, err := testTemplates()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	g := testGuide(os.Getenv(envChildSlug), 1)
	s := New(st, tr, tpl, token.NewLinks(signer, testBaseURL),
		Options{From: testFrom, BatchSize: 100, Concurrency: 2, Settle: -1, Holder: "child"})
	if _, err := s.Run(ctx, []guide.Guide{g}, os.Getenv(envChildPub)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestKilledProcessResumes(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		f := newFixture(t, be, 650)
		g := f.guide("sigkill", 1)
		// The third call is accepted and never answered: the child is
		// killed while it waits, with other calls possibly in flight.
		none := mailguntest.Fault{}
		f.srv.Script(none, none, mailguntest.Hang())

		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=send", envChildDSN+"="+be.dsn, envChildAPI+"="+f.srv.URL(),
			envChildPub+"="+f.publish, envChildSlug+"="+g.Slug)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := f.srv.WaitCalls(ctx, 3); err != nil {
			cmd.Process.Kill()
			t.Fatalf("%v; child: %s", err, stderr.String())
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if err := f.quiesce(ctx); err != nil {
			t.Fatal(err)
		}

		c := f.campaign(g.Slug)
		if c.State != store.CampaignSending || c.Sent+c.Resolved == 650 {
			t.Fatalf("after the kill: %s with %d sent; want a campaign in the middle of sending", c.State, c.Sent)
		}

		// The next run finds the dead child's lock gone with it: its lock
		// file (SQLite) or its connection (PostgreSQL).
		s := f.sender(be.open(t), f.mailgun(0), func(o *Options) {
			o.BatchSize = 100
			o.LockWait = 20 * childLease
		})
		if _, err := s.Run(t.Context(), []guide.Guide{g}, f.publish); err != nil {
			t.Fatalf("Run after the kill: %v", err)
		}
		wantEachOnce(t, f.srv, f.addresses())
		c = f.wantLedgerComplete(t, g.Slug, 650)
		if c.Resolved < 100 {
			t.Errorf("resolved = %d, want at least the hung batch's 100", c.Resolved)
		}
	})
}

func (s *crashStore) CreateDigest(ctx context.Context, spec store.CampaignSpec, now time.Time) (c store.Campaign, err error) {
	err = s.c.run("CreateDigest", func() (err error) { c, err = s.Store.CreateDigest(ctx, spec, now); return })
	return
}
