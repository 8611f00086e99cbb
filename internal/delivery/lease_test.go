package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	kbmail "github.com/kbpress/kb/internal/mail"
	"github.com/kbpress/kb/internal/mailguntest"
	"github.com/kbpress/kb/internal/pgtest"
	"github.com/kbpress/kb/internal/store"
)

// The tests here run in a synctest bubble: the workers' clock, timers and
// leases are fake, and move on only when every goroutine waits, so
// Mailgun can answer in 25 seconds of that clock in no time at all.

// pipeListener is an in-memory network for the fake Mailgun: a goroutine
// blocked on a net.Pipe counts as waiting, which a real socket does not.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// slowMailgun is the Mailgun-compatible server answering every call after
// latency, reached through the real Mailgun client. Call it in the bubble.
func slowMailgun(t *testing.T, latency time.Duration) (*mailguntest.Server, *kbmail.Mailgun) {
	t.Helper()
	l := newPipeListener()
	srv := mailguntest.New(mailguntest.WithListener(l), mailguntest.WithLatency(latency))
	client := &http.Client{Transport: &http.Transport{DialContext: l.dial}}
	t.Cleanup(func() { client.CloseIdleConnections(); srv.Close() })
	mg, err := kbmail.NewMailgun(kbmail.MailgunConfig{Domain: srv.Domain(), APIKey: srv.APIKey(), APIBase: srv.URL(), HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	return srv, mg
}

// inBubble runs fn in a synctest bubble for each database; the
// PostgreSQL database is made outside it (its admin pool is shared).
func inBubble(t *testing.T, fn func(t *testing.T, dsn string)) {
	backends := []struct {
		name string
		dsn  func(*testing.T) string
	}{
		{"sqlite", sqliteDSN},
		{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			dsn := be.dsn(t)
			synctest.Test(t, func(t *testing.T) { fn(t, dsn) })
		})
	}
}

// bubbleFixture is a fixture on the bubble's clock with n queued
// confirmations to r000@example.pl….
func bubbleFixture(t *testing.T, dsn string, n int) *fixture {
	f := newFixture(t, dsn)
	f.clock.now = time.Now()
	for i := range n {
		f.subscribe(t, fmt.Sprintf("r%03d@example.pl", i), false)
	}
	return f
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// settle advances the fake clock until every email is sent and no call is
// in flight (one could still be a second copy), or fails after limit.
func settle(t *testing.T, f *fixture, srv *mailguntest.Server, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		synctest.Wait()
		st, err := f.store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.MailQueued == 0 && st.MailSending == 0 && srv.Stats().Requests == len(srv.Calls()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s of the workers' clock: %+v", limit, st)
		}
		time.Sleep(time.Second) // in the bubble: moves the fake clock on
	}
}

func wantEachOnce(t *testing.T, srv *mailguntest.Server, n int) {
	t.Helper()
	got := srv.Recipients()
	if len(got) != n {
		t.Errorf("%d addresses reached, want %d", len(got), n)
	}
	twice := 0
	for _, c := range got {
		if c != 1 {
			twice++
		}
	}
	if twice > 0 {
		t.Errorf("%d of %d addresses got more than one email (%d calls)", twice, n, len(srv.Calls()))
	}
}

// Two instances share the database and a Mailgun that answers in 25
// seconds: a claim of 256 emails, 32 at a time, takes 200 seconds, longer
// than its 2-minute lease. The lease must follow the work, so that the
// other instance never takes over, and sends again, what is still being
// sent.
func TestMailgunSlowerThanTheLease(t *testing.T) {
	inBubble(t, func(t *testing.T, dsn string) {
		const n = 300 // one full claim, and a small one for the other worker
		f := bubbleFixture(t, dsn, n)
		srv, mg := slowMailgun(t, 25*time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		opts := Options{Logger: slog.New(slog.DiscardHandler)} // default claim, concurrency, lease and timeout
		for i := range 2 {
			opts.Name = fmt.Sprint("instance", i)
			w := New(openStore(t, dsn), mg, f.comp, opts)
			wg.Go(func() { w.Run(ctx) })
		}
		start := time.Now()
		settle(t, f, srv, time.Hour)
		cancel()
		wg.Wait()
		if took, lease := time.Since(start), New(nil, nil, nil, opts).opts.Lease; took <= lease {
			t.Fatalf("sending took %s, not longer than the %s lease: the test does not test the lease", took, lease)
		}
		wantEachOnce(t, srv, n)
	})
}

// renewalFailing is a worker's store that cannot renew leases (its
// database connection is failing, say).
type renewalFailing struct{ *store.Store }

func (renewalFailing) RenewMailLease(context.Context, string, time.Duration, time.Time) ([]int64, error) {
	return nil, errors.New("database unreachable")
}

// A worker that cannot renew its lease stops sending once too little of it
// is left; another sends the rest after the lease ran out, and each email
// goes once.
func TestNoSendWithoutLease(t *testing.T) {
	inBubble(t, func(t *testing.T, dsn string) {
		const n = 6
		f := bubbleFixture(t, dsn, n)
		srv, mg := slowMailgun(t, 25*time.Second)
		opts := Options{Name: "stuck", ClaimSize: n, Concurrency: 1, Logger: slog.New(slog.DiscardHandler)}
		stuck := New(renewalFailing{openStore(t, dsn)}, mg, f.comp, opts)
		if _, err := stuck.Drain(t.Context()); err == nil || !strings.Contains(err.Error(), "database unreachable") {
			t.Fatalf("Drain = %v, want the renewal's error", err)
		}
		// 2 minutes of lease, 30 s per send and 40 s to record it: sends
		// start at 0, 25 and 50 s; the one at 75 s needs a renewal.
		if calls := len(srv.Calls()); calls != 3 {
			t.Fatalf("the worker that cannot renew made %d calls, want 3", calls)
		}
		opts.Name = "healthy"
		if _, err := New(openStore(t, dsn), mg, f.comp, opts).Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute) // the stuck worker's lease runs out
		if _, err := New(openStore(t, dsn), mg, f.comp, opts).Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		settle(t, f, srv, time.Minute)
		wantEachOnce(t, srv, n)
	})
}

// A worker that learns from a renewal that another claim took its emails
// (here one whose clock runs an hour ahead) sends none of them.
func TestLostEmailsAreNotSent(t *testing.T) {
	inBubble(t, func(t *testing.T, dsn string) {
		const n = 6
		f := bubbleFixture(t, dsn, n)
		srv, mg := slowMailgun(t, 25*time.Second)
		w := New(openStore(t, dsn), mg, f.comp, Options{Name: "A", ClaimSize: n, Concurrency: 1, Logger: slog.New(slog.DiscardHandler)})
		done := make(chan error)
		go func() { _, err := w.Drain(t.Context()); done <- err }()
		time.Sleep(30 * time.Second) // A's second send is in flight
		synctest.Wait()
		took, err := openStore(t, dsn).ClaimMail(t.Context(), "ahead", n, time.Hour, time.Now().Add(time.Hour))
		if err != nil || len(took) != n {
			t.Fatalf("the other claim took %d emails (%v), want all %d", len(took), err, n)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if calls := len(srv.Calls()); calls != 2 {
			t.Fatalf("A made %d calls, want 2: none after its renewal found the emails taken", calls)
		}
	})
}
